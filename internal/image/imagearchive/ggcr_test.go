package imagearchive_test

// Interop with go-containerregistry, an independent implementation of both
// formats: it reads what the writers make, and the Reader reads what it makes.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-engine/berth/internal/image/imagearchive"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// checkGGCRImage reads every layer of img both ways and checks its digests
// and diff_ids against what the config says.
func checkGGCRImage(t *testing.T, img v1.Image, wantConfig digest.Digest) {
	t.Helper()
	cn, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if cn.String() != wantConfig.String() {
		t.Errorf("config %s, want %s", cn, wantConfig)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		t.Fatalf("%d layers, %d diff_ids", len(layers), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		d, err := digest.FromReader(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != cfg.RootFS.DiffIDs[i].String() {
			t.Errorf("layer %d uncompresses to %s, config says %s", i, d, cfg.RootFS.DiffIDs[i])
		}
	}
}

func TestGGCRReadsWriteDocker(t *testing.T) {
	ctx := context.Background()
	src, images, _ := twoImages(t)
	file := filepath.Join(t.TempDir(), "save.tar")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := imagearchive.WriteDocker(ctx, f, src, images); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i, tagName := range []string{"app1:latest", "example.com/team/app1:v1", "app2:latest"} {
		tag, err := name.NewTag(tagName)
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(file, &tag)
		if err != nil {
			t.Fatalf("go-containerregistry cannot read %s: %v", tagName, err)
		}
		checkGGCRImage(t, img, configOf(t, src, images[[]int{0, 0, 1}[i]].Target).Digest)
	}
}

// TestGGCRParsesWriteOCI checks the OCI layout with go-containerregistry's
// parsers: index.json and every manifest parse, and every blob they name is
// in blobs/ with the size and digest they say.
func TestGGCRParsesWriteOCI(t *testing.T) {
	ctx := context.Background()
	src, images, _ := twoImages(t)
	var buf bytes.Buffer
	if err := imagearchive.WriteOCI(ctx, &buf, src, images); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	untar(t, buf.Bytes(), dir)
	blob := func(h v1.Hash, size int64) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "blobs", h.Algorithm, h.Hex))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != size || digest.FromBytes(b).String() != h.String() {
			t.Errorf("blob %s: %d bytes, digest %s; index says %d bytes", h, len(b), digest.FromBytes(b), size)
		}
		return b
	}
	ib, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(ib))
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, d := range im.Manifests {
		refs = append(refs, d.Annotations[ocispec.AnnotationRefName])
		m, err := v1.ParseManifest(bytes.NewReader(blob(d.Digest, d.Size)))
		if err != nil {
			t.Fatal(err)
		}
		cf, err := v1.ParseConfigFile(bytes.NewReader(blob(m.Config.Digest, m.Config.Size)))
		if err != nil {
			t.Fatal(err)
		}
		if len(cf.RootFS.DiffIDs) != len(m.Layers) {
			t.Errorf("manifest %s: %d layers, %d diff_ids", d.Digest, len(m.Layers), len(cf.RootFS.DiffIDs))
		}
		for _, l := range m.Layers {
			blob(l.Digest, l.Size)
		}
	}
	want := []string{"docker.io/library/app1:latest", "example.com/team/app1:v1", "docker.io/library/app2:latest"}
	if !slices.Equal(refs, want) {
		t.Errorf("index.json ref.names %q, want %q", refs, want)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "oci-layout")); err != nil || string(b) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q, %v", b, err)
	}
}

func untar(t *testing.T, b []byte, dir string) {
	t.Helper()
	for _, m := range listTar(t, b) {
		p := filepath.Join(dir, m.name)
		if strings.HasSuffix(m.name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, m.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadGGCRDockerArchive reads go-containerregistry's docker-archive, whose
// layers are gzip files named <digest>.tar.gz.
func TestReadGGCRDockerArchive(t *testing.T) {
	img1, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	img2, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	t1, _ := name.NewTag("example.com/one:1")
	t2, _ := name.NewTag("two")
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(map[name.Reference]v1.Image{t1: img1, t2: img2}, &buf); err != nil {
		t.Fatal(err)
	}
	_, sink := newSink(t)
	got, err := imagearchive.Read(context.Background(), &buf, sink)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]v1.Image{"example.com/one:1": img1, "docker.io/library/two:latest": img2}
	if len(got) != 2 {
		t.Fatalf("read %d images, want 2", len(got))
	}
	for _, g := range got {
		img := want[g.Names[0]]
		if img == nil || len(g.Names) != 1 {
			t.Fatalf("unexpected names %q", g.Names)
		}
		cn, _ := img.ConfigName()
		if g.Manifests[0].Config.Digest.String() != cn.String() {
			t.Errorf("%s: config %s, want %s", g.Names[0], g.Manifests[0].Config.Digest, cn)
		}
		layers, _ := img.Layers()
		for i, l := range layers {
			d, _ := l.Digest()
			if got := g.Manifests[0].Layers[i]; got.Digest.String() != d.String() || got.MediaType != ocispec.MediaTypeImageLayerGzip {
				t.Errorf("%s layer %d = %s %s, want gzip %s", g.Names[0], i, got.MediaType, got.Digest, d)
			}
		}
	}
}

// TestReadGGCRLayout reads an OCI layout of go-containerregistry's blobs
// (a random image), as a directory and packed in a tar.
func TestReadGGCRLayout(t *testing.T) {
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(b []byte) v1.Hash {
		t.Helper()
		h, _, err := v1.SHA256(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h.Hex), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return h
	}
	raw, _ := img.RawManifest()
	cfg, _ := img.RawConfigFile()
	write(cfg)
	layers, _ := img.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		var lb bytes.Buffer
		lb.ReadFrom(rc)
		rc.Close()
		write(lb.Bytes())
	}
	want := write(raw)
	mt, _ := img.MediaType()
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json", Manifests: []v1.Descriptor{
		{MediaType: mt, Digest: want, Size: int64(len(raw)), Annotations: map[string]string{ocispec.AnnotationRefName: "example.com/rand:v2"}},
	}}
	os.WriteFile(filepath.Join(dir, "index.json"), mustJSON(t, index), 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)

	check := func(how string, got []imagearchive.Image, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if len(got) != 1 || got[0].Target.Digest.String() != want.String() || !slices.Equal(got[0].Names, []string{"example.com/rand:v2"}) {
			t.Errorf("%s: got %+v, want example.com/rand:v2 at %s", how, got, want)
		}
	}
	_, sink := newSink(t)
	got, err := imagearchive.ReadDir(context.Background(), dir, sink)
	check("directory", got, err)

	_, sink = newSink(t)
	got, err = imagearchive.Read(context.Background(), bytes.NewReader(tarDir(t, dir)), sink)
	check("tar", got, err)
}

// tarDir packs a directory's regular files, relative to it.
func tarDir(t *testing.T, dir string) []byte {
	t.Helper()
	var members []member
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		members = append(members, member{name: filepath.ToSlash(rel), body: b})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return makeTar(t, members...)
}
