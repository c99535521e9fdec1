package imagearchive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/image/imagearchive"
	digest "github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newStore(t testing.TB) *content.Store {
	t.Helper()
	cs, err := content.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func newSink(t testing.TB) (*content.Store, imagearchive.Sink) {
	cs := newStore(t)
	return cs, imagearchive.NewContentSink(cs, "test-load-")
}

// layerTar makes an uncompressed layer holding the given files.
func layerTar(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range sortedKeys(files) {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t testing.TB, b []byte, c archive.Compression) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := archive.Compress(&buf, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func put(t testing.TB, cs *content.Store, mediaType string, b []byte) ocispec.Descriptor {
	t.Helper()
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := content.WriteBlob(context.Background(), cs, "test-"+desc.Digest.String(), bytes.NewReader(b), desc); err != nil {
		t.Fatal(err)
	}
	return desc
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// layer is one layer of a test image: its uncompressed tar and how it is
// stored.
type layer struct {
	tar []byte
	c   archive.Compression
}

// makeImage stores a single-platform OCI image built of layers in cs and
// returns its manifest's descriptor. cmd makes configs differ.
func makeImage(t testing.TB, cs *content.Store, cmd string, layers ...layer) ocispec.Descriptor {
	t.Helper()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{OS: "linux", Architecture: "amd64"},
		Config:   ocispec.ImageConfig{Cmd: []string{cmd}},
		RootFS:   ocispec.RootFS{Type: "layers"},
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, digest.FromBytes(l.tar))
		mt := map[archive.Compression]string{
			archive.Uncompressed: ocispec.MediaTypeImageLayer,
			archive.Gzip:         ocispec.MediaTypeImageLayerGzip,
			archive.Zstd:         ocispec.MediaTypeImageLayerZstd,
		}[l.c]
		b := l.tar
		if l.c != archive.Uncompressed {
			b = compress(t, l.tar, l.c)
		}
		m.Layers = append(m.Layers, put(t, cs, mt, b))
	}
	m.Config = put(t, cs, ocispec.MediaTypeImageConfig, mustJSON(t, cfg))
	return put(t, cs, ocispec.MediaTypeImageManifest, mustJSON(t, m))
}

// member is one entry of a tar listing.
type member struct {
	name string
	typ  byte
	body []byte
}

func listTar(t testing.TB, b []byte) []member {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []member
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, member{hdr.Name, hdr.Typeflag, body})
	}
}

// makeTar builds an archive from members in order; typ 0 is a regular file,
// and a symlink's or hardlink's body is its target.
func makeTar(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		hdr := &tar.Header{Name: m.name, Mode: 0o644, Typeflag: m.typ}
		switch m.typ {
		case 0:
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(m.body))
		case tar.TypeSymlink, tar.TypeLink:
			hdr.Linkname = string(m.body)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			tw.Write(m.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func blobMember(b []byte) member {
	d := digest.FromBytes(b)
	return member{name: "blobs/sha256/" + d.Encoded(), body: b}
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func readConfig(t testing.TB, p imagearchive.Source, d ocispec.Descriptor) ocispec.Image {
	t.Helper()
	ra, err := p.ReaderAt(context.Background(), d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	b, _ := io.ReadAll(io.NewSectionReader(ra, 0, ra.Size()))
	var cfg ocispec.Image
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
