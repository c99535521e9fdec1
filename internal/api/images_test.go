package api

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"context"

	cerrdefs "github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/daemon"
)

// fakeImages records what the routes asked for and answers from canned data.
type fakeImages struct {
	callLog
	auth *registry.AuthConfig
	body string
}

func (f *fakeImages) Images(ctx context.Context, o daemon.ImageListOptions) ([]image.Summary, error) {
	f.call("list all=%v filters=%v", o.All, o.Filters)
	return []image.Summary{{ID: "sha256:abc", RepoTags: []string{"busybox:latest"}}}, nil
}

func (f *fakeImages) ImageInspect(ctx context.Context, ref string) (*image.InspectResponse, error) {
	f.call("inspect %s", ref)
	if ref == "nosuch" {
		return nil, fmt.Errorf("No such image: %s: %w", ref, cerrdefs.ErrNotFound)
	}
	return &image.InspectResponse{ID: "sha256:abc", RepoTags: []string{ref}, Size: 42,
		Config: &dockerspec.DockerOCIImageConfig{ImageConfig: ocispec.ImageConfig{Cmd: []string{"sh"}}}}, nil
}

// Image inspect shows the fields each API version showed: before 1.50 a
// container config's every field, before 1.45 Container and ContainerConfig,
// before 1.44 VirtualSize.
func TestImageInspectForVersion(t *testing.T) {
	s, _ := newImageServer(t)
	inspect := func(version string) map[string]any {
		t.Helper()
		rec := send(t, s, "GET", "/v"+version+"/images/bbox/json", "", nil)
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || rec.Code != 200 {
			t.Fatalf("inspect at %s: %d %s", version, rec.Code, rec.Body)
		}
		return m
	}
	old := inspect("1.41")
	cfg, _ := old["Config"].(map[string]any)
	if v, ok := cfg["Env"]; !ok || v != nil || cfg["Hostname"] != "" || cfg["AttachStdin"] != false || fmt.Sprint(cfg["Cmd"]) != "[sh]" {
		t.Errorf("1.41 Config: %v", cfg)
	}
	if old["Container"] != "" || old["ContainerConfig"] == nil || old["VirtualSize"] != float64(42) || old["Parent"] != "" {
		t.Errorf("1.41: %v", old)
	}
	mid := inspect("1.44")
	if _, ok := mid["VirtualSize"]; ok || mid["Container"] != "" {
		t.Errorf("1.44: %v", mid)
	}
	now := inspect("1.50")
	cfg, _ = now["Config"].(map[string]any)
	for _, k := range []string{"Hostname", "Env", "Container", "VirtualSize"} {
		if _, ok := cfg[k]; ok {
			t.Errorf("1.50 Config has %s: %v", k, cfg)
		}
		if _, ok := now[k]; ok {
			t.Errorf("1.50 has %s: %v", k, now)
		}
	}
}

func (f *fakeImages) ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error) {
	f.call("history %s", ref)
	return []image.HistoryResponseItem{{ID: "sha256:abc", CreatedBy: "/bin/sh"}}, nil
}

func (f *fakeImages) ImageTag(ctx context.Context, src, repo, tag string) error {
	f.call("tag %s %s %s", src, repo, tag)
	return nil
}

func (f *fakeImages) ImageDelete(ctx context.Context, ref string, force, prune bool) ([]image.DeleteResponse, error) {
	f.call("delete %s force=%v prune=%v", ref, force, prune)
	return []image.DeleteResponse{{Untagged: ref}}, nil
}

func (f *fakeImages) ImagesPrune(ctx context.Context, filters map[string][]string) (*image.PruneReport, error) {
	f.call("prune %v", filters)
	return &image.PruneReport{}, nil
}

func (f *fakeImages) ImagePull(ctx context.Context, ref, tag, platform string, auth *registry.AuthConfig, p daemon.ProgressWriter) error {
	f.call("pull %s %s %s", ref, tag, platform)
	f.auth = auth
	switch ref {
	case "nosuch":
		return fmt.Errorf("pull access denied for nosuch: %w", cerrdefs.ErrNotFound)
	case "breaks":
		p.WriteProgress(jsonstream.Message{Status: "Pulling from library/breaks", ID: "latest"})
		return fmt.Errorf("unexpected EOF")
	}
	p.WriteProgress(jsonstream.Message{Status: "Pulling from library/" + ref, ID: tag})
	p.WriteProgress(jsonstream.Message{Status: "Downloading", ID: "abc", Progress: &jsonstream.Progress{Current: 5, Total: 10}})
	return p.WriteProgress(jsonstream.Message{Status: "Status: Downloaded newer image for " + ref + ":" + tag})
}

func (f *fakeImages) ImagePush(ctx context.Context, ref, tag string, auth *registry.AuthConfig, p daemon.ProgressWriter) error {
	f.call("push %s %s", ref, tag)
	f.auth = auth
	return p.WriteProgress(jsonstream.Message{Status: "Pushed", ID: "abc"})
}

func (f *fakeImages) ImageImport(ctx context.Context, src io.Reader, repo, tag, msg string, changes []string, platform string, p daemon.ProgressWriter) error {
	b, _ := io.ReadAll(src)
	f.body = string(b)
	f.call("import %s %s %q", repo, tag, changes)
	return p.WriteProgress(jsonstream.Message{Status: "sha256:def"})
}

func (f *fakeImages) ImagesSave(ctx context.Context, refs []string, format string, w io.Writer) error {
	f.call("save %v %s", refs, format)
	_, err := io.WriteString(w, "TAR")
	return err
}

func (f *fakeImages) ImagesLoad(ctx context.Context, src io.Reader, quiet bool, p daemon.ProgressWriter) error {
	b, _ := io.ReadAll(src)
	f.body = string(b)
	f.call("load quiet=%v", quiet)
	if f.body == "abc" {
		return fmt.Errorf("unexpected EOF reading the archive: %w", cerrdefs.ErrInvalidArgument)
	}
	return p.WriteProgress(jsonstream.Message{Stream: "Loaded image: busybox:latest\n"})
}

func (f *fakeImages) Login(ctx context.Context, ac registry.AuthConfig) (*registry.AuthResponse, error) {
	f.call("login %s %s", ac.ServerAddress, ac.Username)
	if ac.Password != "right" {
		return nil, fmt.Errorf("unauthorized: incorrect username or password: %w", cerrdefs.ErrUnauthenticated)
	}
	return &registry.AuthResponse{Status: "Login Succeeded"}, nil
}

func TestLoginRoute(t *testing.T) {
	s, f := newImageServer(t)
	rec := send(t, s, "POST", "/v1.50/auth", `{"username":"u","password":"right","serveraddress":"127.0.0.1:5000"}`, nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "Login Succeeded") || f.calls[0] != "login 127.0.0.1:5000 u" {
		t.Errorf("login: %d %s %q", rec.Code, rec.Body, f.calls)
	}
	if rec := send(t, s, "POST", "/v1.50/auth", `{"username":"u","password":"wrong"}`, nil); rec.Code != 401 {
		t.Errorf("wrong password: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, s, "POST", "/v1.50/auth", `{`, nil); rec.Code != 400 {
		t.Errorf("bad body: %d", rec.Code)
	}
}

func newImageServer(t *testing.T) (*Server, *fakeImages) {
	f := &fakeImages{}
	return New(Options{Images: f, Version: "test"}), f
}

func send(t *testing.T, h http.Handler, method, target, body string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestImageRoutesDispatchNamesWithSlashes(t *testing.T) {
	s, f := newImageServer(t)
	cases := []struct {
		method, target string
		status         int
		call           string
	}{
		{"GET", "/v1.50/images/json?all=1&filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D", 200, "list all=true filters=map[dangling:[true]]"},
		{"GET", "/v1.50/images/library/busybox:1.36/json", 200, "inspect library/busybox:1.36"},
		{"GET", "/v1.50/images/127.0.0.1:5000/a/b@sha256:0123/history", 200, "history 127.0.0.1:5000/a/b@sha256:0123"},
		{"POST", "/v1.50/images/busybox/tag?repo=127.0.0.1:5000/x&tag=v1", 201, "tag busybox 127.0.0.1:5000/x v1"},
		{"DELETE", "/v1.50/images/library/busybox:latest?force=1&noprune=1", 200, "delete library/busybox:latest force=true prune=false"},
		{"POST", "/v1.50/images/prune?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D", 200, "prune map[dangling:[false]]"},
		{"GET", "/v1.50/images/get?names=a&names=b/c", 200, "save [a b/c] "},
		{"GET", "/v1.50/images/a/b/get", 200, "save [a/b] "},
	}
	for _, c := range cases {
		f.calls = nil
		rec := send(t, s, c.method, c.target, "", nil)
		if rec.Code != c.status || len(f.calls) != 1 || f.calls[0] != c.call {
			t.Errorf("%s %s: status %d calls %q, want %d %q (body %s)", c.method, c.target, rec.Code, f.calls, c.status, c.call, rec.Body)
		}
	}
	if rec := send(t, s, "GET", "/v1.50/images/nosuch/json", "", nil); rec.Code != 404 || !strings.Contains(rec.Body.String(), "No such image: nosuch") {
		t.Errorf("inspect of a missing image: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, s, "GET", "/v1.50/images/busybox/frobnicate", "", nil); rec.Code != 404 {
		t.Errorf("unknown image operation: %d", rec.Code)
	}
}

// messages decodes a JSON progress stream.
func messages(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stream line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestPullStreamsProgressAndErrors(t *testing.T) {
	s, f := newImageServer(t)
	auth := base64.URLEncoding.EncodeToString([]byte(`{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}`))
	rec := send(t, s, "POST", "/v1.50/images/create?fromImage=busybox&tag=latest&platform=linux/amd64", "", map[string]string{"X-Registry-Auth": auth})
	msgs := messages(t, rec.Body.String())
	if rec.Code != 200 || len(msgs) != 3 || msgs[1]["progressDetail"] == nil || f.auth == nil || f.auth.Username != "u" {
		t.Errorf("pull: %d %s auth %+v", rec.Code, rec.Body, f.auth)
	}
	if f.calls[0] != "pull busybox latest linux/amd64" {
		t.Errorf("pull call %q", f.calls[0])
	}
	// Failing before any progress: a plain HTTP error, as the docker CLI expects.
	if rec := send(t, s, "POST", "/v1.50/images/create?fromImage=nosuch&tag=latest", "", nil); rec.Code != 404 || !strings.Contains(rec.Body.String(), "pull access denied") {
		t.Errorf("pull of a missing image: %d %s", rec.Code, rec.Body)
	}
	// Failing midway: the error travels in the stream.
	rec = send(t, s, "POST", "/v1.50/images/create?fromImage=breaks&tag=latest", "", nil)
	msgs = messages(t, rec.Body.String())
	last := msgs[len(msgs)-1]
	if rec.Code != 200 || last["error"] != "unexpected EOF" || last["errorDetail"].(map[string]any)["message"] != "unexpected EOF" {
		t.Errorf("pull failing midway: %d %s", rec.Code, rec.Body)
	}
	if rec := send(t, s, "POST", "/v1.50/images/create?fromImage=a&fromSrc=-", "", nil); rec.Code != 400 {
		t.Errorf("fromImage and fromSrc together: %d", rec.Code)
	}
	if rec := send(t, s, "POST", "/v1.50/images/create?tag=x", "", map[string]string{"X-Registry-Auth": "%%%"}); rec.Code != 400 {
		t.Errorf("neither fromImage nor fromSrc: %d", rec.Code)
	}
	if rec := send(t, s, "POST", "/v1.50/images/create?fromImage=busybox", "", map[string]string{"X-Registry-Auth": "%%%"}); rec.Code != 400 {
		t.Errorf("garbage X-Registry-Auth: %d %s", rec.Code, rec.Body)
	}
}

func TestImportLoadPush(t *testing.T) {
	s, f := newImageServer(t)
	rec := send(t, s, "POST", "/v1.50/images/create?fromSrc=-&repo=mine&tag=v1&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db", "ROOTFS", nil)
	if rec.Code != 200 || f.body != "ROOTFS" || f.calls[0] != `import mine v1 ["CMD [\"sh\"]" "ENV A=b"]` {
		t.Errorf("import: %d %s calls %q body %q", rec.Code, rec.Body, f.calls, f.body)
	}
	if rec := send(t, s, "POST", "/v1.50/images/create?fromSrc=http://example.invalid/x.tar", "", nil); rec.Code != 501 {
		t.Errorf("import from a URL: %d", rec.Code)
	}
	f.calls = nil
	rec = send(t, s, "POST", "/v1.50/images/load?quiet=1", "TARBALL", nil)
	if rec.Code != 200 || f.body != "TARBALL" || f.calls[0] != "load quiet=true" || !strings.Contains(rec.Body.String(), "Loaded image: busybox:latest") {
		t.Errorf("load: %d %s", rec.Code, rec.Body)
	}
	// A tarball that cannot be loaded: 200, the error in the stream, as Docker.
	rec = send(t, s, "POST", "/v1.50/images/load", "abc", nil)
	if want := `{"errorDetail":{"message":"unexpected EOF reading the archive: invalid argument"},"error":"unexpected EOF reading the archive: invalid argument"}`; rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != want {
		t.Errorf("load of a bad tarball: %d %s", rec.Code, rec.Body)
	}
	f.calls = nil
	rec = send(t, s, "POST", "/v1.50/images/127.0.0.1:5000/a/b/push?tag=v1", "", nil)
	if rec.Code != 200 || f.calls[0] != "push 127.0.0.1:5000/a/b v1" {
		t.Errorf("push: %d %s %q", rec.Code, rec.Body, f.calls)
	}
}
