package distribution

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/distribution/auth"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// intercept runs the registry's handler into a recorder and lets edit rewrite the
// reply to GETs of blob d before it is sent; edit writes the reply itself.
func intercept(d digest.Digest, edit func(w http.ResponseWriter, req *http.Request, code int, header http.Header, body []byte)) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, "/blobs/"+d.String()) {
				h.ServeHTTP(w, req)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			edit(w, req, rec.Code, rec.Header(), rec.Body.Bytes())
		})
	}
}

func copyHeader(w http.ResponseWriter, h http.Header) {
	for k, v := range h {
		w.Header()[k] = v
	}
}

func TestTamperedBlobIsRefused(t *testing.T) {
	img := newImage(t, 1, 100<<10, nil)
	layer := img.layerDescs[0]
	for _, tc := range []struct {
		name string
		edit func(w http.ResponseWriter, req *http.Request, code int, header http.Header, body []byte)
	}{
		{"flipped byte", func(w http.ResponseWriter, req *http.Request, code int, header http.Header, body []byte) {
			body = bytes.Clone(body)
			body[len(body)/2] ^= 0x40
			copyHeader(w, header)
			w.WriteHeader(code)
			w.Write(body)
		}},
		{"longer blob", func(w http.ResponseWriter, req *http.Request, code int, header http.Header, body []byte) {
			copyHeader(w, header)
			w.Header().Del("Content-Length") // chunked: the client cannot know in advance
			w.WriteHeader(code)
			w.Write(append(bytes.Clone(body), 'x'))
		}},
		{"truncated blob", func(w http.ResponseWriter, req *http.Request, code int, header http.Header, body []byte) {
			copyHeader(w, header)
			w.Header().Set("Content-Length", fmt.Sprint(len(body)-1))
			w.WriteHeader(code)
			w.Write(body[:len(body)-1])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRegistry(t, nil)
			c := newTestClient(t, Config{}, hostOf(srv))
			pushImage(t, openRepo(t, c, hostOf(srv)+"/app"), img, "v1", PushOptions{})

			tampering := startRegistryFrom(t, srv, intercept(layer.Digest, tc.edit))
			c2 := newTestClient(t, Config{}, hostOf(tampering))
			r := openRepo(t, c2, hostOf(tampering)+"/app")
			rc, err := r.Fetch(context.Background(), layer, nil)
			if err == nil {
				var got []byte
				got, err = io.ReadAll(rc)
				rc.Close()
				if err == nil {
					t.Fatalf("tampered blob read without error (%d bytes)", len(got))
				}
			}
			var ve *VerifyError
			if !errors.As(err, &ve) || !errdefs.IsDataLoss(err) {
				t.Fatalf("got %v, want a VerifyError of class DataLoss", err)
			}
			if !strings.Contains(err.Error(), layer.Digest.String()) {
				t.Errorf("error %q does not name the blob", err)
			}
		})
	}
}

// startRegistryFrom serves origin's registry (by proxying to it) behind wrap, so that
// a test can fill a registry cleanly and then read it through a faulty front.
func startRegistryFrom(t *testing.T, origin *httptest.Server, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	proxy := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		out, err := http.NewRequestWithContext(req.Context(), req.Method, origin.URL+req.URL.RequestURI(), req.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		out.Header = req.Header.Clone()
		resp, err := origin.Client().Do(out)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		defer resp.Body.Close()
		copyHeader(w, resp.Header)
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
	srv := httptest.NewServer(wrap(proxy))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchResumesAfterDroppedConnection(t *testing.T) {
	img := newImage(t, 1, 512<<10, nil)
	layer := img.layerDescs[0]
	for _, tc := range []struct {
		name        string
		ignoreRange bool
	}{
		{"range honoured", false},
		{"range ignored", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRegistry(t, nil)
			c := newTestClient(t, Config{}, hostOf(srv))
			pushImage(t, openRepo(t, c, hostOf(srv)+"/app"), img, "v1", PushOptions{})

			var mu sync.Mutex
			var ranges []string
			dropped := false
			flaky := startRegistryFrom(t, srv, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/blobs/"+layer.Digest.String()) {
						mu.Lock()
						ranges = append(ranges, req.Header.Get("Range"))
						drop := !dropped
						dropped = true
						mu.Unlock()
						if tc.ignoreRange {
							req.Header.Del("Range")
						}
						if drop {
							rec := httptest.NewRecorder()
							h.ServeHTTP(rec, req)
							copyHeader(w, rec.Header())
							w.WriteHeader(rec.Code)
							w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
							w.(http.Flusher).Flush()
							panic(http.ErrAbortHandler) // drop the connection mid-body
						}
					}
					h.ServeHTTP(w, req)
				})
			})
			c2 := newTestClient(t, Config{}, hostOf(flaky))
			r := openRepo(t, c2, hostOf(flaky)+"/app")
			var progress []int64
			rc, err := r.Fetch(context.Background(), layer, func(done, total int64) {
				if total != layer.Size {
					t.Errorf("progress total %d, want %d", total, layer.Size)
				}
				progress = append(progress, done)
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, img.layers[0]) {
				t.Fatal("resumed blob differs")
			}
			want := []string{"", fmt.Sprintf("bytes=%d-%d", layer.Size/2, layer.Size-1)}
			if fmt.Sprint(ranges) != fmt.Sprint(want) {
				t.Errorf("requests' Range headers %q, want %q", ranges, want)
			}
			for i := 1; i < len(progress); i++ {
				if progress[i] <= progress[i-1] {
					t.Fatalf("progress went back: %v", progress)
				}
			}
			if progress[len(progress)-1] != layer.Size {
				t.Errorf("progress ended at %d, want %d", progress[len(progress)-1], layer.Size)
			}
		})
	}
}

func TestFetchGivesUpAfterBoundedRetries(t *testing.T) {
	img := newImage(t, 1, 64<<10, nil)
	layer := img.layerDescs[0]
	srv := startRegistry(t, nil)
	c := newTestClient(t, Config{}, hostOf(srv))
	pushImage(t, openRepo(t, c, hostOf(srv)+"/app"), img, "v1", PushOptions{})
	var gets atomic.Int32
	broken := startRegistryFrom(t, srv, intercept(layer.Digest, func(w http.ResponseWriter, req *http.Request, code int, header http.Header, body []byte) {
		gets.Add(1)
		copyHeader(w, header)
		w.WriteHeader(code)
		w.Write(body[:10])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}))
	c2 := newTestClient(t, Config{MaxRetries: 3}, hostOf(broken))
	_, err := fetchAll(context.Background(), openRepo(t, c2, hostOf(broken)+"/app"), layer)
	if err == nil {
		t.Fatal("a blob that never arrives whole was accepted")
	}
	if n := gets.Load(); n != 4 {
		t.Errorf("%d GETs, want 4 (one and 3 retries)", n)
	}
}

func TestDownloadSlots(t *testing.T) {
	img := newImage(t, 6, 32<<10, nil)
	var inflight, peak atomic.Int32
	srv := startRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/blobs/") {
				n := inflight.Add(1)
				defer inflight.Add(-1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
			}
			h.ServeHTTP(w, req)
		})
	})
	c := newTestClient(t, Config{MaxConcurrentDownloads: 2}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/app")
	pushImage(t, r, img, "v1", PushOptions{})
	ctx := context.Background()

	// Two open readers hold both slots: a third Fetch waits, and gives up with its
	// context.
	a, err := r.Fetch(ctx, img.layerDescs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Fetch(ctx, img.layerDescs[1], nil)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Fetch(cancelled, img.layerDescs[2], nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("third fetch with both slots taken: %v, want context.Canceled", err)
	}
	a.Close()
	if _, err := io.ReadAll(b); err != nil { // reading to the end frees the slot too
		t.Fatal(err)
	}
	b.Close()

	pullImage(t, r, "v1", img) // seven blobs in parallel goroutines
	if p := peak.Load(); p > 2 {
		t.Errorf("%d blob downloads at once, want at most 2", p)
	}
}

func TestFetchFollowsRedirectToStorage(t *testing.T) {
	img := newImage(t, 1, 256<<10, nil)
	layer := img.layerDescs[0]
	var mu sync.Mutex
	var storageReqs []string
	dropped := false
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		storageReqs = append(storageReqs, req.Header.Get("Authorization")+"|"+req.Header.Get("Range"))
		drop := !dropped
		dropped = true
		mu.Unlock()
		if drop {
			w.Header().Set("Content-Length", fmt.Sprint(len(img.layers[0])))
			w.Write(img.layers[0][:1000])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(img.layers[0]))
	}))
	t.Cleanup(storage.Close)
	front := &basicFront{user: "u", pass: "p"}
	srv := startRegistry(t, func(h http.Handler) http.Handler {
		return front.wrap(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/blobs/"+layer.Digest.String()) {
				http.Redirect(w, req, storage.URL+"/signed/"+layer.Digest.Encoded()+"?sig=x", http.StatusTemporaryRedirect)
				return
			}
			h.ServeHTTP(w, req)
		}))
	})
	c := newTestClient(t, Config{Credentials: auth.Static("u", "p")}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/app")
	pushImage(t, r, img, "v1", PushOptions{})
	got, err := fetchAll(context.Background(), r, layer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, img.layers[0]) {
		t.Fatal("blob from storage differs")
	}
	want := []string{"|", fmt.Sprintf("|bytes=1000-%d", layer.Size-1)}
	if fmt.Sprint(storageReqs) != fmt.Sprint(want) {
		t.Errorf("storage saw (Authorization|Range) %q, want %q: no credentials, and the resumed range", storageReqs, want)
	}
}
