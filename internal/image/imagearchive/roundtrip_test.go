package imagearchive_test

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/image/imagearchive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// twoImages stores two images sharing their base layer: app1 has a gzip top
// layer, app2 a zstd one.
func twoImages(t *testing.T) (imagearchive.Source, []imagearchive.Named, [][]byte) {
	cs := newStore(t)
	base := layerTar(t, map[string]string{"etc/os-release": "ID=test\n"})
	top1 := layerTar(t, map[string]string{"app/one": "1"})
	top2 := layerTar(t, map[string]string{"app/two": "2"})
	m1 := makeImage(t, cs, "one", layer{base, archive.Uncompressed}, layer{top1, archive.Gzip})
	m2 := makeImage(t, cs, "two", layer{base, archive.Uncompressed}, layer{top2, archive.Zstd})
	images := []imagearchive.Named{
		{Names: []string{"app1:latest", "example.com/team/app1:v1"}, Target: m1},
		{Names: []string{"docker.io/library/app2"}, Target: m2},
	}
	return cs, images, [][]byte{base, top1, top2}
}

func TestDockerRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, images, tars := twoImages(t)
	var buf bytes.Buffer
	if err := imagearchive.WriteDocker(ctx, &buf, src, images); err != nil {
		t.Fatal(err)
	}
	// The shared base layer is written once; every layer.tar is uncompressed.
	var layerTars int
	for _, m := range listTar(t, buf.Bytes()) {
		if strings.HasSuffix(m.name, "/layer.tar") {
			layerTars++
			if !slices.ContainsFunc(tars, func(b []byte) bool { return bytes.Equal(b, m.body) }) {
				t.Errorf("%s is not one of the uncompressed layers", m.name)
			}
		}
	}
	if layerTars != 3 {
		t.Errorf("%d layer.tar members, want 3 (the base shared)", layerTars)
	}

	cs, sink := newSink(t)
	got, err := imagearchive.Read(ctx, bytes.NewReader(buf.Bytes()), sink)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := [][]string{
		{"docker.io/library/app1:latest", "example.com/team/app1:v1"},
		{"docker.io/library/app2:latest"},
	}
	if len(got) != 2 {
		t.Fatalf("read %d images, want 2", len(got))
	}
	for i, img := range got {
		if !slices.Equal(img.Names, wantNames[i]) {
			t.Errorf("image %d names %q, want %q", i, img.Names, wantNames[i])
		}
		if img.Target.MediaType != ocispec.MediaTypeImageManifest || len(img.Manifests) != 1 {
			t.Fatalf("image %d: target %+v with %d manifests", i, img.Target, len(img.Manifests))
		}
		m := img.Manifests[0]
		srcCfg := readConfig(t, src, configOf(t, src, images[i].Target))
		if want := digest.FromBytes(mustJSON(t, srcCfg)); m.Config.Digest != want {
			t.Errorf("image %d config %s, want the source's %s", i, m.Config.Digest, want)
		}
		for j, l := range m.Layers {
			if l.MediaType != ocispec.MediaTypeImageLayer || l.Digest != srcCfg.RootFS.DiffIDs[j] {
				t.Errorf("image %d layer %d = %s %s, want an uncompressed layer %s", i, j, l.MediaType, l.Digest, srcCfg.RootFS.DiffIDs[j])
			}
			if _, err := cs.Info(ctx, l.Digest); err != nil {
				t.Errorf("layer %s not in the sink: %v", l.Digest, err)
			}
		}
		if m.Descriptor.Platform == nil || m.Descriptor.Platform.Architecture != "amd64" {
			t.Errorf("image %d platform %+v, want linux/amd64 from the config", i, m.Descriptor.Platform)
		}
		if _, err := cs.Info(ctx, img.Target.Digest); err != nil {
			t.Errorf("manifest %s not in the sink: %v", img.Target.Digest, err)
		}
	}
}

func configOf(t *testing.T, src imagearchive.Source, m ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	ra, err := src.ReaderAt(context.Background(), m.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	b := make([]byte, ra.Size())
	ra.ReadAt(b, 0)
	var man ocispec.Manifest
	if err := jsonUnmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	return man.Config
}

func TestOCIRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, images, _ := twoImages(t)
	var buf bytes.Buffer
	if err := imagearchive.WriteOCI(ctx, &buf, src, images); err != nil {
		t.Fatal(err)
	}
	cs, sink := newSink(t)
	got, err := imagearchive.Read(ctx, bytes.NewReader(buf.Bytes()), sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("read %d images, want 2", len(got))
	}
	wantNames := [][]string{
		{"docker.io/library/app1:latest", "example.com/team/app1:v1"},
		{"docker.io/library/app2:latest"},
	}
	for i, img := range got {
		if img.Target.Digest != images[i].Target.Digest {
			t.Errorf("image %d target %s, want the same manifest %s", i, img.Target.Digest, images[i].Target.Digest)
		}
		if !slices.Equal(img.Names, wantNames[i]) {
			t.Errorf("image %d names %q, want %q", i, img.Names, wantNames[i])
		}
		for _, l := range img.Manifests[0].Layers {
			if _, err := cs.Info(ctx, l.Digest); err != nil {
				t.Errorf("layer %s (%s) not in the sink: %v", l.Digest, l.MediaType, err)
			}
		}
	}
	if got[0].Manifests[0].Layers[1].MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Errorf("app1's top layer is %s, want it still gzip", got[0].Manifests[0].Layers[1].MediaType)
	}

	// The same layout unpacked into a directory reads the same.
	dir := t.TempDir()
	for _, m := range listTar(t, buf.Bytes()) {
		p := filepath.Join(dir, m.name)
		if strings.HasSuffix(m.name, "/") {
			os.MkdirAll(p, 0o755)
			continue
		}
		if err := os.WriteFile(p, m.body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, sink2 := newSink(t)
	fromDir, err := imagearchive.ReadDir(ctx, dir, sink2)
	if err != nil {
		t.Fatal(err)
	}
	if len(fromDir) != 2 || fromDir[1].Target.Digest != images[1].Target.Digest || !slices.Equal(fromDir[0].Names, wantNames[0]) {
		t.Errorf("ReadDir gave %+v", fromDir)
	}

	// And packed again as `tar -C dir -c .` packs it: "./" and directories first.
	members := []member{{name: "./", typ: tar.TypeDir}, {name: "./blobs/", typ: tar.TypeDir}, {name: "./blobs/sha256/", typ: tar.TypeDir}}
	for _, m := range listTar(t, buf.Bytes()) {
		if !strings.HasSuffix(m.name, "/") {
			members = append(members, member{name: "./" + m.name, body: m.body})
		}
	}
	_, sink3 := newSink(t)
	dotted, err := imagearchive.Read(ctx, bytes.NewReader(makeTar(t, members...)), sink3)
	if err != nil {
		t.Fatalf("a layout packed with tar -C dir -c .: %v", err)
	}
	if len(dotted) != 2 || dotted[0].Target.Digest != images[0].Target.Digest || !slices.Equal(dotted[0].Names, wantNames[0]) {
		t.Errorf("the ./-prefixed archive gave %+v", dotted)
	}
}

// TestGolden pins the members and metadata both writers produce for a small
// image (go test -update rewrites testdata/*.golden).
func TestGolden(t *testing.T) {
	ctx := context.Background()
	cs := newStore(t)
	base := layerTar(t, map[string]string{"hello": "world\n"})
	m := makeImage(t, cs, "hello", layer{base, archive.Gzip})
	images := []imagearchive.Named{{Names: []string{"hello:v1", "registry.test:5000/hello@sha256:" + strings.Repeat("a", 64), "registry.test:5000/hello:v1"}, Target: m}}
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"docker", func(b *bytes.Buffer) error { return imagearchive.WriteDocker(ctx, b, cs, images) }},
		{"oci", func(b *bytes.Buffer) error { return imagearchive.WriteOCI(ctx, b, cs, images) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			for _, m := range listTar(t, buf.Bytes()) {
				out.WriteString(m.name)
				switch base := filepath.Base(m.name); {
				case base == "manifest.json" || base == "index.json" || base == "repositories" || base == "oci-layout" || base == "json" || base == "VERSION":
					out.WriteString("\n\t" + string(m.body))
				case !strings.HasSuffix(m.name, "/"):
					out.WriteString("\t" + digest.FromBytes(m.body).String())
				}
				out.WriteString("\n")
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("archive differs from %s (go test -update to accept):\n--- got\n%s\n--- want\n%s", golden, out.String(), want)
			}
		})
	}
}
