package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/registry"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/distribution"
	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/mount/mounttest"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/drivers"
	"github.com/berth-engine/berth/internal/testutil"
)

// entry is one tar entry of a test layer: a directory when name ends in "/",
// else a regular file with body (whiteouts are just files named .wh.*).
type entry struct {
	name, body string
}

func makeLayer(t testing.TB, entries ...entry) (blob []byte, diffID digest.Digest) {
	t.Helper()
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	mtime := time.Unix(1700000000, 0)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, ModTime: mtime, Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	return gz.Bytes(), digest.FromBytes(raw.Bytes())
}

// fixture is an image built by a test: blobs and manifest, not yet in a registry.
type fixture struct {
	manifest []byte
	desc     ocispec.Descriptor
	config   []byte
	cdesc    ocispec.Descriptor
	layers   [][]byte
	ldescs   []ocispec.Descriptor
	diffIDs  []digest.Digest
}

func buildImage(t testing.TB, plat ocispec.Platform, layers ...[]entry) fixture {
	t.Helper()
	var f fixture
	for _, es := range layers {
		blob, diffID := makeLayer(t, es...)
		f.layers = append(f.layers, blob)
		f.diffIDs = append(f.diffIDs, diffID)
		f.ldescs = append(f.ldescs, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(blob), Size: int64(len(blob))})
	}
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	cfg := ocispec.Image{Created: &created, Platform: plat, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: f.diffIDs},
		Config: ocispec.ImageConfig{Cmd: []string{"/bin/sh"}, Labels: map[string]string{"test": plat.Architecture}}}
	f.config = mustJSON(t, cfg)
	f.cdesc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(f.config), Size: int64(len(f.config))}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: f.cdesc, Layers: f.ldescs}
	f.manifest = mustJSON(t, m)
	f.desc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(f.manifest), Size: int64(len(f.manifest)), Platform: &plat}
	return f
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	amd64 = ocispec.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = ocispec.Platform{OS: "linux", Architecture: "arm64"}
)

// testRegistry is go-containerregistry's in-memory registry on 127.0.0.1,
// recording requests; wrap, when set, sees each request first.
type testRegistry struct {
	srv  *httptest.Server
	host string
	mu   sync.Mutex
	reqs []string
	wrap func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func startRegistry(t testing.TB) *testRegistry {
	t.Helper()
	reg := &testRegistry{}
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	reg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		reg.reqs = append(reg.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		wrap := reg.wrap
		reg.mu.Unlock()
		if wrap != nil {
			wrap(w, r, h)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(reg.srv.Close)
	reg.host = strings.TrimPrefix(reg.srv.URL, "http://")
	return reg
}

func (reg *testRegistry) setWrap(fn func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	reg.mu.Lock()
	reg.wrap = fn
	reg.mu.Unlock()
}

// count returns the requests with method whose path?query contains sub.
func (reg *testRegistry) count(method, sub string) int {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	n := 0
	for _, r := range reg.reqs {
		m, rest, _ := strings.Cut(r, " ")
		if m == method && strings.Contains(rest, sub) {
			n++
		}
	}
	return n
}

func newClient(t testing.TB, hosts ...string) *distribution.Client {
	t.Helper()
	c, err := distribution.NewClient(distribution.Config{CertsDir: t.TempDir(), InsecureRegistries: hosts, RetryBackoff: time.Millisecond, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// push stores imgs in the registry under repo:tag (an index when several) and
// returns what the tag names.
func (reg *testRegistry) push(t testing.TB, repoName, tag string, imgs ...fixture) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	named, err := reference.ParseNormalizedNamed(reg.host + "/" + repoName)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := newClient(t, reg.host).Repository(ctx, named, nil)
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	for _, img := range imgs {
		descs := append([]ocispec.Descriptor{img.cdesc}, img.ldescs...)
		datas := append([][]byte{img.config}, img.layers...)
		for i, d := range descs {
			if _, err := repo.PushBlob(ctx, d, bytes.NewReader(datas[i]), distribution.PushOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		ref := img.desc.Digest.String()
		if len(imgs) == 1 {
			ref = tag
		}
		if err := repo.PushManifest(ctx, ref, img.desc, img.manifest); err != nil {
			t.Fatal(err)
		}
		idx.Manifests = append(idx.Manifests, img.desc)
	}
	if len(imgs) == 1 {
		d := imgs[0].desc
		d.Platform = nil
		return d
	}
	idx.SchemaVersion, idx.MediaType = 2, ocispec.MediaTypeImageIndex
	b := mustJSON(t, idx)
	d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := repo.PushManifest(ctx, tag, d, b); err != nil {
		t.Fatal(err)
	}
	return d
}

// env is an image service on a temporary root with one snapshotter.
type env struct {
	root string
	svc  *Service
	cs   *content.Store
	sn   snapshot.Snapshotter
	// inUse is consulted by the service's InUse hook.
	inUse map[digest.Digest]bool
	mu    sync.Mutex
}

// drivers runs fn once per snapshotter, as a privileged subtest in a private
// mount namespace that must end with nothing mounted.
func forEachDriver(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, driver := range []string{"overlay2", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			testutil.RequireRoot(t, "unpacking layers mounts snapshots")
			mounttest.PrivateNamespace(t)
			fn(t, driver)
		})
	}
}

func newEnv(t *testing.T, driver string, client *distribution.Client) *env {
	t.Helper()
	root := t.TempDir()
	mounttest.NoLeaks(t, root)
	e := &env{root: root, inUse: map[digest.Digest]bool{}}
	var err error
	if e.cs, err = content.Open(filepath.Join(root, "content")); err != nil {
		t.Fatal(err)
	}
	e.sn, _, err = drivers.Open(filepath.Join(root, "snapshots"), driver)
	if err != nil {
		if driver == "overlay2" {
			t.Skipf("overlay2 unavailable on %s: %v", root, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sn.Close() })
	e.svc = e.open(t, client)
	return e
}

func (e *env) open(t *testing.T, client *distribution.Client) *Service {
	t.Helper()
	svc, err := Open(context.Background(), Config{
		Root: filepath.Join(e.root, "image"), Content: e.cs, Snapshotter: e.sn, Registry: client,
		InUse: func(id digest.Digest) (string, bool) {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.inUse[id] {
				return "c0ffee0000000000000000000000000000000000000000000000000000000000", true
			}
			return "", false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc
}

func (e *env) setInUse(id digest.Digest, v bool) {
	e.mu.Lock()
	e.inUse[id] = v
	e.mu.Unlock()
}

// rootfs prepares a container layer on image, mounts it and returns every path
// in it with its content ("dir/" for directories), then cleans up.
func (e *env) rootfs(t *testing.T, image string) map[string]string {
	t.Helper()
	ctx := context.Background()
	key := testutil.UniqueID("image-ctr")
	mounts, err := e.svc.PrepareRootfs(ctx, image, key)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.svc.RemoveRootfs(ctx, key); err != nil {
			t.Error(err)
		}
	}()
	target := t.TempDir()
	if err := mount.All(mounts, target); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := mount.UnmountAll(target, 0); err != nil {
			t.Error(err)
		}
	}()
	files := map[string]string{}
	err = filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == target {
			return err
		}
		rel, _ := filepath.Rel(target, p)
		if d.IsDir() {
			files[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		files[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// blobs lists the content store's blobs.
func (e *env) blobs(t *testing.T) map[digest.Digest]bool {
	t.Helper()
	out := map[digest.Digest]bool{}
	if err := e.cs.Walk(context.Background(), func(i content.Info) error { out[i.Digest] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshots lists the snapshots as "kind name".
func (e *env) snapshots(t *testing.T) []string {
	t.Helper()
	var out []string
	err := e.sn.Walk(context.Background(), func(_ context.Context, i snapshot.Info) error {
		out = append(out, i.Kind.String()+" "+i.Name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// diskUsage is the bytes allocated under dir, as du counts them.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	seen := map[uint64]bool{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		st := info.Sys().(*syscall.Stat_t)
		if !seen[st.Ino] {
			seen[st.Ino] = true
			n += st.Blocks * 512
		}
		return nil
	})
	return n
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
