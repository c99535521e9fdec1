package imagearchive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth-engine/berth/internal/image/imagearchive"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestReadRejects feeds malformed and hostile archives to Read: each fails
// with one line that says what is wrong, classed so the API answers 400.
func TestReadRejects(t *testing.T) {
	l1 := layerTar(t, map[string]string{"a": "a"})
	cfg := configFor(t, l1)
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	dockerEntry := func(layers ...string) member {
		return manifestJSON(t, map[string]any{"Config": cfgName, "RepoTags": []string{"x:y"}, "Layers": layers})
	}
	ociManifest := func(layer []byte) []byte {
		return mustJSON(t, ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
			Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(layer), Size: int64(len(layer))}},
		})
	}
	indexOf := func(man []byte, mediaType string) member {
		return member{name: "index.json", body: mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, Manifests: []ocispec.Descriptor{
			{MediaType: mediaType, Digest: digest.FromBytes(man), Size: int64(len(man))},
		}})}
	}
	otherLayer := layerTar(t, map[string]string{"b": "b"})
	tampered := blobMember(l1)
	tampered.body = otherLayer[:len(l1)]

	for _, tc := range []struct {
		name    string
		archive []byte
		class   error
		want    string
	}{
		{"not a tar", bytes.Repeat([]byte("not a tar archive "), 100), errdefs.ErrInvalidArgument, "not a tar archive"},
		{"empty", nil, errdefs.ErrInvalidArgument, "empty, not a tar archive"},
		{"no metadata", makeTar(t, member{name: "hello.txt", body: []byte("hi")}), errdefs.ErrInvalidArgument, "neither manifest.json nor index.json"},
		{"dot-dot member", makeTar(t, member{name: "x/../../etc/passwd", body: []byte("root")}), errdefs.ErrInvalidArgument, `"x/../../etc/passwd": path leads out of the archive`},
		{"absolute member", makeTar(t, member{name: "/etc/passwd", body: []byte("root")}), errdefs.ErrInvalidArgument, `"/etc/passwd": absolute path`},
		{"symlink out", makeTar(t, member{name: "l/layer.tar", typ: tar.TypeSymlink, body: []byte("../../../etc/shadow")}), errdefs.ErrInvalidArgument, "leads out of the archive"},
		{"absolute symlink", makeTar(t, member{name: "l/layer.tar", typ: tar.TypeSymlink, body: []byte("/etc/shadow")}), errdefs.ErrInvalidArgument, "symlink to an absolute path"},
		{"hardlink out", makeTar(t, member{name: "l/layer.tar", typ: tar.TypeLink, body: []byte("../etc/shadow")}), errdefs.ErrInvalidArgument, "hard link"},
		{"docker layer missing", makeTar(t, dockerEntry("gone/layer.tar"), member{name: cfgName, body: cfg}), errdefs.ErrInvalidArgument, `"gone/layer.tar" is not in the archive`},
		{"docker config missing", makeTar(t, dockerEntry("l/layer.tar"), member{name: "l/layer.tar", body: l1}), errdefs.ErrInvalidArgument, "config: \"" + cfgName + "\" is not in the archive"},
		{"docker layer path escapes", makeTar(t, dockerEntry("../l/layer.tar"), member{name: cfgName, body: cfg}), errdefs.ErrInvalidArgument, "path leads out of the archive"},
		{"docker symlink loop", makeTar(t, dockerEntry("a"), member{name: cfgName, body: cfg},
			member{name: "a", typ: tar.TypeSymlink, body: []byte("b")}, member{name: "b", typ: tar.TypeSymlink, body: []byte("a")}), errdefs.ErrInvalidArgument, "too many links"},
		{"docker diff_id mismatch", makeTar(t, dockerEntry("l/layer.tar"), member{name: cfgName, body: cfg}, member{name: "l/layer.tar", body: otherLayer}), errdefs.ErrInvalidArgument, "but the config's diff_id is"},
		{"docker layer count", makeTar(t, dockerEntry("l/layer.tar", "l/layer.tar"), member{name: cfgName, body: cfg}, member{name: "l/layer.tar", body: l1}), errdefs.ErrInvalidArgument, "2 layers but config"},
		{"blob digest mismatch", makeTar(t, tampered), errdefs.ErrFailedPrecondition, `member "blobs/sha256/` + digest.FromBytes(l1).Encoded() + `"`},
		{"bad blob name", makeTar(t, member{name: "blobs/sha256/xyz", body: l1}), errdefs.ErrInvalidArgument, "not a blob name"},
		{"oci layer missing", makeTar(t, blobMember(cfg), blobMember(ociManifest(l1)), indexOf(ociManifest(l1), ocispec.MediaTypeImageManifest)), errdefs.ErrInvalidArgument, "layer " + digest.FromBytes(l1).String() + " is not in the archive"},
		{"oci manifest missing", makeTar(t, indexOf(ociManifest(l1), ocispec.MediaTypeImageManifest)), errdefs.ErrInvalidArgument, "manifest " + digest.FromBytes(ociManifest(l1)).String() + " is not in the archive"},
		{"oci diff_id mismatch", makeTar(t, blobMember(cfg), blobMember(otherLayer), blobMember(ociManifest(otherLayer)), indexOf(ociManifest(otherLayer), ocispec.MediaTypeImageManifest)), errdefs.ErrInvalidArgument, "but the config's diff_id is"},
		{"schema1", makeTar(t, blobMember([]byte(`{"schemaVersion":1}`)), indexOf([]byte(`{"schemaVersion":1}`), "application/vnd.docker.distribution.manifest.v1+prettyjws")), errdefs.ErrInvalidArgument, "schema 1 manifests are not supported"},
		{"bad layout version", makeTar(t, member{name: "oci-layout", body: []byte(`{"imageLayoutVersion":"2.0.0"}`)}, indexOf(ociManifest(l1), ocispec.MediaTypeImageManifest)), errdefs.ErrInvalidArgument, "unsupported imageLayoutVersion"},
		{"bad name", makeTar(t, manifestJSON(t, map[string]any{"Config": cfgName, "RepoTags": []string{"UPPER:case"}, "Layers": []string{}})), errdefs.ErrInvalidArgument, `image name "UPPER:case"`},
		{"corrupt tar", makeTar(t, member{name: "a", body: bytes.Repeat([]byte("a"), 2000)})[:1200], nil, "image archive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs, sink := newSink(t)
			images, err := imagearchive.Read(context.Background(), bytes.NewReader(tc.archive), sink)
			if err == nil {
				t.Fatalf("Read accepted it: %+v", images)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q, want one line containing %q", err, tc.want)
			}
			if tc.class != nil && !errors.Is(err, tc.class) {
				t.Errorf("error %q is not %v", err, tc.class)
			}
			if tc.name == "blob digest mismatch" {
				if _, err := cs.Info(context.Background(), digest.FromBytes(l1)); err == nil {
					t.Error("the tampered blob was stored")
				}
			}
		})
	}
}
