package imagearchive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// WriteOption changes how an archive is written.
type WriteOption func(*writeOptions)

type writeOptions struct {
	tempDir string
}

// WithTempDir names the directory where WriteDocker decompresses layers
// before writing them (a tar member's size must be known before its bytes).
// The default is os.TempDir().
func WithTempDir(dir string) WriteOption {
	return func(o *writeOptions) { o.tempDir = dir }
}

// epoch is the modification time of every member: archives of the same
// images are the same bytes.
var epoch = time.Unix(0, 0).UTC()

// tarWriter writes members with fixed owners, modes and times.
type tarWriter struct {
	tw   *tar.Writer
	dirs map[string]bool
}

func newTarWriter(w io.Writer) *tarWriter {
	return &tarWriter{tw: tar.NewWriter(w), dirs: map[string]bool{}}
}

func (t *tarWriter) dir(name string) error {
	if t.dirs[name] {
		return nil
	}
	t.dirs[name] = true
	return t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX})
}

func (t *tarWriter) file(name string, size int64, r io.Reader) error {
	if err := t.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if n, err := io.Copy(t.tw, r); err != nil || n != size {
		return fmt.Errorf("write %s: %d of %d bytes: %w", name, n, size, err)
	}
	return nil
}

func (t *tarWriter) bytes(name string, b []byte) error {
	return t.file(name, int64(len(b)), bytes.NewReader(b))
}

// readBlob reads a whole small blob from src.
func readBlob(ctx context.Context, src Source, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	ra, err := src.ReaderAt(ctx, desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", desc.Digest, err)
	}
	defer ra.Close()
	if ra.Size() > limit {
		return nil, fmt.Errorf("read %s: %d bytes, more than %d", desc.Digest, ra.Size(), limit)
	}
	b := make([]byte, ra.Size())
	if n, err := ra.ReadAt(b, 0); n != len(b) {
		return nil, fmt.Errorf("read %s: %w", desc.Digest, err)
	}
	if dgst := desc.Digest.Algorithm().FromBytes(b); dgst != desc.Digest {
		return nil, fmt.Errorf("read %s: content is %s", desc.Digest, dgst)
	}
	return b, nil
}

// dockerImage is one image WriteDocker writes: its config and the chain of its
// layers.
type dockerImage struct {
	config   ocispec.Descriptor
	layers   []ocispec.Descriptor
	diffIDs  []digest.Digest
	repoTags []string
}

// WriteDocker writes images in the format of `docker save`, which `docker
// load` (and skopeo's docker-archive:) reads: a <config hex>.json per image,
// a <chain id hex>/ directory per layer with layer.tar (uncompressed), VERSION
// and json, manifest.json and repositories. Layers shared by several images
// are written once. Each Target must be a single-platform manifest (OCI or
// Docker schema 2); names are written as Docker's RepoTags and must be tags
// (digest references are left out, as docker save does).
func WriteDocker(ctx context.Context, w io.Writer, src Source, images []Named, opts ...WriteOption) error {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	var order []digest.Digest
	byConfig := map[digest.Digest]*dockerImage{}
	for _, n := range images {
		img, err := readDockerImage(ctx, src, n)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		if prev, ok := byConfig[img.config.Digest]; ok {
			prev.repoTags = appendNew(prev.repoTags, img.repoTags...)
			continue
		}
		byConfig[img.config.Digest] = img
		order = append(order, img.config.Digest)
	}

	tw := newTarWriter(w)
	type entry struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	var manifest []entry
	repositories := map[string]map[string]string{}
	written := map[string]bool{}
	for _, cd := range order {
		img := byConfig[cd]
		cb, err := readBlob(ctx, src, img.config, maxConfigSize)
		if err != nil {
			return fmt.Errorf("save: %w", err)
		}
		e := entry{Config: cd.Encoded() + ".json", RepoTags: img.repoTags, Layers: []string{}}
		if err := tw.bytes(e.Config, cb); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		chain := identity.ChainIDs(append([]digest.Digest(nil), img.diffIDs...)) // ChainIDs works in place
		parent := ""
		for i, l := range img.layers {
			id := chain[i].Encoded()
			e.Layers = append(e.Layers, id+"/layer.tar")
			if !written[id] {
				written[id] = true
				if err := writeDockerLayer(ctx, tw, src, l, img.diffIDs[i], id, parent, o); err != nil {
					return fmt.Errorf("save: layer %s: %w", l.Digest, err)
				}
			}
			parent = id
		}
		for _, tag := range img.repoTags {
			if parent == "" {
				break
			}
			named, err := reference.ParseNormalizedNamed(tag)
			if err != nil {
				return fmt.Errorf("save: %w", err)
			}
			repo := reference.FamiliarName(named)
			if repositories[repo] == nil {
				repositories[repo] = map[string]string{}
			}
			repositories[repo][named.(reference.Tagged).Tag()] = parent
		}
		manifest = append(manifest, e)
	}
	mb, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if err := tw.bytes(dockerManifestFile, mb); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if len(repositories) > 0 {
		rb, err := json.Marshal(repositories)
		if err != nil {
			return err
		}
		if err := tw.bytes(repositoriesFile, rb); err != nil {
			return fmt.Errorf("save: %w", err)
		}
	}
	if err := tw.tw.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

func readDockerImage(ctx context.Context, src Source, n Named) (*dockerImage, error) {
	switch n.Target.MediaType {
	case ocispec.MediaTypeImageManifest, MediaTypeDockerManifest:
	case ocispec.MediaTypeImageIndex, MediaTypeDockerManifestList:
		return nil, fmt.Errorf("%s is an index: Docker's format holds one platform; choose its manifest", n.Target.Digest)
	default:
		return nil, fmt.Errorf("%s: unsupported media type %q", n.Target.Digest, n.Target.MediaType)
	}
	mb, err := readBlob(ctx, src, n.Target, maxManifestSize)
	if err != nil {
		return nil, err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", n.Target.Digest, err)
	}
	cb, err := readBlob(ctx, src, m.Config, maxConfigSize)
	if err != nil {
		return nil, err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("manifest %s: %d layers but its config lists %d diff_ids", n.Target.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	img := &dockerImage{config: m.Config, layers: m.Layers, diffIDs: cfg.RootFS.DiffIDs}
	for _, name := range n.Names {
		named, err := reference.ParseNormalizedNamed(name)
		if err != nil {
			return nil, fmt.Errorf("image name %q: %w", name, err)
		}
		if _, ok := named.(reference.Canonical); ok {
			continue
		}
		img.repoTags = appendNew(img.repoTags, reference.FamiliarString(reference.TagNameOnly(named)))
	}
	return img, nil
}

// writeDockerLayer writes <id>/VERSION, <id>/json and <id>/layer.tar, the
// layer uncompressed and checked against its diff_id.
func writeDockerLayer(ctx context.Context, tw *tarWriter, src Source, l ocispec.Descriptor, diffID digest.Digest, id, parent string, o writeOptions) error {
	if err := tw.dir(id); err != nil {
		return err
	}
	if err := tw.bytes(id+"/VERSION", []byte("1.0")); err != nil {
		return err
	}
	legacy := map[string]any{"id": id, "created": "1970-01-01T00:00:00Z", "container_config": map[string]any{}}
	if parent != "" {
		legacy["parent"] = parent
	}
	jb, err := json.Marshal(legacy)
	if err != nil {
		return err
	}
	if err := tw.bytes(id+"/json", jb); err != nil {
		return err
	}
	ra, err := src.ReaderAt(ctx, l.Digest)
	if err != nil {
		return err
	}
	defer ra.Close()
	head := make([]byte, 4)
	n, _ := ra.ReadAt(head, 0)
	if archive.DetectCompression(head[:n]) == archive.Uncompressed {
		if l.Digest != diffID {
			return fmt.Errorf("uncompressed layer %s differs from its diff_id %s", l.Digest, diffID)
		}
		return tw.file(path.Join(id, "layer.tar"), ra.Size(), io.NewSectionReader(ra, 0, ra.Size()))
	}
	tmp, err := os.CreateTemp(o.tempDir, "berth-save-layer-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	dr, _, err := archive.Decompress(io.NewSectionReader(ra, 0, ra.Size()))
	if err != nil {
		return err
	}
	dg := digest.SHA256.Digester()
	size, err := io.Copy(io.MultiWriter(tmp, dg.Hash()), dr)
	dr.Close()
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	if dg.Digest() != diffID {
		return fmt.Errorf("uncompressed content is %s, not its diff_id %s", dg.Digest(), diffID)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return tw.file(path.Join(id, "layer.tar"), size, tmp)
}

// WriteOCI writes images as an OCI image layout in a tar, which skopeo's
// oci-archive:, podman load and docker load (25+) read: oci-layout,
// blobs/<alg>/<hex> for every blob once, and index.json with one entry per
// name, annotated with the full reference as both
// org.opencontainers.image.ref.name and io.containerd.image.name (an unnamed
// image gets one entry without annotations; a digest reference is kept only
// when it is Target's digest). A Target may be an index; its
// manifests missing from src (platforms never pulled) are left out, the
// index itself kept as it is.
func WriteOCI(ctx context.Context, w io.Writer, src Source, images []Named) error {
	tw := newTarWriter(w)
	if err := tw.bytes(ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"`+ocispec.ImageLayoutVersion+`"}`)); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	ow := &ociWriter{tw: tw, src: src, written: map[digest.Digest]bool{}}
	index := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	for _, n := range images {
		if err := ow.target(ctx, n.Target, true, 0); err != nil {
			return fmt.Errorf("save: %w", err)
		}
		desc := ocispec.Descriptor{MediaType: n.Target.MediaType, Digest: n.Target.Digest, Size: n.Target.Size, Platform: n.Target.Platform}
		var done []string
		for _, name := range n.Names {
			full, err := normalize(name)
			if err != nil {
				return fmt.Errorf("save: %w", err)
			}
			if i := strings.LastIndex(full, "@"); i >= 0 && full[i+1:] != n.Target.Digest.String() {
				continue // a digest reference to something else (an index above Target)
			}
			if slices.Contains(done, full) {
				continue
			}
			done = append(done, full)
			d := desc
			d.Annotations = map[string]string{ocispec.AnnotationRefName: full, AnnotationContainerdImageName: full}
			index.Manifests = append(index.Manifests, d)
		}
		if len(done) == 0 {
			index.Manifests = append(index.Manifests, desc)
		}
	}
	ib, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := tw.bytes(ocispec.ImageIndexFile, ib); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if err := tw.tw.Close(); err != nil {
		return fmt.Errorf("save: %w", err)
	}
	return nil
}

type ociWriter struct {
	tw      *tarWriter
	src     Source
	written map[digest.Digest]bool
}

// target writes a manifest or index and every blob below it that src holds.
// required says whether a missing blob is an error.
func (ow *ociWriter) target(ctx context.Context, desc ocispec.Descriptor, required bool, depth int) error {
	if depth > maxIndexDepth {
		return fmt.Errorf("index %s: nested more than %d deep", desc.Digest, maxIndexDepth)
	}
	b, err := readBlob(ctx, ow.src, desc, maxManifestSize)
	if err != nil {
		if !required && errdefs.IsNotFound(err) {
			return nil
		}
		return err
	}
	switch desc.MediaType {
	case ocispec.MediaTypeImageIndex, MediaTypeDockerManifestList:
		var index ocispec.Index
		if err := json.Unmarshal(b, &index); err != nil {
			return fmt.Errorf("index %s: %w", desc.Digest, err)
		}
		for _, child := range index.Manifests {
			if err := ow.target(ctx, child, false, depth+1); err != nil {
				return fmt.Errorf("index %s: %w", desc.Digest, err)
			}
		}
	case ocispec.MediaTypeImageManifest, MediaTypeDockerManifest:
		var m ocispec.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		if err := ow.blob(ctx, m.Config); err != nil {
			return fmt.Errorf("manifest %s: %w", desc.Digest, err)
		}
		for _, l := range m.Layers {
			if nonDistributable(l.MediaType) {
				continue
			}
			if err := ow.blob(ctx, l); err != nil {
				return fmt.Errorf("manifest %s: %w", desc.Digest, err)
			}
		}
	default:
		return fmt.Errorf("%s: unsupported media type %q", desc.Digest, desc.MediaType)
	}
	return ow.bytes(desc.Digest, b)
}

func (ow *ociWriter) name(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", err
	}
	dir := path.Join(ocispec.ImageBlobsDir, d.Algorithm().String())
	if err := ow.tw.dir(ocispec.ImageBlobsDir); err != nil {
		return "", err
	}
	return path.Join(dir, d.Encoded()), ow.tw.dir(dir)
}

func (ow *ociWriter) bytes(d digest.Digest, b []byte) error {
	if ow.written[d] {
		return nil
	}
	name, err := ow.name(d)
	if err != nil {
		return err
	}
	ow.written[d] = true
	return ow.tw.bytes(name, b)
}

func (ow *ociWriter) blob(ctx context.Context, desc ocispec.Descriptor) error {
	if ow.written[desc.Digest] {
		return nil
	}
	name, err := ow.name(desc.Digest)
	if err != nil {
		return err
	}
	ra, err := ow.src.ReaderAt(ctx, desc.Digest)
	if err != nil {
		return fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	defer ra.Close()
	if desc.Size > 0 && ra.Size() != desc.Size {
		return fmt.Errorf("blob %s: %d bytes, %d expected", desc.Digest, ra.Size(), desc.Size)
	}
	ow.written[desc.Digest] = true
	return ow.tw.file(name, ra.Size(), io.NewSectionReader(ra, 0, ra.Size()))
}
