package imagearchive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	maxManifestSize = 4 << 20  // what registries accept for a manifest
	maxConfigSize   = 16 << 20 // configs with long histories run to a few MB
	maxIndexDepth   = 8
)

// blobSet tells whether a blob is available in the sink, bringing it there
// first where the layout allows random access.
type blobSet interface {
	has(ctx context.Context, desc ocispec.Descriptor) (bool, error)
}

// resolver turns an archive's metadata into Images, reading manifests and
// configs back from the sink.
type resolver struct {
	sink  Sink
	blobs blobSet
}

func (res *resolver) resolve(ctx context.Context, meta map[string][]byte, lookup func(string) (blob, error)) ([]Image, error) {
	if b, ok := meta[ocispec.ImageLayoutFile]; ok {
		var layout ocispec.ImageLayout
		if err := json.Unmarshal(b, &layout); err != nil {
			return nil, invalid("oci-layout: %v", err)
		}
		if !strings.HasPrefix(layout.Version, "1.") {
			return nil, invalid("oci-layout: unsupported imageLayoutVersion %q", layout.Version)
		}
	}
	if b, ok := meta[dockerManifestFile]; ok && lookup != nil {
		return res.docker(ctx, b, meta[ocispec.ImageIndexFile], lookup)
	}
	if b, ok := meta[ocispec.ImageIndexFile]; ok {
		return res.oci(ctx, b)
	}
	return nil, invalid("neither manifest.json nor index.json: not an image archive")
}

// oci reads the images an OCI index.json lists. Entries naming the same
// target are one image with several names.
func (res *resolver) oci(ctx context.Context, indexJSON []byte) ([]Image, error) {
	var index ocispec.Index
	if err := json.Unmarshal(indexJSON, &index); err != nil {
		return nil, invalid("index.json: %v", err)
	}
	if index.SchemaVersion != 2 {
		return nil, invalid("index.json: schemaVersion %d, want 2", index.SchemaVersion)
	}
	var images []Image
	byTarget := map[digest.Digest]int{}
	for _, desc := range index.Manifests {
		names, err := annotatedNames(desc.Annotations)
		if err != nil {
			return nil, fmt.Errorf("index.json: %w", err)
		}
		if i, ok := byTarget[desc.Digest]; ok {
			images[i].Names = appendNew(images[i].Names, names...)
			continue
		}
		target, manifests, err := res.target(ctx, desc, 0)
		if err != nil {
			return nil, fmt.Errorf("index.json: %w", err)
		}
		target.Annotations = nil
		byTarget[desc.Digest] = len(images)
		images = append(images, Image{Names: names, Target: target, Manifests: manifests})
	}
	return images, nil
}

// annotatedNames reads an index.json entry's names: containerd's full
// reference, and ref.name when it is a reference rather than a bare tag.
func annotatedNames(ann map[string]string) ([]string, error) {
	var names []string
	for _, key := range []string{AnnotationContainerdImageName, ocispec.AnnotationRefName} {
		v := ann[key]
		if v == "" || (key == ocispec.AnnotationRefName && !strings.ContainsAny(v, ":/@")) {
			continue
		}
		n, err := normalize(v)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", key, err)
		}
		names = appendNew(names, n)
	}
	return names, nil
}

// normalize turns a reference as users write it into its full form, with
// "latest" when it has neither tag nor digest.
func normalize(s string) (string, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", invalid("image name %q: %v", s, err)
	}
	return reference.TagNameOnly(named).String(), nil
}

func appendNew(list []string, items ...string) []string {
	for _, s := range items {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

// target resolves a descriptor to the manifests the archive holds below it.
func (res *resolver) target(ctx context.Context, desc ocispec.Descriptor, depth int) (ocispec.Descriptor, []Manifest, error) {
	if err := desc.Digest.Validate(); err != nil {
		return desc, nil, invalid("descriptor %q: %v", desc.Digest, err)
	}
	ok, err := res.blobs.has(ctx, desc)
	if err != nil {
		return desc, nil, err
	}
	if !ok {
		return desc, nil, invalid("%s %s is not in the archive", kind(desc.MediaType), desc.Digest)
	}
	b, err := res.read(ctx, desc, maxManifestSize)
	if err != nil {
		return desc, nil, err
	}
	mt := desc.MediaType
	if mt == "" {
		mt = sniffMediaType(b)
		desc.MediaType = mt
	}
	switch mt {
	case ocispec.MediaTypeImageManifest, MediaTypeDockerManifest:
		m, err := res.manifest(ctx, desc, b)
		if err != nil {
			return desc, nil, err
		}
		return desc, []Manifest{m}, nil
	case ocispec.MediaTypeImageIndex, MediaTypeDockerManifestList:
		if depth >= maxIndexDepth {
			return desc, nil, invalid("index %s: nested more than %d deep", desc.Digest, maxIndexDepth)
		}
		var index ocispec.Index
		if err := json.Unmarshal(b, &index); err != nil {
			return desc, nil, invalid("index %s: %v", desc.Digest, err)
		}
		var all []Manifest
		for _, child := range index.Manifests {
			if err := child.Digest.Validate(); err != nil {
				return desc, nil, invalid("index %s: %v", desc.Digest, err)
			}
			ok, err := res.blobs.has(ctx, child)
			if err != nil {
				return desc, nil, err
			}
			if !ok {
				continue // a platform the archive was saved without
			}
			_, ms, err := res.target(ctx, child, depth+1)
			if err != nil {
				return desc, nil, fmt.Errorf("index %s: %w", desc.Digest, err)
			}
			all = append(all, ms...)
		}
		if len(all) == 0 {
			return desc, nil, invalid("index %s: none of its %d manifests is in the archive", desc.Digest, len(index.Manifests))
		}
		return desc, all, nil
	case mediaTypeSchema1, mediaTypeSchema1Signed:
		return desc, nil, invalid("manifest %s: Docker schema 1 manifests are not supported", desc.Digest)
	}
	return desc, nil, invalid("%s: unsupported media type %q", desc.Digest, mt)
}

func kind(mediaType string) string {
	switch mediaType {
	case ocispec.MediaTypeImageIndex, MediaTypeDockerManifestList:
		return "index"
	}
	return "manifest"
}

func sniffMediaType(b []byte) string {
	var probe struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     json.RawMessage   `json:"manifests"`
		Layers        json.RawMessage   `json:"layers"`
		FSLayers      []json.RawMessage `json:"fsLayers"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return ""
	}
	switch {
	case probe.MediaType != "":
		return probe.MediaType
	case probe.SchemaVersion == 1 || probe.FSLayers != nil:
		return mediaTypeSchema1
	case probe.Manifests != nil:
		return ocispec.MediaTypeImageIndex
	case probe.Layers != nil:
		return ocispec.MediaTypeImageManifest
	}
	return ""
}

// manifest checks that a manifest's config and layers are all here and agree.
func (res *resolver) manifest(ctx context.Context, desc ocispec.Descriptor, b []byte) (Manifest, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, invalid("manifest %s: %v", desc.Digest, err)
	}
	switch m.Config.MediaType {
	case ocispec.MediaTypeImageConfig, MediaTypeDockerConfig:
	default:
		return Manifest{}, invalid("manifest %s: config media type %q is not an image's", desc.Digest, m.Config.MediaType)
	}
	cfg, err := res.config(ctx, m.Config)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if n := len(cfg.RootFS.DiffIDs); n != len(m.Layers) {
		return Manifest{}, invalid("manifest %s: %d layers but the config lists %d diff_ids", desc.Digest, len(m.Layers), n)
	}
	for i, l := range m.Layers {
		if err := l.Digest.Validate(); err != nil {
			return Manifest{}, invalid("manifest %s: layer %d: %v", desc.Digest, i, err)
		}
		ok, err := res.blobs.has(ctx, l)
		if err != nil {
			return Manifest{}, fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		if !ok {
			if nonDistributable(l.MediaType) {
				continue
			}
			return Manifest{}, invalid("manifest %s: layer %s is not in the archive", desc.Digest, l.Digest)
		}
		if uncompressed(l.MediaType) && l.Digest != cfg.RootFS.DiffIDs[i] {
			return Manifest{}, invalid("manifest %s: layer %d is %s but the config's diff_id is %s", desc.Digest, i, l.Digest, cfg.RootFS.DiffIDs[i])
		}
	}
	if desc.Platform == nil {
		desc.Platform = platformOf(cfg)
	}
	desc.Annotations = nil
	return Manifest{Descriptor: desc, Config: m.Config, Layers: m.Layers}, nil
}

func nonDistributable(mt string) bool {
	return mt == MediaTypeDockerForeignLayer || strings.Contains(mt, ".nondistributable.")
}

func uncompressed(mt string) bool {
	return mt == ocispec.MediaTypeImageLayer || mt == MediaTypeDockerLayer
}

func platformOf(cfg ocispec.Image) *ocispec.Platform {
	if cfg.OS == "" && cfg.Architecture == "" {
		return nil
	}
	return &ocispec.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant, OSVersion: cfg.OSVersion}
}

// config reads and parses an image config the sink holds.
func (res *resolver) config(ctx context.Context, desc ocispec.Descriptor) (ocispec.Image, error) {
	ok, err := res.blobs.has(ctx, desc)
	if err != nil {
		return ocispec.Image{}, err
	}
	if !ok {
		return ocispec.Image{}, invalid("config %s is not in the archive", desc.Digest)
	}
	b, err := res.read(ctx, desc, maxConfigSize)
	if err != nil {
		return ocispec.Image{}, err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(b, &cfg); err != nil {
		return ocispec.Image{}, invalid("config %s: %v", desc.Digest, err)
	}
	if cfg.RootFS.Type != "layers" {
		return ocispec.Image{}, invalid("config %s: rootfs type %q, want \"layers\"", desc.Digest, cfg.RootFS.Type)
	}
	return cfg, nil
}

// read reads a whole (small) blob back from the sink.
func (res *resolver) read(ctx context.Context, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	ra, err := res.sink.ReaderAt(ctx, desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", desc.Digest, err)
	}
	defer ra.Close()
	if ra.Size() > limit {
		return nil, invalid("%s: %d bytes, more than %d for metadata", desc.Digest, ra.Size(), limit)
	}
	b := make([]byte, ra.Size())
	if n, err := ra.ReadAt(b, 0); n != len(b) {
		return nil, fmt.Errorf("read %s: %w", desc.Digest, err)
	}
	return b, nil
}

// dockerEntry is one image in Docker's manifest.json.
type dockerEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// docker reads the images Docker's manifest.json lists, making an OCI
// manifest for each. When the archive also carries an OCI index (Docker 25+)
// holding a manifest with the same config and layers, that manifest is used
// instead, so the image keeps its digest.
func (res *resolver) docker(ctx context.Context, manifestJSON, indexJSON []byte, lookup func(string) (blob, error)) ([]Image, error) {
	var entries []dockerEntry
	if err := json.Unmarshal(manifestJSON, &entries); err != nil {
		return nil, invalid("manifest.json: %v", err)
	}
	if len(entries) == 0 && indexJSON != nil {
		return res.oci(ctx, indexJSON)
	}
	var known []Manifest
	if indexJSON != nil {
		if images, err := res.oci(ctx, indexJSON); err == nil {
			for _, img := range images {
				known = append(known, img.Manifests...)
			}
		}
	}
	var images []Image
	byTarget := map[digest.Digest]int{}
	for i, e := range entries {
		img, err := res.dockerImage(ctx, e, lookup, known)
		if err != nil {
			return nil, fmt.Errorf("manifest.json entry %d: %w", i, err)
		}
		if j, ok := byTarget[img.Target.Digest]; ok {
			images[j].Names = appendNew(images[j].Names, img.Names...)
			continue
		}
		byTarget[img.Target.Digest] = len(images)
		images = append(images, img)
	}
	if len(images) == 0 {
		return nil, invalid("manifest.json lists no image")
	}
	return images, nil
}

func (res *resolver) dockerImage(ctx context.Context, e dockerEntry, lookup func(string) (blob, error), known []Manifest) (Image, error) {
	var img Image
	for _, tag := range e.RepoTags {
		n, err := normalize(tag)
		if err != nil {
			return img, err
		}
		img.Names = appendNew(img.Names, n)
	}
	cb, err := lookup(e.Config)
	if err != nil {
		return img, fmt.Errorf("config: %w", err)
	}
	cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cb.digest, Size: cb.size}
	cfg, err := res.config(ctx, cdesc)
	if err != nil {
		return img, err
	}
	if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
		return img, invalid("%d layers but config %s lists %d diff_ids", len(e.Layers), cb.digest, len(cfg.RootFS.DiffIDs))
	}
	layers := make([]ocispec.Descriptor, len(e.Layers))
	for i, name := range e.Layers {
		lb, err := lookup(name)
		if err != nil {
			return img, fmt.Errorf("layer: %w", err)
		}
		mt, diffID, err := res.layerDiffID(ctx, lb)
		if err != nil {
			return img, fmt.Errorf("layer %q: %w", name, err)
		}
		if diffID != cfg.RootFS.DiffIDs[i] {
			return img, invalid("layer %q: content is %s but the config's diff_id is %s", name, diffID, cfg.RootFS.DiffIDs[i])
		}
		layers[i] = ocispec.Descriptor{MediaType: mt, Digest: lb.digest, Size: lb.size}
	}
	for _, m := range known {
		if m.Config.Digest == cdesc.Digest && sameBlobs(m.Layers, layers) {
			img.Target, img.Manifests = m.Descriptor, []Manifest{m}
			return img, nil
		}
	}
	manifest := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cdesc,
		Layers:    layers,
	}
	b, err := json.Marshal(manifest)
	if err != nil {
		return img, err
	}
	mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if _, err := res.sink.Ingest(ctx, mdesc, bytes.NewReader(b)); err != nil {
		return img, fmt.Errorf("store manifest: %w", err)
	}
	m := Manifest{Descriptor: mdesc, Config: cdesc, Layers: layers}
	m.Descriptor.Platform = platformOf(cfg)
	img.Target, img.Manifests = mdesc, []Manifest{m}
	return img, nil
}

func sameBlobs(a, b []ocispec.Descriptor) bool {
	return slices.EqualFunc(a, b, func(x, y ocispec.Descriptor) bool { return x.Digest == y.Digest })
}

// layerDiffID tells a Docker-format layer's compression, as an OCI media
// type, and the digest of its uncompressed tar (decompressing it from the
// sink when it is compressed).
func (res *resolver) layerDiffID(ctx context.Context, b blob) (string, digest.Digest, error) {
	ra, err := res.sink.ReaderAt(ctx, b.digest)
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", b.digest, err)
	}
	defer ra.Close()
	head := make([]byte, 4)
	n, _ := ra.ReadAt(head, 0)
	c := archive.DetectCompression(head[:n])
	if c == archive.Uncompressed {
		return ocispec.MediaTypeImageLayer, b.digest, nil
	}
	dr, _, err := archive.Decompress(io.NewSectionReader(ra, 0, ra.Size()))
	if err != nil {
		return "", "", invalid("%v", err)
	}
	defer dr.Close()
	dg := digest.SHA256.Digester()
	if _, err := io.Copy(dg.Hash(), dr); err != nil {
		return "", "", invalid("decompress %s: %v", c, err)
	}
	mt := ocispec.MediaTypeImageLayerGzip
	if c == archive.Zstd {
		mt = ocispec.MediaTypeImageLayerZstd
	}
	return mt, dg.Digest(), nil
}
