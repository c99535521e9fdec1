package imagearchive_test

// Interop with skopeo and umoci (Debian: apt-get install -y skopeo umoci).
// Each test skips, saying so, when its tool is absent.

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-engine/berth/internal/image/imagearchive"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed (apt-get install -y skopeo umoci): interop with it not checked", name)
	}
}

// run runs a tool with its temporary files in the test's directory.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

func skopeo(t *testing.T, args ...string) {
	t.Helper()
	run(t, "skopeo", append([]string{"--insecure-policy"}, args...)...)
}

func writeFile(t *testing.T, write func(*bytes.Buffer) error) string {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "archive.tar")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// configDigests maps each image's first name ("" for an unnamed one) to the
// digest of its config.
func configDigests(t *testing.T, images []imagearchive.Image) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, img := range images {
		n := ""
		if len(img.Names) > 0 {
			n = img.Names[0]
		}
		out[n] = img.Manifests[0].Config.Digest.String()
	}
	return out
}

// TestSkopeoCopiesOurArchives: skopeo reads both writers' archives, and what
// it copies out has the configs (so the layers) they hold.
func TestSkopeoCopiesOurArchives(t *testing.T) {
	needTool(t, "skopeo")
	ctx := context.Background()
	src, images, _ := twoImages(t)
	want1 := configOf(t, src, images[0].Target).Digest.String()
	want2 := configOf(t, src, images[1].Target).Digest.String()

	oci := writeFile(t, func(b *bytes.Buffer) error { return imagearchive.WriteOCI(ctx, b, src, images) })
	dir := t.TempDir()
	skopeo(t, "copy", "oci-archive:"+oci+":docker.io/library/app2:latest", "dir:"+dir)
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Errorf("skopeo copy oci-archive: to dir: wrote no manifest: %v", err)
	}
	single := writeFile(t, func(b *bytes.Buffer) error { return imagearchive.WriteOCI(ctx, b, src, images[1:]) })
	skopeo(t, "copy", "oci-archive:"+single, "dir:"+t.TempDir())

	docker := writeFile(t, func(b *bytes.Buffer) error { return imagearchive.WriteDocker(ctx, b, src, images) })
	layout := t.TempDir()
	skopeo(t, "copy", "docker-archive:"+docker+":app1:latest", "oci:"+layout+":example.com/copied:1")
	skopeo(t, "copy", "docker-archive:"+docker+":docker.io/library/app2:latest", "oci:"+layout+":example.com/copied:2")
	_, sink := newSink(t)
	got, err := imagearchive.ReadDir(ctx, layout, sink)
	if err != nil {
		t.Fatal(err)
	}
	cfgs := configDigests(t, got)
	if cfgs["example.com/copied:1"] != want1 || cfgs["example.com/copied:2"] != want2 {
		t.Errorf("skopeo's copies have configs %v, want %s and %s", cfgs, want1, want2)
	}
}

// TestReadSkopeoArchives: archives skopeo writes, docker-archive and
// oci-archive, from an image in an OCI layout, load with Read.
func TestReadSkopeoArchives(t *testing.T) {
	needTool(t, "skopeo")
	ctx := context.Background()
	src, images, _ := twoImages(t)
	want := configOf(t, src, images[0].Target).Digest.String()
	layout := t.TempDir()
	untar(t, func() []byte {
		var b bytes.Buffer
		if err := imagearchive.WriteOCI(ctx, &b, src, images[:1]); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}(), layout)
	from := "oci:" + layout + ":docker.io/library/app1:latest"

	for _, tc := range []struct{ transport, name, wantName string }{
		{"docker-archive", "example.com/skopeo/x:1", "example.com/skopeo/x:1"},
		{"oci-archive", "example.com/skopeo/y:2", "example.com/skopeo/y:2"},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "out.tar")
			skopeo(t, "copy", from, tc.transport+":"+file+":"+tc.name)
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, sink := newSink(t)
			got, err := imagearchive.Read(ctx, f, sink)
			if err != nil {
				t.Fatalf("reading skopeo's %s: %v", tc.transport, err)
			}
			if len(got) != 1 || !slices.Equal(got[0].Names, []string{tc.wantName}) || got[0].Manifests[0].Config.Digest.String() != want {
				t.Errorf("read %+v, want %s with config %s", got, tc.wantName, want)
			}
		})
	}
}

// TestReadUmociLayout: an image umoci builds loads from its layout directory
// (umoci's ref.name is a bare tag, so the image is unnamed), and after skopeo
// packs it as a docker-archive.
func TestReadUmociLayout(t *testing.T) {
	needTool(t, "umoci")
	ctx := context.Background()
	layout := filepath.Join(t.TempDir(), "layout")
	hello := filepath.Join(t.TempDir(), "hello")
	os.WriteFile(hello, []byte("hello from umoci\n"), 0o644)
	run(t, "umoci", "init", "--layout", layout)
	run(t, "umoci", "new", "--image", layout+":v1")
	run(t, "umoci", "insert", "--image", layout+":v1", hello, "/hello")
	_, sink := newSink(t)
	got, err := imagearchive.ReadDir(ctx, layout, sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Names) != 0 || len(got[0].Manifests[0].Layers) != 1 {
		t.Fatalf("read %+v, want one unnamed image with one layer", got)
	}
	if mt := got[0].Manifests[0].Layers[0].MediaType; mt != ocispec.MediaTypeImageLayerGzip {
		t.Errorf("umoci's layer is %s, want gzip", mt)
	}
	want := got[0].Manifests[0].Config.Digest

	needTool(t, "skopeo")
	file := filepath.Join(t.TempDir(), "umoci.tar")
	skopeo(t, "copy", "oci:"+layout+":v1", "docker-archive:"+file+":example.com/umoci:v1")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, sink = newSink(t)
	got, err = imagearchive.Read(ctx, f, sink)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Manifests[0].Config.Digest != want || !slices.Equal(got[0].Names, []string{"example.com/umoci:v1"}) {
		t.Errorf("read %+v, want example.com/umoci:v1 with config %s", got, want)
	}
}
