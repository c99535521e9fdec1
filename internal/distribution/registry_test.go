package distribution

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/berth-engine/berth/internal/distribution/platform"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestPushPullRoundTrip(t *testing.T) {
	rec := &recorder{}
	srv := startRegistry(t, rec.wrap)
	c := newTestClient(t, Config{}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/team/app")
	img := newImage(t, 3, 200<<10, nil)

	res := pushImage(t, r, img, "v1", PushOptions{})
	for i, x := range res {
		if x != Uploaded {
			t.Errorf("blob %d: %v, want uploaded", i, x)
		}
	}
	pullImage(t, r, "v1", img)
	// By digest too, from a fresh repository object (no cached manifest).
	pullImage(t, openRepo(t, c, hostOf(srv)+"/team/app"), img.desc.Digest.String(), img)

	// The insecure registry answered over plain HTTP; the HTTPS attempt was made once,
	// not for every request.
	if n := rec.count("HEAD", "/manifests/v1"); n != 1 {
		t.Errorf("HEAD manifests/v1 sent %d times, want 1", n)
	}
	// HEAD told the digest, type and size: the manifest was read once, by digest.
	if n := rec.count("GET", "/manifests/v1"); n != 0 {
		t.Errorf("GET manifests/v1 sent %d times, want 0", n)
	}
	if n := rec.count("GET", "/manifests/"+img.desc.Digest.String()); n != 2 {
		t.Errorf("GET manifests by digest sent %d times, want 2 (once per pull)", n)
	}
}

func TestResolveErrors(t *testing.T) {
	srv := startRegistry(t, nil)
	c := newTestClient(t, Config{}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/team/app")
	pushImage(t, r, newImage(t, 1, 100, nil), "v1", PushOptions{})
	ctx := context.Background()

	_, err := r.Resolve(ctx, "nosuch")
	if !errdefs.IsNotFound(err) {
		t.Fatalf("missing tag: %v, want NotFound", err)
	}
	if want := "manifest for " + hostOf(srv) + "/team/app:nosuch not found: manifest unknown"; !strings.Contains(err.Error(), want) {
		t.Errorf("missing tag: %q, want it to contain %q", err, want)
	}
	var re *Error
	if !errors.As(err, &re) || !re.Has("MANIFEST_UNKNOWN") || re.Status != 404 {
		t.Errorf("missing tag: want a *Error with MANIFEST_UNKNOWN, got %#v", re)
	}

	_, err = openRepo(t, c, hostOf(srv)+"/team/none").Resolve(ctx, "latest")
	if !errdefs.IsNotFound(err) {
		t.Fatalf("missing repository: %v, want NotFound", err)
	}

	_, err = r.Fetch(ctx, ocispec.Descriptor{Digest: digest.FromString("absent"), Size: 6}, nil)
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "blob unknown") {
		t.Fatalf("missing blob: %v, want NotFound naming the blob", err)
	}

	// A manifest fetched by a digest whose content differs is refused.
	img := newImage(t, 1, 10, nil)
	pushImage(t, r, img, "v2", PushOptions{})
	bad := img.desc
	bad.Size++
	if _, err := openRepo(t, c, hostOf(srv)+"/team/app").FetchManifest(ctx, bad); !errdefs.IsDataLoss(err) {
		t.Fatalf("manifest with the wrong size: %v, want DataLoss", err)
	}
}

func TestIndexPlatformSelection(t *testing.T) {
	srv := startRegistry(t, nil)
	c := newTestClient(t, Config{}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/multi")
	amd := newImage(t, 2, 1000, &ocispec.Platform{OS: "linux", Architecture: "amd64"})
	arm := newImage(t, 2, 1000, &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"})
	pushImage(t, r, amd, amd.desc.Digest.String(), PushOptions{})
	pushImage(t, r, arm, arm.desc.Digest.String(), PushOptions{})
	idx := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{amd.desc, arm.desc},
	}
	ib := mustJSON(t, idx)
	idesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(ib), Size: int64(len(ib))}
	ctx := context.Background()
	if err := r.PushManifest(ctx, "latest", idesc, ib); err != nil {
		t.Fatal(err)
	}

	r = openRepo(t, c, hostOf(srv)+"/multi")
	desc, err := r.Resolve(ctx, "latest")
	if err != nil {
		t.Fatal(err)
	}
	if !IsIndex(desc.MediaType) || desc.Digest != idesc.Digest {
		t.Fatalf("resolve = %+v, want the index %s", desc, idesc.Digest)
	}
	content, err := r.FetchManifest(ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	var got ocispec.Index
	if err := json.Unmarshal(content, &got); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		platform string
		want     testImage
	}{
		{"linux/amd64", amd},
		{"linux/x86_64", amd},
		{"linux/arm64", arm},
		{"linux/aarch64/v8", arm},
	} {
		p, err := platform.Parse(tc.platform)
		if err != nil {
			t.Fatal(err)
		}
		m, err := platform.Select(got.Manifests, p)
		if err != nil {
			t.Fatalf("%s: %v", tc.platform, err)
		}
		if m.Digest != tc.want.desc.Digest {
			t.Fatalf("%s: selected %s, want %s", tc.platform, m.Digest, tc.want.desc.Digest)
		}
		mb, err := r.FetchManifest(ctx, m)
		if err != nil || !bytes.Equal(mb, tc.want.manifest) {
			t.Fatalf("%s: fetch selected manifest: %v", tc.platform, err)
		}
	}
	p, _ := platform.Parse("linux/s390x")
	_, err = platform.Select(got.Manifests, p)
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "no matching manifest for linux/s390x") ||
		!strings.Contains(err.Error(), "linux/amd64, linux/arm64/v8") {
		t.Fatalf("no match: %v", err)
	}
}

func TestSchema1Refused(t *testing.T) {
	schema1 := []byte(`{"schemaVersion":1,"name":"old/app","tag":"v1","architecture":"amd64","fsLayers":[],"history":[],"signatures":[{"header":{}}]}`)
	for _, tc := range []struct {
		name        string
		contentType string
	}{
		{"media type", MediaTypeDockerSchema1Signed},
		{"generic content type", "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRegistry(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if strings.HasSuffix(req.URL.Path, "/old/app/manifests/v1") {
						w.Header().Set("Content-Type", tc.contentType)
						if tc.contentType == "application/json" {
							// No digest header: the client must GET and look.
							w.Header().Set("Content-Length", "0")
						} else {
							w.Header().Set("Docker-Content-Digest", digest.FromBytes(schema1).String())
						}
						if req.Method == http.MethodGet {
							w.Header().Set("Content-Length", "")
							w.Write(schema1)
						}
						return
					}
					h.ServeHTTP(w, req)
				})
			})
			c := newTestClient(t, Config{}, hostOf(srv))
			_, err := openRepo(t, c, hostOf(srv)+"/old/app").Resolve(context.Background(), "v1")
			want := hostOf(srv) + "/old/app:v1 is a schema1 manifest, which berth does not support; push it again with a newer docker"
			if err == nil || !strings.Contains(err.Error(), want) || !errdefs.IsNotImplemented(err) {
				t.Fatalf("got %v, want NotImplemented %q", err, want)
			}
		})
	}
}

func TestPushSkipsExistingBlobs(t *testing.T) {
	rec := &recorder{}
	srv := startRegistry(t, rec.wrap)
	c := newTestClient(t, Config{}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/team/app")
	img := newImage(t, 3, 1000, nil)
	pushImage(t, r, img, "v1", PushOptions{})
	if n := rec.count("PUT", "/blobs/uploads/"); n != 4 {
		t.Fatalf("first push: %d blob PUTs, want 4 (config and 3 layers)", n)
	}
	rec.reset()
	res := pushImage(t, r, img, "v2", PushOptions{})
	for i, x := range res {
		if x != Existed {
			t.Errorf("second push, blob %d: %v, want exists", i, x)
		}
	}
	if n := rec.count("PUT", "/blobs/"); n != 0 {
		t.Fatalf("second push: %d blob PUTs, want 0", n)
	}
	if n := rec.count("POST", "/blobs/uploads"); n != 0 {
		t.Fatalf("second push: %d upload POSTs, want 0", n)
	}
	pullImage(t, r, "v2", img)
}

// repoScoped makes the in-memory registry (which shares blobs across repositories)
// behave like a real one for HEAD and cross-repository mounts: a blob is in a
// repository only once it was uploaded or mounted there.
type repoScoped struct {
	mu    sync.Mutex
	blobs map[string]bool // "repo@digest"
}

func (s *repoScoped) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		repo, kind, rest := splitV2(req.URL.Path)
		switch {
		case kind == "blobs" && req.Method == http.MethodHead:
			s.mu.Lock()
			ok := s.blobs[repo+"@"+rest]
			s.mu.Unlock()
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				return
			}
		case kind == "blobs" && req.Method == http.MethodPost && req.URL.Query().Get("mount") != "":
			key := req.URL.Query().Get("from") + "@" + req.URL.Query().Get("mount")
			s.mu.Lock()
			ok := s.blobs[key]
			if ok {
				s.blobs[repo+"@"+req.URL.Query().Get("mount")] = true
			}
			s.mu.Unlock()
			if ok {
				w.WriteHeader(http.StatusCreated)
				return
			}
		case kind == "blobs" && req.Method == http.MethodPut:
			d := req.URL.Query().Get("digest")
			rw := &statusWriter{ResponseWriter: w}
			h.ServeHTTP(rw, req)
			if rw.status == http.StatusCreated {
				s.mu.Lock()
				s.blobs[repo+"@"+d] = true
				s.mu.Unlock()
			}
			return
		}
		h.ServeHTTP(w, req)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) {
	w.status = s
	w.ResponseWriter.WriteHeader(s)
}

// splitV2 splits "/v2/<repo>/<kind>/<rest>" where kind is manifests or blobs.
func splitV2(p string) (repo, kind, rest string) {
	p = strings.TrimPrefix(p, "/v2/")
	for _, k := range []string{"/manifests/", "/blobs/"} {
		if i := strings.LastIndex(p, k); i >= 0 {
			return p[:i], strings.Trim(k, "/"), p[i+len(k):]
		}
	}
	return strings.TrimSuffix(p, "/"), "", ""
}

func TestPushMountsAcrossRepositories(t *testing.T) {
	rec := &recorder{}
	scoped := &repoScoped{blobs: map[string]bool{}}
	srv := startRegistry(t, func(h http.Handler) http.Handler { return rec.wrap(scoped.wrap(h)) })
	c := newTestClient(t, Config{}, hostOf(srv))
	img := newImage(t, 3, 1000, nil)
	pushImage(t, openRepo(t, c, hostOf(srv)+"/team/base"), img, "v1", PushOptions{})
	rec.reset()

	r := openRepo(t, c, hostOf(srv)+"/team/app")
	res := pushImage(t, r, img, "v1", PushOptions{MountFrom: []string{"team/elsewhere", "team/base"}})
	for i, x := range res {
		if x != Mounted {
			t.Errorf("blob %d: %v, want mounted", i, x)
		}
	}
	if n := rec.count("POST", "mount="); n != 8 {
		t.Errorf("%d mount POSTs, want 8 (two sources for each of 4 blobs)", n)
	}
	if n := rec.count("POST", "from=team%2Fbase"); n != 4 {
		t.Errorf("%d mount POSTs from team/base, want 4", n)
	}
	if n := rec.count("PUT", "/blobs/"); n != 0 {
		t.Errorf("%d blob PUTs, want 0", n)
	}
	pullImage(t, r, "v1", img)

	// A source that lacks the blob: the registry starts an upload instead (202), and
	// the content goes to that upload.
	rec.reset()
	other := newImage(t, 1, 1000, nil)
	res = pushImage(t, openRepo(t, c, hostOf(srv)+"/team/third"), other, "v1", PushOptions{MountFrom: []string{"team/base"}})
	for i, x := range res {
		if x != Uploaded {
			t.Errorf("blob %d: %v, want uploaded", i, x)
		}
	}
	if n := rec.count("POST", "/blobs/uploads/"); n != 2 {
		t.Errorf("%d upload POSTs, want 2 (one mount attempt per blob, its upload reused)", n)
	}
}

func TestChunkedUpload(t *testing.T) {
	rec := &recorder{}
	srv := startRegistry(t, rec.wrap)
	c := newTestClient(t, Config{ChunkSize: 64 << 10}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/big")
	img := newImage(t, 1, 300<<10, nil) // 300 KiB: 5 chunks
	var last, total int64
	opts := PushOptions{Progress: func(done, tot int64) { last, total = done, tot }}
	pushImage(t, r, img, "v1", opts)
	if n := rec.count("PATCH", "/blobs/uploads/"); n != 5 {
		t.Errorf("%d PATCHes, want 5", n)
	}
	if last != total || total != img.layerDescs[0].Size {
		t.Errorf("progress ended at %d/%d, want %d/%d", last, total, img.layerDescs[0].Size, img.layerDescs[0].Size)
	}
	pullImage(t, r, "v1", img)
}

func TestPushManifestChecksContent(t *testing.T) {
	srv := startRegistry(t, nil)
	c := newTestClient(t, Config{}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/app")
	img := newImage(t, 1, 10, nil)
	bad := img.desc
	bad.Digest = digest.FromString("other")
	if err := r.PushManifest(context.Background(), "v1", bad, img.manifest); !errdefs.IsDataLoss(err) {
		t.Fatalf("manifest not matching its descriptor: %v, want DataLoss", err)
	}
}
