package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-engine/berth/internal/daemon"
	"github.com/berth-engine/berth/internal/daemon/events"
)

// fakeSystem is a SystemBackend with canned answers and a real broker.
type fakeSystem struct {
	broker  *events.Broker
	infoErr error
}

func (f *fakeSystem) SystemInfo(ctx context.Context) (*system.Info, error) {
	if f.infoErr != nil {
		return nil, f.infoErr
	}
	return &system.Info{ID: "test-id", Driver: "overlay2", CgroupVersion: "2", DockerRootDir: "/var/lib/berth"}, nil
}

func (f *fakeSystem) SystemVersion(ctx context.Context) system.VersionResponse {
	return system.VersionResponse{Platform: system.PlatformInfo{Name: "berth"}, Version: "1.2.3", Os: "linux", Arch: "amd64"}
}

func (f *fakeSystem) SystemDiskUsage(ctx context.Context, opts daemon.DiskUsageOptions) (*daemon.DiskUsage, error) {
	du := &daemon.DiskUsage{}
	if opts.Images {
		du.Images = []image.Summary{}
	}
	if opts.Containers {
		du.Containers = []container.Summary{}
	}
	if opts.Volumes {
		du.Volumes = []volume.Volume{}
	}
	if opts.BuildCache {
		du.BuildCache = []build.CacheRecord{}
	}
	return du, nil
}

func (f *fakeSystem) Events() *events.Broker { return f.broker }

func newTestServer(t *testing.T) (*Server, *fakeSystem) {
	t.Helper()
	b := &fakeSystem{broker: events.NewBroker()}
	return New(Options{System: b, Version: "1.2.3"}), b
}

// do serves one request and returns the recorded response.
func do(t *testing.T, h http.Handler, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

// message decodes Docker's error body, failing the test if it is not one.
func message(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, body %q", ct, rec.Body.String())
	}
	var e struct{ Message string }
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	return e.Message
}

func TestVersionNegotiation(t *testing.T) {
	s, _ := newTestServer(t)
	for _, c := range []struct {
		path    string
		status  int
		message string
	}{
		{"/_ping", 200, ""},
		{"/v1.24/_ping", 200, ""},
		{"/v1.41/_ping", 200, ""},
		{"/v1.50/_ping", 200, ""},
		{"/v1.51/_ping", 400, "client version 1.51 is too new. Maximum supported API version is 1.50"},
		{"/v1.99/_ping", 400, "client version 1.99 is too new. Maximum supported API version is 1.50"},
		{"/v1.23/_ping", 400, "client version 1.23 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/v1/_ping", 400, "client version 1 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
		{"/vlatest/_ping", 404, "page not found"},
		{"/v1.50", 404, "page not found"},
		{"/v1.50/v1.50/_ping", 404, "page not found"},
	} {
		rec := do(t, s, "GET", c.path)
		if rec.Code != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.path, rec.Code, c.status, rec.Body)
			continue
		}
		if c.message != "" {
			if got := message(t, rec); got != c.message {
				t.Errorf("%s: message %q, want %q", c.path, got, c.message)
			}
		}
		if rec.Header().Get("Api-Version") != "1.50" || rec.Header().Get("Ostype") != "linux" {
			t.Errorf("%s: common headers missing: %v", c.path, rec.Header())
		}
	}
}

func TestPing(t *testing.T) {
	s, _ := newTestServer(t)
	for _, method := range []string{"GET", "HEAD"} {
		rec := do(t, s, method, "/_ping")
		want := map[string]string{
			"Api-Version":         "1.50",
			"Ostype":              "linux",
			"Builder-Version":     "1",
			"Docker-Experimental": "false",
			"Swarm":               "inactive",
			"Cache-Control":       "no-cache, no-store, must-revalidate",
			"Pragma":              "no-cache",
			"Server":              "berth/1.2.3 (linux)",
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s /_ping: %s = %q, want %q", method, k, got, v)
			}
		}
		body := "OK"
		if method == "HEAD" {
			body = ""
		}
		if rec.Code != 200 || rec.Body.String() != body {
			t.Errorf("%s /_ping: %d %q", method, rec.Code, rec.Body)
		}
	}
}

func TestUnknownRoutes(t *testing.T) {
	s, _ := newTestServer(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/nope"},
		{"GET", "/v1.50/containers/json"},
		{"POST", "/v1.50/info"},
		{"DELETE", "/_ping"},
	} {
		rec := do(t, s, c.method, c.path)
		if rec.Code != 404 || message(t, rec) != "page not found" {
			t.Errorf("%s %s: %d %q", c.method, c.path, rec.Code, rec.Body)
		}
	}
	// An area without a backend is not served.
	empty := New(Options{})
	if rec := do(t, empty, "GET", "/_ping"); rec.Code != 404 {
		t.Errorf("no system backend: /_ping answered %d", rec.Code)
	}
}

// markedNotFound is an error classed the moby way, by a marker method.
type markedNotFound struct{}

func (markedNotFound) Error() string { return "No such thing: x" }
func (markedNotFound) NotFound()     {}

func TestWriteError(t *testing.T) {
	s, _ := newTestServer(t)
	for _, c := range []struct {
		err     error
		status  int
		message string
	}{
		{errdefs.ErrNotFound.WithMessage("No such image: busybox:latest"), 404, "No such image: busybox:latest"},
		{fmt.Errorf("image %q: %w", "x", errdefs.ErrNotFound), 404, `image "x": not found`},
		{markedNotFound{}, 404, "No such thing: x"},
		{fmt.Errorf("bad: %w", errdefs.ErrInvalidArgument), 400, "bad: invalid argument"},
		{errdefs.ErrConflict, 409, "conflict"},
		{fmt.Errorf("tag: %w", errdefs.ErrAlreadyExists), 409, "tag: already exists"},
		{errdefs.ErrUnauthenticated, 401, "unauthorized"},
		{errdefs.ErrPermissionDenied, 403, "permission denied"},
		{errdefs.ErrUnavailable, 503, "unavailable"},
		{errdefs.ErrNotImplemented, 501, "not implemented"},
		{errors.New("disk on fire"), 500, "disk on fire"},
		{fmt.Errorf("x: %w", errdefs.ErrInternal), 500, "x: internal"},
	} {
		rec := httptest.NewRecorder()
		s.writeError(&responseWriter{ResponseWriter: rec}, httptest.NewRequest("GET", "/", nil), c.err)
		if rec.Code != c.status || message(t, rec) != c.message {
			t.Errorf("%v: got %d %q, want %d %q", c.err, rec.Code, rec.Body, c.status, c.message)
		}
	}

	rec := httptest.NewRecorder()
	s.writeError(&responseWriter{ResponseWriter: rec}, httptest.NewRequest("POST", "/", nil), errdefs.ErrNotModified)
	if rec.Code != 304 || rec.Body.Len() != 0 {
		t.Errorf("not modified: %d %q", rec.Code, rec.Body)
	}

	// After the header went out, the error cannot change the response.
	rec = httptest.NewRecorder()
	w := &responseWriter{ResponseWriter: rec}
	w.WriteHeader(200)
	w.Write([]byte("partial"))
	s.writeError(w, httptest.NewRequest("GET", "/", nil), errors.New("late"))
	if rec.Code != 200 || rec.Body.String() != "partial" {
		t.Errorf("late error changed the response: %d %q", rec.Code, rec.Body)
	}
}

func TestVersionRoute(t *testing.T) {
	s, _ := newTestServer(t)
	rec := do(t, s, "GET", "/v1.44/version")
	var v system.VersionResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.APIVersion != "1.50" || v.MinAPIVersion != "1.24" || v.Version != "1.2.3" || v.Platform.Name != "berth" {
		t.Fatalf("version: %+v", v)
	}
	if len(v.Components) != 1 || v.Components[0].Name != "Engine" || v.Components[0].Details["ApiVersion"] != "1.50" ||
		v.Components[0].Details["MinAPIVersion"] != "1.24" {
		t.Fatalf("components: %+v", v.Components)
	}
}

func TestInfoRoute(t *testing.T) {
	s, b := newTestServer(t)
	rec := do(t, s, "GET", "/v1.50/info")
	var info system.Info
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || info.ID != "test-id" || info.CgroupVersion != "2" {
		t.Fatalf("info: %d %+v", rec.Code, info)
	}
	b.infoErr = errors.New("cannot read /proc")
	rec = do(t, s, "GET", "/info")
	if rec.Code != 500 || message(t, rec) != "info: cannot read /proc" {
		t.Fatalf("failing info: %d %q", rec.Code, rec.Body)
	}
}

func TestDiskUsageRoute(t *testing.T) {
	s, _ := newTestServer(t)
	rec := do(t, s, "GET", "/v1.50/system/df")
	want := `{"LayersSize":0,"Images":[],"Containers":[],"Volumes":[],"BuildCache":[]}` + "\n"
	if rec.Code != 200 || rec.Body.String() != want {
		t.Fatalf("df: %d %s", rec.Code, rec.Body)
	}
	rec = do(t, s, "GET", "/v1.50/system/df?type=image&type=volume")
	want = `{"LayersSize":0,"Images":[],"Containers":null,"Volumes":[],"BuildCache":null}` + "\n"
	if rec.Body.String() != want {
		t.Fatalf("df by type: %s", rec.Body)
	}
	rec = do(t, s, "GET", "/system/df?type=secrets")
	if rec.Code != 400 || message(t, rec) != "unknown object type: secrets" {
		t.Fatalf("df bad type: %d %s", rec.Code, rec.Body)
	}
}

func TestEventsPastWindow(t *testing.T) {
	s, b := newTestServer(t)
	before := time.Now()
	b.broker.Publish(eventtypes.ImageEventType, eventtypes.ActionPull, eventtypes.Actor{ID: "busybox:latest"})
	b.broker.Publish(eventtypes.ContainerEventType, eventtypes.ActionStart,
		eventtypes.Actor{ID: "c0ffee", Attributes: map[string]string{"image": "busybox"}})
	b.broker.Publish(eventtypes.ImageEventType, eventtypes.ActionTag, eventtypes.Actor{ID: "busybox:v1"})
	after := time.Now()

	q := fmt.Sprintf("/v1.50/events?since=%d.%09d&until=%d.%09d", before.Unix(), before.Nanosecond(), after.Unix(), after.Nanosecond())
	rec := do(t, s, "GET", q) // returns: until is in the past
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(rec.Body.String()), "\n") {
		var m struct {
			Status, ID, From string
			Type, Action     string
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s %s %s/%s/%s", m.Type, m.Action, m.Status, m.ID, m.From))
	}
	want := "image pull pull/busybox:latest/ | container start start/c0ffee/busybox | image tag tag/busybox:v1/"
	if strings.Join(got, " | ") != want {
		t.Fatalf("events:\n%s\nwant\n%s", strings.Join(got, " | "), want)
	}

	filters := `{"type":{"image":true},"event":["tag"]}`
	rec = do(t, s, "GET", q+"&filters="+filters)
	if n := strings.Count(rec.Body.String(), "\n"); n != 1 || !strings.Contains(rec.Body.String(), `"Action":"tag"`) {
		t.Fatalf("filtered events: %s", rec.Body)
	}
}

func TestEventsRefusals(t *testing.T) {
	s, _ := newTestServer(t)
	for _, c := range []struct{ query, message string }{
		{`filters={"colour":["red"]}`, "invalid filter 'colour'"},
		{`filters=notjson`, "invalid filter: invalid character 'o' in literal null (expecting 'u')"},
		{`since=20&until=10`, "`since` time (20.000000000) cannot be after `until` time (10.000000000)"},
		{`since=yesterday`, `invalid since: "yesterday" is not a timestamp (seconds[.nanoseconds]), an RFC 3339 date or a duration`},
	} {
		rec := do(t, s, "GET", "/events?"+c.query)
		if rec.Code != 400 || message(t, rec) != c.message {
			t.Errorf("%s: %d %q, want 400 %q", c.query, rec.Code, rec.Body, c.message)
		}
	}
}

// serveUnix runs s on a unix socket in a temporary directory and returns a client for it.
func serveUnix(t *testing.T, s *Server) *http.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Shutdown(context.Background())
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}

func TestEventsLiveStreamAndShutdown(t *testing.T) {
	s, b := newTestServer(t)
	client := serveUnix(t, s)
	resp, err := client.Get(`http://berth/v1.50/events?filters={"type":["image"]}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
	}
	// The headers arrived, so the subscription exists: what is published now is streamed.
	b.broker.Publish(eventtypes.ContainerEventType, eventtypes.ActionStart, eventtypes.Actor{ID: "c1"})
	b.broker.Publish(eventtypes.ImageEventType, eventtypes.ActionPull, eventtypes.Actor{ID: "busybox:latest"})
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	var m eventtypes.Message
	if err := json.Unmarshal([]byte(line), &m); err != nil || m.Type != "image" || m.Actor.ID != "busybox:latest" || m.Scope != "local" {
		t.Fatalf("streamed %q (%v)", line, err)
	}

	// Shutdown ends the stream instead of waiting for the client to leave.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Fatalf("after shutdown: %q, %v", rest, err)
	}
	if n := b.broker.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers left", n)
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"0", time.Unix(0, 0)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.5", time.Unix(1700000000, 500000000)},
		{"1700000000.000000001", time.Unix(1700000000, 1)},
		{"10m", now.Add(-10 * time.Minute)},
		{"2026-11-23T10:00:00Z", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)},
		{"2026-11-23T10:00:00+02:00", time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)},
	} {
		got, err := parseTime(c.in, now)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"soon", "1.2.3", "-5", "1700000000.1234567890"} {
		if _, err := parseTime(bad, now); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
}

func TestParseFilters(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, `map[]`},
		{`{"type":{"image":true,"container":true}}`, `map[type:[container image]]`},
		{`{"type":["image"],"label":["a=b"]}`, `map[label:[a=b] type:[image]]`},
	} {
		r := httptest.NewRequest("GET", "/events?filters="+c.in, nil)
		got, err := parseFilters(r)
		if err != nil || fmt.Sprint(got) != c.want {
			t.Errorf("%s: %v %v, want %s", c.in, got, err, c.want)
		}
	}
	r := httptest.NewRequest("GET", `/events?filters={"type":7}`, nil)
	if _, err := parseFilters(r); !errdefs.IsInvalidArgument(err) {
		t.Errorf("numeric filter values: %v", err)
	}
}

func TestBoolValue(t *testing.T) {
	for q, want := range map[string]bool{"": false, "a=0": false, "a=no": false, "a=false": false, "a=none": false,
		"a=1": true, "a=true": true, "a=yes": true, "a": false} {
		if got := boolValue(httptest.NewRequest("GET", "/?"+q, nil), "a"); got != want {
			t.Errorf("%q: %v", q, got)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"1.50", "1.50", 0}, {"1.9", "1.24", -1}, {"1.100", "1.50", 1}, {"2", "1.99", 1}, {"1.24.0", "1.24", 0}} {
		if got := compareVersions(c.a, c.b); got != c.want {
			t.Errorf("compare(%s, %s) = %d", c.a, c.b, got)
		}
	}
}
