package distribution

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/registry"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// testImage is a random image: layers of random bytes (the registry does not look
// inside), a config naming them and an OCI manifest.
type testImage struct {
	manifest   []byte
	desc       ocispec.Descriptor
	config     []byte
	configDesc ocispec.Descriptor
	layers     [][]byte
	layerDescs []ocispec.Descriptor
}

func randomBytes(n int, seed uint64) []byte {
	var s [32]byte
	s[0], s[1], s[2] = byte(seed), byte(seed>>8), byte(seed>>16)
	b := make([]byte, n)
	rand.NewChaCha8(s).Read(b)
	return b
}

var seedMu sync.Mutex
var nextSeed uint64 = 1

func newSeed() uint64 {
	seedMu.Lock()
	defer seedMu.Unlock()
	nextSeed++
	return nextSeed
}

func newImage(t testing.TB, nLayers, layerSize int, p *ocispec.Platform) testImage {
	t.Helper()
	var img testImage
	var diffIDs []digest.Digest
	for i := 0; i < nLayers; i++ {
		data := randomBytes(layerSize+i, newSeed())
		img.layers = append(img.layers, data)
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(data), Size: int64(len(data))}
		img.layerDescs = append(img.layerDescs, d)
		diffIDs = append(diffIDs, d.Digest)
	}
	plat := ocispec.Platform{OS: "linux", Architecture: "amd64"}
	if p != nil {
		plat = *p
	}
	cfg := ocispec.Image{Platform: plat, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}}
	img.config = mustJSON(t, cfg)
	img.configDesc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(img.config), Size: int64(len(img.config))}
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    img.configDesc,
		Layers:    img.layerDescs,
	}
	img.manifest = mustJSON(t, m)
	img.desc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(img.manifest), Size: int64(len(img.manifest))}
	if p != nil {
		img.desc.Platform = p
	}
	return img
}

func (img testImage) size() int64 {
	n := int64(len(img.config))
	for _, l := range img.layers {
		n += int64(len(l))
	}
	return n
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startRegistry runs go-containerregistry's in-memory registry on 127.0.0.1, behind
// wrap when given.
func startRegistry(t testing.TB, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func hostOf(srv *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
}

// newTestClient returns a client with fast retries and an empty certs dir; hosts are
// marked insecure (plain HTTP allowed).
func newTestClient(t testing.TB, cfg Config, insecure ...string) *Client {
	t.Helper()
	if cfg.CertsDir == "" {
		cfg.CertsDir = t.TempDir()
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	cfg.InsecureRegistries = append(cfg.InsecureRegistries, insecure...)
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openRepo(t testing.TB, c *Client, name string) *Repository {
	t.Helper()
	n, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Repository(context.Background(), n, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func pushImage(t testing.TB, r *Repository, img testImage, tag string, opts PushOptions) []PushResult {
	t.Helper()
	ctx := context.Background()
	var results []PushResult
	descs := append([]ocispec.Descriptor{img.configDesc}, img.layerDescs...)
	datas := append([][]byte{img.config}, img.layers...)
	for i, d := range descs {
		res, err := r.PushBlob(ctx, d, bytes.NewReader(datas[i]), opts)
		if err != nil {
			t.Fatalf("push blob %d: %v", i, err)
		}
		results = append(results, res)
	}
	if err := r.PushManifest(ctx, tag, img.desc, img.manifest); err != nil {
		t.Fatalf("push manifest: %v", err)
	}
	return results
}

func fetchAll(ctx context.Context, r *Repository, d ocispec.Descriptor) ([]byte, error) {
	rc, err := r.Fetch(ctx, d, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// pullImage resolves tag, reads the manifest and downloads config and layers in
// parallel, checking every byte against img.
func pullImage(t testing.TB, r *Repository, tag string, img testImage) {
	t.Helper()
	ctx := context.Background()
	desc, err := r.Resolve(ctx, tag)
	if err != nil {
		t.Fatalf("resolve %s: %v", tag, err)
	}
	if desc.Digest != img.desc.Digest || desc.Size != img.desc.Size || desc.MediaType != img.desc.MediaType {
		t.Fatalf("resolve %s = %+v, want %+v", tag, desc, img.desc)
	}
	mb, err := r.FetchManifest(ctx, desc)
	if err != nil {
		t.Fatalf("fetch manifest: %v", err)
	}
	if !bytes.Equal(mb, img.manifest) {
		t.Fatalf("manifest differs")
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		t.Fatal(err)
	}
	descs := append([]ocispec.Descriptor{m.Config}, m.Layers...)
	want := append([][]byte{img.config}, img.layers...)
	errs := make([]error, len(descs))
	got := make([][]byte, len(descs))
	var wg sync.WaitGroup
	for i, d := range descs {
		wg.Go(func() { got[i], errs[i] = fetchAll(ctx, r, d) })
	}
	wg.Wait()
	for i := range descs {
		if errs[i] != nil {
			t.Fatalf("fetch blob %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("blob %d differs", i)
		}
	}
}

// recorder counts the requests that pass through it, as "METHOD path?query".
type recorder struct {
	mu   sync.Mutex
	reqs []string
}

func (rec *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec.mu.Lock()
		s := req.Method + " " + req.URL.Path
		if req.URL.RawQuery != "" {
			s += "?" + req.URL.RawQuery
		}
		rec.reqs = append(rec.reqs, s)
		rec.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

// count returns how many requests had method and contained sub in their path?query.
func (rec *recorder) count(method, sub string) int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, r := range rec.reqs {
		m, rest, _ := strings.Cut(r, " ")
		if m == method && strings.Contains(rest, sub) {
			n++
		}
	}
	return n
}

func (rec *recorder) reset() {
	rec.mu.Lock()
	rec.reqs = nil
	rec.mu.Unlock()
}
