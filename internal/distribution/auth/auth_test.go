package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

func TestParseChallenges(t *testing.T) {
	for _, tc := range []struct {
		headers []string
		want    []Challenge
	}{
		{
			[]string{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"`},
			[]Challenge{{"bearer", map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/busybox:pull"}}},
		},
		{
			[]string{`Basic realm="Registry Realm"`},
			[]Challenge{{"basic", map[string]string{"realm": "Registry Realm"}}},
		},
		{
			// Two challenges in one header, a quoted comma and an escaped quote, odd spacing.
			[]string{`Basic realm="a, b" , Bearer  realm = "https://t/x" , service=reg, error="say \"hi\""`},
			[]Challenge{
				{"basic", map[string]string{"realm": "a, b"}},
				{"bearer", map[string]string{"realm": "https://t/x", "service": "reg", "error": `say "hi"`}},
			},
		},
		{
			[]string{`Basic realm="x"`, `Bearer realm="y"`},
			[]Challenge{{"basic", map[string]string{"realm": "x"}}, {"bearer", map[string]string{"realm": "y"}}},
		},
		{[]string{""}, nil},
	} {
		h := http.Header{}
		for _, v := range tc.headers {
			h.Add("WWW-Authenticate", v)
		}
		if got := ParseChallenges(h); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tc.headers, got, tc.want)
		}
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	os.WriteFile(path, []byte(`{
		"auths": {
			"https://index.docker.io/v1/": {"auth": "aHViOmh1YnBhc3M="},
			"https://registry.example.com/v2/": {"auth": "dTpwOmNvbG9u"},
			"tok.example": {"auth": "dTo=", "identitytoken": "refresh-xyz"},
			"old.example": {"username": "o", "password": "p"},
			"bad.example": {"auth": "!!!"}
		},
		"credsStore": "desktop",
		"psFormat": "table {{.ID}}"
	}`), 0o600)
	cf, err := LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ host, user, pass string }{
		{"docker.io", "hub", "hubpass"},
		{"index.docker.io", "hub", "hubpass"},
		{"registry.example.com", "u", "p:colon"},
		{"tok.example", IdentityTokenUser, "refresh-xyz"},
		{"old.example", "o", "p"},
		{"unknown.example", "", ""},
	} {
		u, p, err := cf.Credentials(tc.host)
		if err != nil || u != tc.user || p != tc.pass {
			t.Errorf("%s: %q %q %v, want %q %q", tc.host, u, p, err, tc.user, tc.pass)
		}
	}
	if _, _, err := cf.Credentials("bad.example"); err == nil {
		t.Error("bad base64 accepted")
	}

	cf.Set("docker.io", "new", "secret")
	cf.Set("myreg:5000", "m", "n")
	if !cf.Remove("registry.example.com") {
		t.Error("remove found nothing")
	}
	if err := cf.Save(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("saved with mode %v, want 0600", fi.Mode().Perm())
	}
	var raw map[string]json.RawMessage
	data, _ := os.ReadFile(path)
	json.Unmarshal(data, &raw)
	if string(raw["psFormat"]) != `"table {{.ID}}"` || string(raw["credsStore"]) != `"desktop"` {
		t.Errorf("other keys not kept: %s", data)
	}
	if !strings.Contains(string(raw["auths"]), `"https://index.docker.io/v1/"`) {
		t.Errorf("docker.io not stored under Docker's key: %s", raw["auths"])
	}
	cf2, err := LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if u, p, _ := cf2.Credentials("docker.io"); u != "new" || p != "secret" {
		t.Errorf("docker.io after save: %q %q", u, p)
	}
	if u, _, _ := cf2.Credentials("registry.example.com"); u != "" {
		t.Error("removed login still there")
	}
	if got := cf2.Hosts(); !reflect.DeepEqual(got, []string{"bad.example", "docker.io", "myreg:5000", "old.example", "tok.example"}) {
		t.Errorf("hosts %v", got)
	}

	missing, err := LoadConfigFile(filepath.Join(dir, "nope", "config.json"))
	if err != nil {
		t.Fatalf("missing file: %v", err)
	}
	if u, _, _ := missing.Credentials("docker.io"); u != "" {
		t.Error("missing file has logins")
	}
}

// tokenCounter is a token server that counts its requests and can hold them.
func tokenCounter(t *testing.T, expiresIn int) (*httptest.Server, *atomic.Int32, chan struct{}) {
	var n atomic.Int32
	gate := make(chan struct{})
	close(gate)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n.Add(1)
		<-gate
		if u, p, _ := req.BasicAuth(); u != "" && (u != "u" || p != "p") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"token": "t" + req.URL.Query().Get("scope"), "expires_in": expiresIn})
	}))
	t.Cleanup(srv.Close)
	return srv, &n, gate
}

func TestTokenCacheAndExpiry(t *testing.T) {
	srv, n, _ := tokenCounter(t, 300)
	a := NewAuthorizer(srv.Client(), "berth/test")
	now := time.Now()
	a.now = func() time.Time { return now }
	ch := Challenge{Scheme: "bearer", Params: map[string]string{"realm": srv.URL + "/token", "service": "s"}}
	acc := Access{Registry: "r", Credentials: Static("u", "p"), Scopes: []string{"repository:a:pull"}}
	ctx := context.Background()

	for i := 0; i < 3; i++ {
		if tok, err := a.Token(ctx, ch, acc); err != nil || tok.Token != "trepository:a:pull" {
			t.Fatalf("token = %+v, %v", tok, err)
		}
	}
	if n.Load() != 1 {
		t.Fatalf("%d token requests for one scope, want 1", n.Load())
	}
	other := acc
	other.Scopes = []string{"repository:b:pull"}
	a.Token(ctx, ch, other)
	anon := acc
	anon.Credentials = nil
	a.Token(ctx, ch, anon)
	if n.Load() != 3 {
		t.Fatalf("%d token requests, want 3 (a new scope and anonymous are separate tokens)", n.Load())
	}
	now = now.Add(299 * time.Second) // past 90% of the lifetime: renewed early
	a.Token(ctx, ch, acc)
	if n.Load() != 4 {
		t.Fatalf("%d token requests after expiry, want 4", n.Load())
	}

	bad := acc
	bad.Credentials = Static("u", "wrong")
	if _, err := a.Token(ctx, ch, bad); !errdefs.IsUnauthorized(err) {
		t.Fatalf("wrong password: %v, want Unauthenticated", err)
	}
}

func TestTokenShortLifeCountsAsSixtySeconds(t *testing.T) {
	srv, n, _ := tokenCounter(t, 5)
	a := NewAuthorizer(srv.Client(), "berth")
	now := time.Now()
	a.now = func() time.Time { return now }
	ch := Challenge{Scheme: "bearer", Params: map[string]string{"realm": srv.URL}}
	acc := Access{Scopes: []string{"repository:a:pull"}}
	a.Token(context.Background(), ch, acc)
	now = now.Add(30 * time.Second)
	a.Token(context.Background(), ch, acc)
	if n.Load() != 1 {
		t.Fatalf("%d token requests within 60 s, want 1", n.Load())
	}
}

func TestConcurrentTokenRequestsShareOneFetch(t *testing.T) {
	srv, n, _ := tokenCounter(t, 300)
	a := NewAuthorizer(srv.Client(), "berth")
	ch := Challenge{Scheme: "bearer", Params: map[string]string{"realm": srv.URL}}
	acc := Access{Scopes: []string{"repository:a:pull"}}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Go(func() {
			if _, err := a.Token(context.Background(), ch, acc); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d token requests from 16 concurrent callers, want 1", n.Load())
	}
}

func TestAuthorizeAndChallenged(t *testing.T) {
	a := NewAuthorizer(http.DefaultClient, "berth")
	acc := Access{Registry: "reg", Credentials: Static("u", "p")}
	req := httptest.NewRequest(http.MethodGet, "http://reg/v2/", nil)
	if err := a.Authorize(context.Background(), req, acc); err != nil || req.Header.Get("Authorization") != "" {
		t.Fatalf("before any challenge the request must go anonymous: %q %v", req.Header.Get("Authorization"), err)
	}
	resp := &http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {`Basic realm="x"`}}}
	if !a.Challenged("reg", resp, "", acc) {
		t.Fatal("a Basic challenge with a login at hand must be retried")
	}
	a.Authorize(context.Background(), req, acc)
	if u, p, ok := req.BasicAuth(); !ok || u != "u" || p != "p" {
		t.Fatalf("Basic login not set: %q", req.Header.Get("Authorization"))
	}
	if a.Challenged("reg", resp, req.Header.Get("Authorization"), acc) {
		t.Fatal("a refused login must not be retried")
	}
	if a.Challenged("reg", resp, "", Access{Registry: "reg"}) {
		t.Fatal("a Basic challenge without a login cannot be answered")
	}
}
