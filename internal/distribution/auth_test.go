package distribution

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/distribution/auth"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// tokenServer is a Docker-style token server with one account, and the registry front
// that demands its tokens: each request needs a token whose scopes grant pull (GET,
// HEAD) or push (anything else) on the repository, and pull on a mount's source.
type tokenServer struct {
	user, pass string
	srv        *httptest.Server

	mu       sync.Mutex
	requests []url.Values // every token request's parameters
	granted  map[string][]string
	n        int
}

func newTokenServer(t *testing.T, user, pass string) *tokenServer {
	ts := &tokenServer{user: user, pass: pass, granted: map[string][]string{}}
	ts.srv = httptest.NewServer(http.HandlerFunc(ts.serveToken))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) serveToken(w http.ResponseWriter, req *http.Request) {
	req.ParseForm()
	ts.mu.Lock()
	ts.requests = append(ts.requests, req.Form)
	ts.mu.Unlock()
	var scopes []string
	refresh := ""
	switch {
	case req.Method == http.MethodPost && req.PostForm.Get("grant_type") == "refresh_token":
		if req.PostForm.Get("refresh_token") != "refresh-"+ts.user {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "error_description": "bad refresh token"})
			return
		}
		scopes = strings.Fields(req.PostForm.Get("scope"))
	case req.Method == http.MethodGet:
		u, p, ok := req.BasicAuth()
		if !ok || u != ts.user || p != ts.pass {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"details": "incorrect username or password"})
			return
		}
		scopes = req.Form["scope"]
		if req.Form.Get("offline_token") == "true" {
			refresh = "refresh-" + u
		}
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	ts.mu.Lock()
	ts.n++
	tok := fmt.Sprintf("tok%d", ts.n)
	ts.granted[tok] = scopes
	ts.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{
		"token": tok, "access_token": tok, "refresh_token": refresh,
		"expires_in": 300, "issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}

func (ts *tokenServer) allows(tok, repo, action string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, s := range ts.granted[tok] {
		parts := strings.Split(s, ":")
		if len(parts) == 3 && parts[0] == "repository" && parts[1] == repo &&
			slices.Contains(strings.Split(parts[2], ","), action) {
			return true
		}
	}
	return false
}

func (ts *tokenServer) front(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		repo, _, _ := splitV2(req.URL.Path)
		action := "push"
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			action = "pull"
		}
		tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		ok := tok != ""
		if repo != "" {
			ok = ok && ts.allows(tok, repo, action)
			if from := req.URL.Query().Get("from"); from != "" {
				ok = ok && ts.allows(tok, from, "pull")
			}
		} else {
			ts.mu.Lock()
			_, ok = ts.granted[tok]
			ts.mu.Unlock()
		}
		if !ok {
			ch := fmt.Sprintf(`Bearer realm="%s/token",service="test-registry"`, ts.srv.URL)
			if repo != "" {
				ch += fmt.Sprintf(`,scope="repository:%s:%s"`, repo, action)
			}
			w.Header().Set("WWW-Authenticate", ch)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		h.ServeHTTP(w, req)
	})
}

func (ts *tokenServer) scopeRequests() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var out []string
	for _, r := range ts.requests {
		s := r["scope"]
		if r.Get("grant_type") != "" {
			s = strings.Fields(r.Get("scope"))
		}
		out = append(out, strings.Join(s, " "))
	}
	return out
}

func TestBearerTokenAuth(t *testing.T) {
	ts := newTokenServer(t, "alice", "s3cret")
	scoped := &repoScoped{blobs: map[string]bool{}}
	srv := startRegistry(t, func(h http.Handler) http.Handler { return ts.front(scoped.wrap(h)) })
	host := hostOf(srv)
	c := newTestClient(t, Config{Credentials: auth.Static("alice", "s3cret")}, host)
	img := newImage(t, 2, 10<<10, nil)

	pushImage(t, openRepo(t, c, host+"/team/base"), img, "v1", PushOptions{})
	pullImage(t, openRepo(t, c, host+"/team/base"), "v1", img)
	res := pushImage(t, openRepo(t, c, host+"/team/app"), img, "v1", PushOptions{MountFrom: []string{"team/base"}})
	if res[0] != Mounted {
		t.Errorf("push to team/app: %v, want mounted", res[0])
	}

	// One token per scope set, each fetched once and then reused from the cache.
	want := []string{
		"repository:team/base:pull,push",
		"repository:team/base:pull",
		"repository:team/app:pull,push",
		"repository:team/app:pull,push repository:team/base:pull",
	}
	if got := ts.scopeRequests(); !slices.Equal(got, want) {
		t.Errorf("token requests for scopes\n %q\nwant\n %q", got, want)
	}
	first := ts.requests[0]
	if first.Get("service") != "test-registry" || first.Get("account") != "alice" || first.Get("offline_token") != "true" {
		t.Errorf("token request parameters %v", first)
	}

	t.Run("wrong password", func(t *testing.T) {
		c := newTestClient(t, Config{Credentials: auth.Static("alice", "wrong")}, host)
		_, err := openRepo(t, c, host+"/team/base").Resolve(context.Background(), "v1")
		if !errdefs.IsUnauthorized(err) || !strings.Contains(err.Error(), "incorrect username or password") {
			t.Fatalf("got %v, want Unauthenticated naming the cause", err)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		c := newTestClient(t, Config{}, host)
		_, err := openRepo(t, c, host+"/team/base").Resolve(context.Background(), "v1")
		if !errdefs.IsUnauthorized(err) {
			t.Fatalf("got %v, want Unauthenticated", err)
		}
	})
	t.Run("login and identity token", func(t *testing.T) {
		c := newTestClient(t, Config{}, host)
		idt, err := c.Login(context.Background(), host, auth.Static("alice", "s3cret"))
		if err != nil || idt != "refresh-alice" {
			t.Fatalf("login = %q, %v; want the refresh token", idt, err)
		}
		if _, err := c.Login(context.Background(), host, auth.Static("alice", "nope")); !errdefs.IsUnauthorized(err) {
			t.Fatalf("login with a wrong password: %v, want Unauthenticated", err)
		}
		// The identity token replaces the password (OAuth2 refresh_token grant).
		c2 := newTestClient(t, Config{Credentials: auth.Static(auth.IdentityTokenUser, idt)}, host)
		pullImage(t, openRepo(t, c2, host+"/team/base"), "v1", img)
	})
}

// basicFront demands Basic credentials and counts the refusals it sends.
type basicFront struct {
	user, pass string
	mu         sync.Mutex
	refusals   int
}

func (b *basicFront) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u, p, ok := req.BasicAuth()
		if !ok || u != b.user || p != b.pass {
			b.mu.Lock()
			b.refusals++
			b.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="test registry"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		h.ServeHTTP(w, req)
	})
}

func TestBasicAuthFromDockerConfig(t *testing.T) {
	front := &basicFront{user: "bob", pass: "hunter2"}
	srv := startRegistry(t, front.wrap)
	host := hostOf(srv)

	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	cfg := fmt.Sprintf(`{"auths":{"http://%s/v2/":{"auth":"%s"}},"psFormat":"table"}`,
		host, base64.StdEncoding.EncodeToString([]byte("bob:hunter2")))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cf, err := auth.LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, Config{Credentials: cf}, host)
	img := newImage(t, 2, 1000, nil)
	r := openRepo(t, c, host+"/app")
	pushImage(t, r, img, "v1", PushOptions{})
	pullImage(t, r, "v1", img)
	// After the first challenge every request carried the login from the start.
	front.mu.Lock()
	refusals := front.refusals
	front.mu.Unlock()
	if refusals != 1 {
		t.Errorf("%d requests refused, want 1 (the first)", refusals)
	}

	idt, err := c.Login(context.Background(), host, cf)
	if err != nil || idt != "" {
		t.Fatalf("basic login = %q, %v", idt, err)
	}
	bad := newTestClient(t, Config{Credentials: auth.Static("bob", "wrong")}, host)
	_, err = openRepo(t, bad, host+"/app").Resolve(context.Background(), "v1")
	if !errdefs.IsUnauthorized(err) {
		t.Fatalf("wrong password: %v, want Unauthenticated", err)
	}
	if _, err := bad.Login(context.Background(), host, auth.Static("bob", "wrong")); !errdefs.IsUnauthorized(err) {
		t.Fatalf("login with a wrong password: %v, want Unauthenticated", err)
	}
}

func TestPerRepositoryCredentials(t *testing.T) {
	// The daemon passes each request's login (X-Registry-Auth) to Repository; it wins
	// over the client's default.
	front := &basicFront{user: "carol", pass: "pw"}
	srv := startRegistry(t, front.wrap)
	host := hostOf(srv)
	c := newTestClient(t, Config{Credentials: auth.Static("carol", "stale")}, host)
	n, _ := reference.ParseNormalizedNamed(host + "/app")
	r, err := c.Repository(context.Background(), n, auth.Static("carol", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	pushImage(t, r, newImage(t, 1, 100, nil), "v1", PushOptions{})
}
