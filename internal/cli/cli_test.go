package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeDaemon imitates the few Engine API endpoints the verbs call, on a unix
// socket, as berthd answers them (API 1.50). It records the requests.
type fakeDaemon struct {
	t      *testing.T
	socket string
	mux    *http.ServeMux

	mu       sync.Mutex
	requests []*http.Request
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	dir, err := os.MkdirTemp("", "berth-test-cli-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &fakeDaemon{t: t, socket: filepath.Join(dir, "d.sock"), mux: http.NewServeMux()}
	d.mux.HandleFunc("GET /_ping", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("OK")) })
	l, err := net.Listen("unix", d.socket)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.requests = append(d.requests, r)
		d.mu.Unlock()
		w.Header().Set("Api-Version", "1.50")
		w.Header().Set("Ostype", "linux")
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/v1.50")
		d.mux.ServeHTTP(w, r)
	}))
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return d
}

func (d *fakeDaemon) Host() string { return "unix://" + d.socket }

// handleJSON answers pattern with v as JSON.
func (d *fakeDaemon) handleJSON(pattern string, v any) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	})
}

// lastRequest returns the last request for path (without version prefix).
func (d *fakeDaemon) lastRequest(path string) *http.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.requests) - 1; i >= 0; i-- {
		if d.requests[i].URL.Path == path {
			return d.requests[i]
		}
	}
	d.t.Fatalf("no request for %s", path)
	return nil
}

// result is one run of the CLI.
type result struct {
	stdout, stderr string
	code           int
}

// run runs berth with args and environment env (name=value pairs).
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), args, Env{
		Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return env[k] },
		Build:  BuildInfo{Version: "1.2.3-test", GitCommit: "abcdef0", BuildTime: "2026-11-20T10:00:00Z"},
	})
	return result{out.String(), errOut.String(), code}
}

// runAt runs berth against the daemon d.
func runAt(t *testing.T, d *fakeDaemon, args ...string) result {
	t.Helper()
	return run(t, nil, append([]string{"-H", d.Host()}, args...)...)
}

func TestHostChoice(t *testing.T) {
	a, b, c := newFakeDaemon(t), newFakeDaemon(t), newFakeDaemon(t)
	for _, d := range []*fakeDaemon{a, b, c} {
		d.handleJSON("GET /version", map[string]any{"Version": d.socket, "ApiVersion": "1.50"})
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want *fakeDaemon
	}{
		{"DOCKER_HOST", map[string]string{"DOCKER_HOST": a.Host()}, nil, a},
		{"BERTH_HOST over DOCKER_HOST", map[string]string{"DOCKER_HOST": a.Host(), "BERTH_HOST": b.Host()}, nil, b},
		{"-H over both", map[string]string{"DOCKER_HOST": a.Host(), "BERTH_HOST": b.Host()}, []string{"-H", c.Host()}, c},
		{"--host", nil, []string{"--host", c.Host()}, c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.env, append(tc.args, "version", "--format", "{{.Server.Version}}")...)
			if r.code != 0 || strings.TrimSpace(r.stdout) != tc.want.socket {
				t.Errorf("exit %d, server %q (stderr %q), want %s", r.code, r.stdout, r.stderr, tc.want.socket)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"message":"info: the disk is on fire"}`))
	})
	missing := filepath.Join(t.TempDir(), "none.sock")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string // exact
	}{
		{"daemon error", []string{"-H", d.Host(), "info"}, 1,
			"Error response from daemon: info: the disk is on fire\n"},
		{"no daemon", []string{"-H", "unix://" + missing, "system", "df"}, 1,
			"Cannot connect to the berth daemon at unix://" + missing + ". Is berthd running?\n"},
		{"unknown flag", []string{"version", "--bogus"}, 125,
			"unknown flag: --bogus\n\nUsage:  berth version [OPTIONS]\n\nRun 'berth version --help' for more information\n"},
		{"bad filter", []string{"events", "--filter", "type"}, 125,
			"invalid argument \"type\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\n\nUsage:  berth events [OPTIONS]\n\nRun 'berth events --help' for more information\n"},
		{"unknown command", []string{"frobnicate"}, 1,
			"berth: unknown command: berth frobnicate\n\nRun 'berth --help' for more information\n"},
		{"unknown subcommand", []string{"system", "frob"}, 1,
			"berth: unknown command: berth system frob\n\nRun 'berth system --help' for more information\n"},
		{"extra argument", []string{"info", "x"}, 1,
			"berth: 'berth info' accepts no arguments\n\nUsage:  berth info [OPTIONS]\n\nRun 'berth info --help' for more information\n"},
		{"bad host", []string{"-H", "ssh://example", "version"}, 1,
			"invalid host \"ssh://example\": berth connects to unix:///path/to/socket (or tcp://host:port)\n"},
		{"bad log level", []string{"--log-level", "loud", "version"}, 125,
			"invalid argument \"loud\" for \"-l, --log-level\" flag: not a log level (debug, info, warn, error, fatal)\n\nUsage:  berth version [OPTIONS]\n\nRun 'berth version --help' for more information\n"},
		{"template syntax", []string{"-H", d.Host(), "system", "df", "--format", "{{.Size"}, 1,
			"template parsing error: template: df:1: unclosed action\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, tc.args...)
			if r.code != tc.code || r.stderr != tc.stderr {
				t.Errorf("berth %s: exit %d, stderr:\n%q\nwant exit %d, stderr:\n%q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	for _, flag := range []string{"-v", "--version"} {
		r := run(t, nil, flag)
		if r.code != 0 || r.stdout != "berth version 1.2.3-test, build abcdef0\n" {
			t.Errorf("berth %s: exit %d, %q", flag, r.code, r.stdout)
		}
	}
}

func TestHelpWithoutArguments(t *testing.T) {
	for _, args := range [][]string{nil, {"system"}} {
		r := run(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Available Commands:") {
			t.Errorf("berth %v: exit %d, stdout %q stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}
