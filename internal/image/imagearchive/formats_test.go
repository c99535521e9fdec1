package imagearchive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/image/imagearchive"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// configFor is an image config over the given uncompressed layers.
func configFor(t *testing.T, tars ...[]byte) []byte {
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := ocispec.Image{Created: &created, Platform: ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, RootFS: ocispec.RootFS{Type: "layers"}}
	for _, b := range tars {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(b))
	}
	return mustJSON(t, cfg)
}

func manifestJSON(t *testing.T, entries ...map[string]any) member {
	return member{name: "manifest.json", body: mustJSON(t, entries)}
}

// TestReadDockerCompressedLayers reads a Docker-format archive whose
// manifest.json comes first and whose layers are gzip and zstd files named by
// path, with "./" prefixes as `tar -C dir .` writes them.
func TestReadDockerCompressedLayers(t *testing.T) {
	ctx := context.Background()
	l1 := layerTar(t, map[string]string{"a": "a"})
	l2 := layerTar(t, map[string]string{"b": "b"})
	l3 := layerTar(t, map[string]string{"c": "c"})
	cfg := configFor(t, l1, l2, l3)
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	arch := makeTar(t,
		manifestJSON(t, map[string]any{"Config": cfgName, "RepoTags": []string{"localhost:5000/x:y"}, "Layers": []string{"one/layer.tar", "two/layer.tar.gz", "three/layer.tar.zst"}}),
		member{name: "./" + cfgName, body: cfg},
		member{name: "./one/", typ: tar.TypeDir},
		member{name: "./one/layer.tar", body: l1},
		member{name: "./one/json", body: []byte(`{"id":"one"}`)},
		member{name: "./two/layer.tar.gz", body: compress(t, l2, archive.Gzip)},
		member{name: "./three/layer.tar.zst", body: compress(t, l3, archive.Zstd)},
		member{name: "repositories", body: []byte(`{}`)},
	)
	cs, sink := newSink(t)
	images, err := imagearchive.Read(ctx, bytes.NewReader(compress(t, arch, archive.Gzip)), sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || !slices.Equal(images[0].Names, []string{"localhost:5000/x:y"}) {
		t.Fatalf("images %+v", images)
	}
	m := images[0].Manifests[0]
	wantTypes := []string{ocispec.MediaTypeImageLayer, ocispec.MediaTypeImageLayerGzip, ocispec.MediaTypeImageLayerZstd}
	for i, l := range m.Layers {
		if l.MediaType != wantTypes[i] {
			t.Errorf("layer %d media type %s, want %s", i, l.MediaType, wantTypes[i])
		}
		if _, err := cs.Info(ctx, l.Digest); err != nil {
			t.Errorf("layer %d %s not in the sink", i, l.Digest)
		}
	}
	if m.Config.Digest != digest.FromBytes(cfg) {
		t.Errorf("config %s, want %s", m.Config.Digest, digest.FromBytes(cfg))
	}
	if p := m.Descriptor.Platform; p == nil || p.Architecture != "arm64" || p.Variant != "v8" {
		t.Errorf("platform %+v, want linux/arm64/v8", p)
	}
	// The OCI manifest made for it is in the sink, and names exactly these blobs.
	ra, err := cs.ReaderAt(ctx, images[0].Target.Digest)
	if err != nil {
		t.Fatal(err)
	}
	ra.Close()
}

// TestReadDocker25 reads the layout Docker 25+ saves: an OCI layout with
// manifest.json beside it naming blobs by path, and legacy layer.tar symlinks.
// The image keeps the manifest digest of the OCI index.
func TestReadDocker25(t *testing.T) {
	ctx := context.Background()
	l1 := layerTar(t, map[string]string{"a": "a"})
	cfg := configFor(t, l1)
	cd, ld := digest.FromBytes(cfg), digest.FromBytes(l1)
	man := mustJSON(t, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(cfg))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: ld, Size: int64(len(l1))}},
	})
	md := digest.FromBytes(man)
	index := mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{{
		MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(man)),
		Annotations: map[string]string{ocispec.AnnotationRefName: "latest", imagearchive.AnnotationContainerdImageName: "docker.io/library/busybox:latest"},
	}}})
	arch := makeTar(t,
		blobMember(l1), blobMember(cfg), blobMember(man),
		member{name: "legacyid/layer.tar", typ: tar.TypeSymlink, body: []byte("../blobs/sha256/" + ld.Encoded())},
		member{name: "index.json", body: index},
		manifestJSON(t, map[string]any{"Config": "blobs/sha256/" + cd.Encoded(), "RepoTags": []string{"busybox:latest"}, "Layers": []string{"legacyid/layer.tar"}}),
		member{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
	)
	_, sink := newSink(t)
	images, err := imagearchive.Read(ctx, bytes.NewReader(arch), sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || images[0].Target.Digest != md || !slices.Equal(images[0].Names, []string{"docker.io/library/busybox:latest"}) {
		t.Fatalf("got %+v, want busybox:latest at the index's manifest %s", images, md)
	}
}

// TestReadOCINestedIndex reads a multi-platform image saved with one of its
// two platforms: the target is the index and the missing manifest is skipped.
// Reading the same archive again into the same sink finds everything there.
func TestReadOCINestedIndex(t *testing.T) {
	ctx := context.Background()
	l1 := layerTar(t, map[string]string{"a": "a"})
	gz := compress(t, l1, archive.Gzip)
	cfg := configFor(t, l1)
	man := mustJSON(t, ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(gz), Size: int64(len(gz))}},
	})
	arm := ocispec.Platform{OS: "linux", Architecture: "arm64"}
	inner := mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("absent"), Size: 300, Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(man), Size: int64(len(man)), Platform: &arm},
	}})
	id := digest.FromBytes(inner)
	index := mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageIndex, Digest: id, Size: int64(len(inner)), Annotations: map[string]string{ocispec.AnnotationRefName: "example.com/multi:1"}},
		{MediaType: ocispec.MediaTypeImageIndex, Digest: id, Size: int64(len(inner)), Annotations: map[string]string{ocispec.AnnotationRefName: "1"}},
	}})
	arch := makeTar(t, member{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		blobMember(gz), blobMember(cfg), blobMember(man), blobMember(inner), member{name: "index.json", body: index})
	_, sink := newSink(t)
	for pass := range 2 {
		images, err := imagearchive.Read(ctx, bytes.NewReader(arch), sink)
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if len(images) != 1 || images[0].Target.Digest != id || !slices.Equal(images[0].Names, []string{"example.com/multi:1"}) {
			t.Fatalf("pass %d: got %+v, want one image example.com/multi:1 at index %s", pass, images, id)
		}
		ms := images[0].Manifests
		if len(ms) != 1 || ms[0].Descriptor.Digest != digest.FromBytes(man) || ms[0].Descriptor.Platform.Architecture != "arm64" {
			t.Fatalf("pass %d: manifests %+v, want only the arm64 one", pass, ms)
		}
	}
}
