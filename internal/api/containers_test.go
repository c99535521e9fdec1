package api

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func newContainerServer(t *testing.T) (*Server, *fakeContainers) {
	t.Helper()
	f := newFakeContainers()
	return New(Options{Containers: f, Version: "test"}), f
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// TestContainerRoutes drives each plain route and checks what the backend was
// asked for, the status and the body.
func TestContainerRoutes(t *testing.T) {
	s, f := newContainerServer(t)
	legacyFilters := url.QueryEscape(`{"status":{"running":true,"paused":true},"name":{"web":true}}`)
	for _, c := range []struct {
		method, target, body string
		status               int
		call                 string
		want                 string // the body, or a part of it
	}{
		{"GET", "/v1.50/containers/json?all=1&limit=3&size=true&filters=" + legacyFilters, "", 200,
			"list all=true limit=3 size=true filters=map[name:[web] status:[paused running]]", `"Id":"c0ffee"`},
		{"GET", "/v1.50/containers/json", "", 200, "list all=false limit=0 size=false filters=map[]", `"Names":["/web"]`},
		{"GET", "/v1.50/containers/web/json?size=1", "", 200, "inspect web size=true", `"Name":"/web"`},
		{"POST", "/v1.50/containers/web/start?detachKeys=ctrl-x", "", 204, "start web keys=ctrl-x", ""},
		{"POST", "/v1.50/containers/web/stop?t=5&signal=SIGINT", "", 204, "stop web signal=SIGINT timeout=5", ""},
		{"POST", "/v1.41/containers/web/stop?signal=SIGINT", "", 204, "stop web signal= timeout=nil", ""}, // no signal before 1.42
		{"POST", "/v1.50/containers/web/stop?t=-1", "", 204, "stop web signal= timeout=-1", ""},
		{"POST", "/v1.50/containers/web/restart?t=0", "", 204, "restart web signal= timeout=0", ""},
		{"POST", "/v1.50/containers/web/kill?signal=HUP", "", 204, "kill web HUP", ""},
		{"POST", "/v1.50/containers/web/pause", "", 204, "pause web", ""},
		{"POST", "/v1.50/containers/web/unpause", "", 204, "unpause web", ""},
		{"DELETE", "/v1.50/containers/web?force=1&v=true&link=0", "", 204, "remove web force=true volumes=true link=false", ""},
		{"DELETE", "/v1.50/containers/app/db?link=1", "", 204, "remove app/db force=false volumes=false link=true", ""},
		{"POST", "/v1.50/containers/web/rename?name=api", "", 204, "rename web api", ""},
		{"POST", "/v1.50/containers/web/update", `{"Memory":1048576,"RestartPolicy":{"Name":"always"}}`, 200,
			"update web memory=1048576 restart=always", `{"Warnings":[]}`},
		{"POST", "/v1.50/containers/prune?filters=" + url.QueryEscape(`{"until":["10m"]}`), "", 200,
			"prune map[until:[10m]]", `{"ContainersDeleted":[],"SpaceReclaimed":42}`},
		{"POST", "/v1.50/containers/web/resize?h=40&w=120", "", 200, "resize web 40x120", ""},
		{"GET", "/v1.50/containers/web/top?ps_args=aux", "", 200, "top web aux", `"Titles":["PID","CMD"]`},
		{"GET", "/v1.50/containers/web/changes", "", 200, "changes web", `[{"Kind":1,"Path":"/tmp"}]`},
		{"GET", "/v1.50/containers/web/export", "", 200, "export web", "ROOTFS-TAR"},
		{"PUT", "/v1.50/containers/web/archive?path=/etc&noOverwriteDirNonDir=true&copyUIDGID=1", "TARBODY", 200,
			"extract web /etc nooverwrite=true copyuidgid=true", ""},
		{"POST", "/v1.50/commit?container=web&repo=me/img&tag=v1&comment=c&author=a&changes=CMD+%5B%22sh%22%5D&changes=ENV+A%3Db",
			`{"Env":["X=1"]}`, 201, `commit web repo=me/img tag=v1 comment=c author=a changes=["CMD [\"sh\"]" "ENV A=b"] pause=true config=true`,
			`{"Id":"sha256:1234"}`},
		{"POST", "/v1.50/commit?container=web&pause=0", "", 201, `commit web repo= tag= comment= author= changes=[] pause=false config=false`, ""},
		{"POST", "/v1.50/commit?container=web", "{}", 201, `commit web repo= tag= comment= author= changes=[] pause=true config=false`, ""},
		{"POST", "/v1.50/containers/web/exec", `{"Cmd":["ls","-l"],"AttachStdout":true,"ConsoleSize":[24,80]}`, 201,
			`exec-create web ["ls" "-l"]`, `{"Id":"e1"}`},
		{"GET", "/v1.50/exec/e1/json", "", 200, "exec-inspect e1", `"ID":"e1","Running":true`},
		{"POST", "/v1.50/exec/e1/resize?h=10&w=20", "", 200, "exec-resize e1 10x20", ""},
		{"POST", "/v1.50/exec/e1/start", `{"Detach":true}`, 200, "exec-start e1 detach=true tty=false size=<nil>", ""},
	} {
		hdr := map[string]string(nil)
		if strings.HasPrefix(c.body, "{") {
			hdr = jsonHeader
		}
		rec := send(t, s, c.method, c.target, c.body, hdr)
		got := f.lastCall()
		if rec.Code != c.status || got != c.call || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s %s:\n got %d %q body %q\nwant %d %q body with %q", c.method, c.target, rec.Code, got, rec.Body, c.status, c.call, c.want)
		}
	}
	if f.put != "TARBODY" {
		t.Errorf("archive PUT body %q", f.put)
	}
	if f.update.RestartPolicy.Name != "always" || f.update.Memory != 1<<20 {
		t.Errorf("update decoded %+v", f.update)
	}
	if f.exec.ConsoleSize == nil || *f.exec.ConsoleSize != [2]uint{24, 80} || !f.exec.AttachStdout {
		t.Errorf("exec create decoded %+v", f.exec)
	}
}

func TestContainerArchiveStatHeader(t *testing.T) {
	s, f := newContainerServer(t)
	for _, method := range []string{"HEAD", "GET"} {
		rec := send(t, s, method, "/v1.50/containers/web/archive?path=/etc", "", nil)
		raw, err := base64.StdEncoding.DecodeString(rec.Header().Get("X-Docker-Container-Path-Stat"))
		if err != nil {
			t.Fatalf("%s: stat header: %v", method, err)
		}
		var st container.PathStat
		if err := json.Unmarshal(raw, &st); err != nil || st.Name != "etc" || st.Size != 4096 || st.Mode != testStat.Mode {
			t.Errorf("%s: stat %s -> %+v (%v)", method, raw, st, err)
		}
		wantCall, wantBody := "stat web /etc", ""
		if method == "GET" {
			wantCall, wantBody = "archive web /etc", "PATH-TAR"
			if ct := rec.Header().Get("Content-Type"); ct != "application/x-tar" {
				t.Errorf("GET archive Content-Type %q", ct)
			}
		}
		if rec.Code != 200 || f.lastCall() != wantCall || rec.Body.String() != wantBody {
			t.Errorf("%s archive: %d %q", method, rec.Code, rec.Body)
		}
	}
	rec := send(t, s, "GET", "/v1.50/containers/web/archive?path=/nosuch", "", nil)
	if rec.Code != 404 || message(t, rec) != "Could not find the file /nosuch in container web" || rec.Header().Get("X-Docker-Container-Path-Stat") != "" {
		t.Errorf("missing path: %d %q %v", rec.Code, rec.Body, rec.Header())
	}
}

// TestContainerRefusals checks the answers to bad requests: Docker's status
// and wording, and that the backend was not asked.
func TestContainerRefusals(t *testing.T) {
	s, f := newContainerServer(t)
	for _, c := range []struct {
		method, target, body string
		hdr                  map[string]string
		status               int
		message              string
	}{
		{"POST", "/v1.50/containers/web/stop?t=soon", "", nil, 400, `strconv.Atoi: parsing "soon": invalid syntax`},
		{"POST", "/v1.50/containers/web/restart?t=1.5", "", nil, 400, `strconv.Atoi: parsing "1.5": invalid syntax`},
		{"GET", "/v1.50/containers/json?limit=many", "", nil, 400, `strconv.Atoi: parsing "many": invalid syntax`},
		{"GET", "/v1.50/containers/json?filters=%7Bnope", "", nil, 400, "invalid filter: invalid character 'n' looking for beginning of object key string"},
		{"POST", "/v1.50/containers/prune?filters=%5B%5D", "", nil, 400, "invalid filter: json: cannot unmarshal array into Go value of type map[string]json.RawMessage"},
		{"POST", "/v1.50/containers/web/wait?condition=eventually", "", nil, 400, `invalid condition: "eventually"`},
		{"GET", "/v1.50/containers/web/logs", "", nil, 400, "must specify at least one of 'stdout' or 'stderr'"},
		{"GET", "/v1.50/containers/web/logs?stdout=1&since=yesterday", "", nil, 400,
			`invalid value for "since": invalid timestamp "yesterday": invalid seconds "yesterday": invalid syntax`},
		{"GET", "/v1.50/containers/web/logs?stdout=1&until=1.x", "", nil, 400,
			`invalid value for "until": invalid timestamp "1.x": invalid nanoseconds: invalid character 'x' at position 0`},
		{"POST", "/v1.50/containers/web/resize?h=-1&w=80", "", nil, 400, `invalid resize height "-1": value out of range`},
		{"POST", "/v1.50/containers/web/resize?h=24", "", nil, 400, `invalid resize width "": invalid syntax`},
		{"POST", "/v1.50/exec/e1/resize?h=x&w=1", "", nil, 400, `invalid resize height "x": invalid syntax`},
		{"POST", "/v1.50/containers/create", "", nil, 400, "invalid JSON: got EOF while reading request body"},
		{"POST", "/v1.50/containers/create", "{}", jsonHeader, 400, "config cannot be empty in order to create a container"},
		{"POST", "/v1.50/containers/create", `{"Image":`, jsonHeader, 400, "invalid JSON: unexpected EOF"},
		{"POST", "/v1.50/containers/create", `{"Image":"a"} {}`, jsonHeader, 400, "unexpected content after JSON"},
		{"POST", "/v1.50/containers/create", `{"Image":"a"}`, map[string]string{"Content-Type": "text/plain"}, 400,
			"unsupported Content-Type header (text/plain): must be 'application/json'"},
		{"POST", "/v1.50/containers/create?platform=linux/amd64/v1/extra/x", `{"Image":"a"}`, jsonHeader, 400, ""},
		{"POST", "/v1.50/containers/web/exec", `{"Cmd":[]}`, jsonHeader, 400, "No exec command specified"},
		{"HEAD", "/v1.50/containers/web/archive", "", nil, 400, ""}, // HEAD: the status alone
		{"PUT", "/v1.50/containers/web/archive", "TAR", nil, 400, "bad parameter: path cannot be empty"},
		{"POST", "/v1.50/containers/web/start", `{"Binds":["/a:/b"]}`, jsonHeader, 400,
			"starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24"},
	} {
		rec := send(t, s, c.method, c.target, c.body, c.hdr)
		if rec.Code != c.status {
			t.Errorf("%s %s: %d %q, want %d", c.method, c.target, rec.Code, rec.Body, c.status)
			continue
		}
		if c.message != "" {
			if got := message(t, rec); got != c.message {
				t.Errorf("%s %s: message %q\nwant %q", c.method, c.target, got, c.message)
			}
		}
		if call := f.lastCall(); call != "" {
			t.Errorf("%s %s: the backend was called: %s", c.method, c.target, call)
		}
	}
}

// TestContainerBackendErrors checks that the backend's error classes become
// Docker's statuses: 404, 409, 304 (no body).
func TestContainerBackendErrors(t *testing.T) {
	s, _ := newContainerServer(t)
	for _, c := range []struct {
		method, target string
		status         int
		message        string
	}{
		{"GET", "/v1.50/containers/nosuch/json", 404, "No such container: nosuch"},
		{"DELETE", "/v1.50/containers/nosuch", 404, "No such container: nosuch"},
		{"POST", "/v1.50/containers/nosuch/kill", 404, "cannot kill container: nosuch: No such container: nosuch"},
		{"POST", "/v1.50/containers/stopped/kill", 409, "cannot kill container: stopped: container stopped is not running"},
		{"POST", "/v1.50/containers/nosuch/wait", 404, "No such container: nosuch"},
		{"GET", "/v1.50/containers/nosuch/logs?stdout=1", 404, "No such container: nosuch"},
		{"GET", "/v1.50/containers/nosuch/stats", 404, "No such container: nosuch"},
		{"POST", "/v1.50/containers/nosuch/attach?stream=1&stdout=1", 404, "No such container: nosuch"},
		{"POST", "/v1.50/exec/e-nosuch/start", 404, "No such exec instance: e-nosuch"},
		{"POST", "/v1.50/containers/create", 404, "No such image: nosuch:latest"},
	} {
		body := ""
		if strings.HasSuffix(c.target, "/create") || strings.Contains(c.target, "/exec/") {
			body = `{"Image":"nosuch"}`
		}
		rec := send(t, s, c.method, c.target, body, jsonHeader)
		if rec.Code != c.status || message(t, rec) != c.message {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.target, rec.Code, rec.Body, c.status, c.message)
		}
	}
	rec := send(t, s, "POST", "/v1.50/containers/running/start", "", nil)
	if rec.Code != 304 || rec.Body.Len() != 0 {
		t.Errorf("start of a running container: %d %q", rec.Code, rec.Body)
	}
}
