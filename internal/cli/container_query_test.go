package cli

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const ctrID2 = "9b8a7f6e5d4c3b2a10f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2"

func psFixture(d *fakeDaemon) *capture {
	now := time.Now()
	return d.reply("GET /containers/json", http.StatusOK, []map[string]any{
		{
			"Id": ctrID, "Names": []string{"/web"}, "Image": "nginx:latest", "ImageID": "sha256:aaaa",
			"Command": "/docker-entrypoint.sh nginx -g 'daemon off;'", "Created": now.Add(-5 * time.Minute).Unix(),
			"Ports": []map[string]any{
				{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
				{"PrivatePort": 443, "Type": "tcp"},
				{"PrivatePort": 444, "Type": "tcp"},
			},
			"Labels": map[string]string{"tier": "front", "app": "site"}, "State": "running", "Status": "Up 5 minutes",
			"SizeRw": 1200, "SizeRootFs": 5067000,
			"Mounts": []map[string]any{{"Type": "volume", "Name": "data", "Driver": "local", "Destination": "/data"}},
		},
		{
			"Id": ctrID2, "Names": []string{"/job", "/web/job"}, "Image": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbb", "ImageID": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbb",
			"Command": "true", "Created": now.Add(-3 * time.Hour).Unix(), "State": "exited", "Status": "Exited (0) 2 hours ago",
		},
	})
}

func TestPs(t *testing.T) {
	d := newFakeDaemon(t)
	list := psFixture(d)
	r := runAt(t, d, "ps", "-a")
	// As docker: ports in order, runs folded, published ones last.
	want := "CONTAINER ID   IMAGE          COMMAND                  CREATED         STATUS                   PORTS                               NAMES\n" +
		"4a1f8e2d9c7b   nginx:latest   \"/docker-entrypoint.…\"   5 minutes ago   Up 5 minutes             443-444/tcp, 0.0.0.0:8080->80/tcp   web\n" +
		"9b8a7f6e5d4c   bbbbbbbbbbbb   \"true\"                   3 hours ago     Exited (0) 2 hours ago                                       job\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d %q\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	if q := list.query(t).Encode(); q != "all=1" {
		t.Errorf("query %q", q)
	}
	for _, c := range []struct {
		args  []string
		query string
		out   string
	}{
		{[]string{"ps", "-q"}, "", ctrID[:12] + "\n" + ctrID2[:12] + "\n"},
		{[]string{"container", "ls", "-q", "--no-trunc", "-n", "2"}, "limit=2", ctrID + "\n" + ctrID2 + "\n"},
		{[]string{"ps", "-l", "-q"}, "limit=1", ctrID[:12] + "\n" + ctrID2[:12] + "\n"},
		{[]string{"ps", "--format", "{{.Names}} {{.Label \"tier\"}} {{.Labels}} {{.State}} {{.Mounts}} {{.LocalVolumes}}"}, "",
			"web front app=site,tier=front running data 1\njob   exited  0\n"},
		{[]string{"ps", "--format", "{{.Names}}", "--no-trunc"}, "", "web\njob,web/job\n"},
		{[]string{"ps", "--format", "{{.ID}}: {{.Size}}"}, "size=1", ctrID[:12] + ": 1.2kB (virtual 5.07MB)\n" + ctrID2[:12] + ": 0B\n"},
		{[]string{"ps", "-f", "status=exited", "-f", "label=tier", "-q"}, url.Values{"filters": {`{"label":{"tier":true},"status":{"exited":true}}`}}.Encode(), ctrID[:12] + "\n" + ctrID2[:12] + "\n"},
		{[]string{"ps", "--format", "table {{.ID}}\t{{.Label \"com.example.tier\"}}"}, "",
			"CONTAINER ID   tier\n" + ctrID[:12] + "   \n" + ctrID2[:12] + "   \n"},
	} {
		r := runAt(t, d, c.args...)
		if r.code != 0 || r.stdout != c.out {
			t.Errorf("berth %s: exit %d %q\ngot:\n%q\nwant:\n%q", strings.Join(c.args, " "), r.code, r.stderr, r.stdout, c.out)
		}
		if q := list.query(t).Encode(); q != c.query {
			t.Errorf("berth %s: query %q, want %q", strings.Join(c.args, " "), q, c.query)
		}
	}
	r = runAt(t, d, "ps", "--format", "json")
	if !strings.HasPrefix(r.stdout, `{"Command":"\"/docker-entrypoint.…\"","CreatedAt":"`) ||
		!strings.Contains(r.stdout, `"ID":"4a1f8e2d9c7b","Image":"nginx:latest","Labels":"app=site,tier=front","LocalVolumes":"1","Mounts":"data","Names":"web","Networks":"","Platform":null,"Ports":"443-444/tcp, 0.0.0.0:8080-\u003e80/tcp","RunningFor":"5 minutes ago","Size":"1.2kB (virtual 5.07MB)","State":"running","Status":"Up 5 minutes"}`) {
		t.Errorf("json: %s", r.stdout)
	}
	r = runAt(t, d, "ps", "-q", "--format", "{{.Names}}")
	if r.stdout != ctrID[:12]+"\n"+ctrID2[:12]+"\n" || r.stderr != "WARNING: Ignoring custom format, because both --format and --quiet are set.\n" {
		t.Errorf("-q with --format: %q %q", r.stdout, r.stderr)
	}
	if r := runAt(t, d, "ps", "--format", "{{.Nope"); r.code != 1 || r.stderr != "template parsing error: template: ps:1: unclosed action\n" {
		t.Errorf("bad template: exit %d %q", r.code, r.stderr)
	}
}

func TestLogs(t *testing.T) {
	d := newFakeDaemon(t)
	d.handleJSON("GET /containers/web/json", map[string]any{"Id": ctrID, "Config": map[string]any{"Tty": false}})
	d.handleJSON("GET /containers/tty/json", map[string]any{"Id": ctrID2, "Config": map[string]any{"Tty": true}})
	logs := &capture{}
	d.mux.HandleFunc("GET /containers/"+ctrID+"/logs", func(w http.ResponseWriter, r *http.Request) {
		logs.add(r)
		frameWriter{w, 1}.Write([]byte("line 1\n"))
		frameWriter{w, 2}.Write([]byte("warn 1\n"))
		frameWriter{w, 1}.Write([]byte("line 2\n"))
	})
	d.mux.HandleFunc("GET /containers/"+ctrID2+"/logs", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "raw\r\nbytes\r\n")
	})
	noSuch(d, "GET", "/json")
	r := runAt(t, d, "logs", "-f", "--tail", "10", "-t", "--details", "--since", "2013-01-02T13:23:37Z", "--until", "1700000000", "web")
	if r.code != 0 || r.stdout != "line 1\nline 2\n" || r.stderr != "warn 1\n" {
		t.Errorf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if q := logs.query(t).Encode(); q != "details=1&follow=1&since=1357133017.000000000&stderr=1&stdout=1&tail=10&timestamps=1&until=1700000000" {
		t.Errorf("query %s", q)
	}
	if r := runAt(t, d, "container", "logs", "-n", "all", "web"); logs.query(t).Has("tail") || r.code != 0 {
		t.Errorf("--tail all sent %v", logs.query(t))
	}
	if r := runAt(t, d, "logs", "tty"); r.code != 0 || r.stdout != "raw\r\nbytes\r\n" {
		t.Errorf("tty logs: exit %d %q", r.code, r.stdout)
	}
	if r := runAt(t, d, "logs", "nope"); r.code != 1 || r.stderr != "Error response from daemon: No such container: nope\n" {
		t.Errorf("missing: exit %d %q", r.code, r.stderr)
	}
	if r := runAt(t, d, "logs", "--since", "yesterday", "web"); r.code != 1 || !strings.HasPrefix(r.stderr, `invalid value for "since":`) {
		t.Errorf("bad since: exit %d %q", r.code, r.stderr)
	}
}

func TestAttach(t *testing.T) {
	d := newFakeDaemon(t)
	running := map[string]any{"Id": ctrID, "State": map[string]any{"Running": true}, "Config": map[string]any{"Tty": false, "OpenStdin": true}}
	d.handleJSON("GET /containers/web/json", running)
	d.handleJSON("GET /containers/idle/json", map[string]any{"Id": ctrID2, "State": map[string]any{"Running": false}, "Config": map[string]any{}})
	d.handleJSON("GET /containers/frozen/json", map[string]any{"Id": ctrID2, "State": map[string]any{"Running": true, "Paused": true}, "Config": map[string]any{}})
	wait := make(chan struct{})
	waits := &capture{}
	d.mux.HandleFunc("POST /containers/web/wait", func(w http.ResponseWriter, r *http.Request) {
		waits.add(r)
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-wait
		io.WriteString(w, `{"StatusCode":4}`)
	})
	attach := &capture{}
	d.mux.HandleFunc("POST /containers/web/attach", func(w http.ResponseWriter, r *http.Request) {
		attach.add(r)
		conn, rw := hijack(t, w, false)
		defer conn.Close()
		in, _ := io.ReadAll(rw) // until the client's stdin ends
		frameWriter{conn, 1}.Write([]byte("got " + string(in)))
		close(wait)
	})
	r := runIn(t, d, "ping", "attach", "--detach-keys", "ctrl-x", "web")
	if r.code != 4 || r.stdout != "got ping" {
		t.Errorf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if q := attach.query(t).Encode(); q != "detachKeys=ctrl-x&stderr=1&stdin=1&stdout=1&stream=1" {
		t.Errorf("attach query %s", q)
	}
	if q := waits.query(t).Encode(); q != "" {
		t.Errorf("wait query %q", q)
	}
	d.reply("POST /containers/idle/wait", http.StatusOK, map[string]any{"StatusCode": 0})
	d.reply("POST /containers/frozen/wait", http.StatusOK, map[string]any{"StatusCode": 0})
	if r := runAt(t, d, "attach", "idle"); r.code != 1 || r.stderr != "You cannot attach to a stopped container, start it first\n" {
		t.Errorf("stopped: exit %d %q", r.code, r.stderr)
	}
	if r := runAt(t, d, "attach", "frozen"); r.code != 1 || r.stderr != "You cannot attach to a paused container, unpause it first\n" {
		t.Errorf("paused: exit %d %q", r.code, r.stderr)
	}
}

func TestExec(t *testing.T) {
	d := newFakeDaemon(t)
	d.handleJSON("GET /containers/web/json", map[string]any{"Id": ctrID, "State": map[string]any{"Running": true}})
	noSuch(d, "GET", "/json")
	create := d.reply("POST /containers/web/exec", http.StatusCreated, map[string]any{"Id": "exec1"})
	start := &capture{}
	d.mux.HandleFunc("POST /exec/exec1/start", func(w http.ResponseWriter, r *http.Request) {
		start.add(r)
		if r.Header.Get("Upgrade") == "" { // detached
			w.WriteHeader(http.StatusOK)
			return
		}
		conn, _ := hijack(t, w, false)
		defer conn.Close()
		frameWriter{conn, 1}.Write([]byte("hi\n"))
		frameWriter{conn, 2}.Write([]byte("err\n"))
	})
	d.handleJSON("GET /exec/exec1/json", map[string]any{"ID": "exec1", "Running": false, "ExitCode": 5})
	env := filepath.Join(t.TempDir(), "env")
	os.WriteFile(env, []byte("# comment\nFROM_FILE=1\n"), 0o644)
	r := runAt(t, d, "exec", "-e", "A=1", "--env-file", env, "-u", "nobody", "-w", "/tmp", "--privileged", "web", "sh", "-c", "echo hi")
	if r.code != 5 || r.stdout != "hi\n" || r.stderr != "err\n" {
		t.Fatalf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	b := create.body(t)
	for k, want := range map[string]string{
		"User": `"nobody"`, "WorkingDir": `"/tmp"`, "Privileged": "true", "Env": `["FROM_FILE=1","A=1"]`,
		"Cmd": `["sh","-c","echo hi"]`, "AttachStdout": "true", "AttachStderr": "true", "AttachStdin": "false", "Tty": "false",
	} {
		if got := jsonOf(b[k]); got != want {
			t.Errorf("exec create %s = %s, want %s", k, got, want)
		}
	}
	if got := jsonOf(start.body(t)); got != `{"Detach":false,"Tty":false}` {
		t.Errorf("exec start body %s", got)
	}
	r = runAt(t, d, "exec", "-d", "web", "sleep", "1")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("-d: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := jsonOf(start.body(t)); got != `{"Detach":true,"Tty":false}` {
		t.Errorf("exec -d start body %s", got)
	}
	if b := create.body(t); b["AttachStdout"] != false || b["AttachStderr"] != false {
		t.Errorf("exec -d attaches %s", jsonOf(b))
	}
	if r := runAt(t, d, "exec", "nope", "true"); r.code != 1 || r.stderr != "Error response from daemon: No such container: nope\n" {
		t.Errorf("missing container: exit %d %q", r.code, r.stderr)
	}
	if r := runIn(t, d, "", "exec", "-it", "web", "sh"); r.code != 1 || r.stderr != "the input device is not a TTY\n" {
		t.Errorf("-it without a terminal: exit %d %q", r.code, r.stderr)
	}
	d.handleJSON("GET /containers/stopped/json", map[string]any{"Id": ctrID2})
	d.reply("POST /containers/stopped/exec", http.StatusConflict, apiError("container "+ctrID2+" is not running"))
	if r := runAt(t, d, "exec", "stopped", "true"); r.code != 1 || r.stderr != "Error response from daemon: container "+ctrID2+" is not running\n" {
		t.Errorf("stopped container: exit %d %q", r.code, r.stderr)
	}
}

func TestInspectObjects(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("GET /containers/{name}/json", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "web" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"No such container: `+r.PathValue("name")+`"}`)
			return
		}
		size := ""
		if r.URL.Query().Get("size") == "1" {
			size = `,"SizeRw":12`
		}
		io.WriteString(w, `{"Id":"`+ctrID+`","Name":"/web","State":{"Status":"running","Running":true},"Config":{"Image":"nginx"}`+size+"}\n")
	})
	d.mux.HandleFunc("GET /images/{name}/json", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "nginx" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"No such image: `+r.PathValue("name")+`"}`)
			return
		}
		io.WriteString(w, `{"Id":"sha256:aaaa","Os":"linux"}`)
	})
	d.handleJSON("GET /volumes/data", map[string]any{"Name": "data", "Driver": "local", "Mountpoint": "/var/lib/berth/volumes/data/_data"})
	want := "[\n    {\n        \"Id\": \"" + ctrID + "\",\n        \"Name\": \"/web\",\n        \"State\": {\n            \"Status\": \"running\",\n" +
		"            \"Running\": true\n        },\n        \"Config\": {\n            \"Image\": \"nginx\"\n        }\n    }\n]\n"
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"inspect", "web"}, 0, want, ""},
		{[]string{"container", "inspect", "web"}, 0, want, ""},
		// A template the Go type cannot run is run on the JSON (.Id, not .ID).
		{[]string{"inspect", "-f", "{{.Id}}", "web", "nginx"}, 0, ctrID + "\nsha256:aaaa\n", ""},
		{[]string{"inspect", "-f", "{{.Name}} {{.State.Status}}", "web", "data"}, 1, "/web running\n",
			"template parsing error: template: inspect:1:18: executing \"inspect\" at <.State.Status>: map has no entry for key \"State\"\n"},
		{[]string{"container", "inspect", "--format", "{{.SizeRw}}", "-s", "web"}, 0, "12\n", ""},
		{[]string{"inspect", "--type", "image", "-f", "{{.Os}}", "nginx"}, 0, "linux\n", ""},
		{[]string{"inspect", "-s", "-f", "{{.Os}}", "nginx"}, 0, "linux\n", "WARNING: --size ignored for image\n"},
		{[]string{"inspect", "nosuch"}, 1, "[]\n", "Error: No such object: nosuch\n"},
		{[]string{"container", "inspect", "nosuch", "web"}, 1, want, "Error response from daemon: No such container: nosuch\n"},
		{[]string{"inspect", "--type", "container", "nginx"}, 1, "[]\n", "Error response from daemon: No such container: nginx\n"},
		{[]string{"inspect", "--type", "bogus", "web"}, 1, "", `unknown type: "bogus": must be one of "config", "container", "image", "network", "node", "plugin", "secret", "service", "task", "volume"` + "\n"},
		{[]string{"inspect", "-f", "{{.Nope", "web"}, 64, "", "template parsing error: template: inspect:1: unclosed action\n"},
		{[]string{"volume", "inspect", "-f", "{{.Mountpoint}}", "data"}, 0, "/var/lib/berth/volumes/data/_data\n", ""},
	} {
		r := runAt(t, d, c.args...)
		if r.code != c.code || r.stdout != c.stdout || r.stderr != c.stderr {
			t.Errorf("berth %s: exit %d\n%q\n%q\nwant exit %d\n%q\n%q", strings.Join(c.args, " "), r.code, r.stdout, r.stderr, c.code, c.stdout, c.stderr)
		}
	}
}

func TestTopPortDiffCommit(t *testing.T) {
	d := newFakeDaemon(t)
	top := d.reply("GET /containers/web/top", http.StatusOK, map[string]any{
		"Titles": []string{"UID", "PID", "CMD"}, "Processes": [][]string{{"root", "4242", "nginx: master process"}, {"nobody", "4243", "nginx: worker"}},
	})
	r := runAt(t, d, "top", "web", "-eo", "pid,comm")
	want := "UID                 PID                 CMD\nroot                4242                nginx: master process\nnobody              4243                nginx: worker\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("top: exit %d %q\n%s", r.code, r.stderr, r.stdout)
	}
	if q := top.query(t).Get("ps_args"); q != "-eo pid,comm" {
		t.Errorf("top ps_args %q", q)
	}

	d.handleJSON("GET /containers/web/json", map[string]any{"Id": ctrID, "NetworkSettings": map[string]any{"Ports": map[string]any{
		"80/tcp":   []map[string]string{{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}},
		"443/tcp":  []map[string]string{{"HostIp": "127.0.0.1", "HostPort": "8443"}},
		"9000/udp": nil,
	}}})
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"port", "web"}, 0, "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n443/tcp -> 127.0.0.1:8443\n", ""},
		{[]string{"port", "web", "80"}, 0, "0.0.0.0:8080\n[::]:8080\n", ""},
		{[]string{"container", "port", "web", "443/tcp"}, 0, "127.0.0.1:8443\n", ""},
		{[]string{"port", "web", "9000/udp"}, 1, "", "Error: No public port '9000/udp' published for web\n"},
		{[]string{"port", "web", "http"}, 1, "", "Error: invalid port (http): strconv.ParseUint: parsing \"http\": invalid syntax\n"},
	} {
		r := runAt(t, d, c.args...)
		if r.code != c.code || r.stdout != c.stdout || r.stderr != c.stderr {
			t.Errorf("berth %s: exit %d %q %q", strings.Join(c.args, " "), r.code, r.stdout, r.stderr)
		}
	}

	d.handleJSON("GET /containers/web/changes", []map[string]any{{"Kind": 0, "Path": "/etc"}, {"Kind": 1, "Path": "/etc/new"}, {"Kind": 2, "Path": "/tmp/gone"}})
	if r := runAt(t, d, "diff", "web"); r.code != 0 || r.stdout != "C /etc\nA /etc/new\nD /tmp/gone\n" {
		t.Errorf("diff: exit %d %q %q", r.code, r.stdout, r.stderr)
	}

	commit := d.reply("POST /commit", http.StatusCreated, map[string]any{"Id": "sha256:cccc"})
	r = runAt(t, d, "commit", "-a", "Ann <a@b>", "-m", "msg", "-c", "ENV A=1", "-c", "CMD [\"sh\"]", "--pause=false", "web", "repo/app:v1")
	if r.code != 0 || r.stdout != "sha256:cccc\n" {
		t.Errorf("commit: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if q := commit.query(t).Encode(); q != "author=Ann+%3Ca%40b%3E&changes=ENV+A%3D1&changes=CMD+%5B%22sh%22%5D&comment=msg&container=web&pause=0&repo=docker.io%2Frepo%2Fapp&tag=v1" {
		t.Errorf("commit query %s", q)
	}
}

func TestExport(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("GET /containers/web/export", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "TARBYTES") })
	noSuch(d, "GET", "/export")
	if r := runAt(t, d, "export", "web"); r.code != 0 || r.stdout != "TARBYTES" {
		t.Errorf("to stdout: exit %d %q", r.code, r.stderr)
	}
	out := filepath.Join(t.TempDir(), "web.tar")
	if r := runAt(t, d, "container", "export", "-o", out, "web"); r.code != 0 || r.stdout != "" {
		t.Errorf("-o: exit %d %q", r.code, r.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "TARBYTES" {
		t.Errorf("file %q %v", b, err)
	}
	out2 := filepath.Join(t.TempDir(), "nope.tar")
	if r := runAt(t, d, "export", "-o", out2, "nope"); r.code != 1 || r.stderr != "Error response from daemon: No such container: nope\n" {
		t.Errorf("missing: exit %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("a failed export left %s: %v", out2, err)
	}
}

func TestContainerPrune(t *testing.T) {
	d := newFakeDaemon(t)
	prune := d.reply("POST /containers/prune", http.StatusOK, map[string]any{"ContainersDeleted": []string{ctrID, ctrID2}, "SpaceReclaimed": 2048})
	const question = "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
	if r := runIn(t, d, "n\n", "container", "prune"); r.code != 1 || r.stdout != question || r.stderr != "container prune has been cancelled\n" || prune.count() != 0 {
		t.Errorf("n: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r := runIn(t, d, "y\n", "container", "prune", "--filter", "until=1h")
	if want := question + "Deleted Containers:\n" + ctrID + "\n" + ctrID2 + "\n\nTotal reclaimed space: 2.048kB\n"; r.code != 0 || r.stdout != want {
		t.Errorf("y: exit %d\n%q\nwant\n%q", r.code, r.stdout, want)
	}
	if f := filtersOf(t, d.lastRequest("/containers/prune")); !f["until"]["1h"] {
		t.Errorf("filters %v", f)
	}
}

// tarOf builds a tar of name -> content ("" with a trailing / in the name
// for a directory).
func tarOf(t *testing.T, entries ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		hdr := &tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}
		if strings.HasSuffix(e[0], "/") {
			hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e[1])
	}
	tw.Close()
	return b.Bytes()
}

// entriesOf lists a tar's entries as name=content.
func entriesOf(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		c, _ := io.ReadAll(tr)
		out = append(out, hdr.Name+"="+string(c))
	}
}
