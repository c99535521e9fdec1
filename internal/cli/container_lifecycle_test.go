package cli

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// noSuch answers 404 for the container "nope", as berthd does.
func noSuch(d *fakeDaemon, method, suffix string) {
	d.reply(method+" /containers/nope"+suffix, http.StatusNotFound, apiError("No such container: nope"))
}

func TestLifecycleVerbs(t *testing.T) {
	for _, c := range []struct {
		args   []string
		method string
		suffix string // after /containers/NAME
		query  string
	}{
		{[]string{"stop"}, "POST", "/stop", ""},
		{[]string{"stop", "-t", "3", "-s", "SIGINT"}, "POST", "/stop", "signal=SIGINT&t=3"},
		{[]string{"container", "stop", "-t", "0"}, "POST", "/stop", "t=0"},
		{[]string{"restart", "--timeout", "5"}, "POST", "/restart", "t=5"},
		{[]string{"kill"}, "POST", "/kill", ""},
		{[]string{"kill", "-s", "HUP"}, "POST", "/kill", "signal=HUP"},
		{[]string{"rm"}, "DELETE", "", ""},
		{[]string{"rm", "-f", "-v", "-l"}, "DELETE", "", "force=1&link=1&v=1"},
		{[]string{"container", "remove"}, "DELETE", "", ""},
		{[]string{"pause"}, "POST", "/pause", ""},
		{[]string{"unpause"}, "POST", "/unpause", ""},
		{[]string{"start"}, "POST", "/start", ""},
	} {
		name := strings.Join(c.args, " ")
		t.Run(name, func(t *testing.T) {
			d := newFakeDaemon(t)
			a := d.reply(c.method+" /containers/a"+c.suffix, http.StatusNoContent, nil)
			b := d.reply(c.method+" /containers/b"+c.suffix, http.StatusNoContent, nil)
			noSuch(d, c.method, c.suffix)
			r := runAt(t, d, append(c.args, "a", "nope", "b")...)
			stderr := "Error response from daemon: No such container: nope\n"
			switch {
			case c.args[0] == "start":
				stderr += "Error: failed to start containers: nope\n"
			case c.args[0] == "rm" && len(c.args) > 1: // -f: a missing container is no failure
			}
			code := 1
			if c.args[0] == "rm" && len(c.args) > 1 {
				code = 0
			}
			if r.code != code || r.stdout != "a\nb\n" || r.stderr != stderr {
				t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if a.count() != 1 || b.count() != 1 {
				t.Fatalf("requests: a %d, b %d", a.count(), b.count())
			}
			if q := a.query(t).Encode(); q != c.query {
				t.Errorf("query %q, want %q", q, c.query)
			}
		})
	}
}

func TestLifecycleArgumentErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"stop"}, "berth: 'berth stop' requires at least 1 argument\n\nUsage:  berth stop [OPTIONS] CONTAINER [CONTAINER...]\n\nSee 'berth stop --help' for more information\n"},
		{[]string{"rename", "a"}, "berth: 'berth rename' requires 2 arguments\n\nUsage:  berth rename CONTAINER NEW_NAME\n\nRun 'berth rename --help' for more information\n"},
		{[]string{"port", "a", "b", "c"}, "berth: 'berth port' requires at least 1 and at most 2 arguments\n\nUsage:  berth port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nRun 'berth port --help' for more information\n"},
		{[]string{"stop", "-t", "1", "--time", "2", "a"}, "conflicting options: cannot specify both --timeout and --time\n"},
		{[]string{"update", "a"}, "you must provide one or more flags when using this command\n"},
		{[]string{"start", "-a", "a", "b"}, "you cannot start and attach multiple containers at once\n"},
		{[]string{"rename", " ", "b"}, "Error: Neither old nor new names may be empty\n"},
		{[]string{"ps", "x"}, "berth: 'berth ps' accepts no arguments\n\nUsage:  berth ps [OPTIONS]\n\nRun 'berth ps --help' for more information\n"},
	} {
		r := run(t, nil, c.args...)
		if r.code != 1 || r.stderr != c.stderr {
			t.Errorf("berth %s: exit %d, stderr\n%q\nwant\n%q", strings.Join(c.args, " "), r.code, r.stderr, c.stderr)
		}
	}
}

func TestRename(t *testing.T) {
	d := newFakeDaemon(t)
	ok := d.reply("POST /containers/old/rename", http.StatusNoContent, nil)
	d.reply("POST /containers/nope/rename", http.StatusNotFound, apiError("No such container: nope"))
	if r := runAt(t, d, "rename", "old", "new"); r.code != 0 || r.stdout != "" || ok.query(t).Get("name") != "new" {
		t.Errorf("exit %d %q %v", r.code, r.stderr, ok.query(t))
	}
	r := runAt(t, d, "container", "rename", "nope", "new")
	if r.code != 1 || r.stderr != "Error response from daemon: No such container: nope\nError: failed to rename container named nope\n" {
		t.Errorf("exit %d %q", r.code, r.stderr)
	}
}

func TestWait(t *testing.T) {
	d := newFakeDaemon(t)
	a := d.reply("POST /containers/a/wait", http.StatusOK, map[string]any{"StatusCode": 0})
	d.reply("POST /containers/b/wait", http.StatusOK, map[string]any{"StatusCode": 137})
	noSuch(d, "POST", "/wait")
	r := runAt(t, d, "wait", "a", "nope", "b")
	if r.code != 1 || r.stdout != "0\n137\n" || r.stderr != "Error response from daemon: No such container: nope\n" {
		t.Errorf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if q := a.query(t).Encode(); q != "" {
		t.Errorf("wait sent %q (docker waits for not-running, the default)", q)
	}
}

func TestUpdate(t *testing.T) {
	d := newFakeDaemon(t)
	a := d.reply("POST /containers/a/update", http.StatusOK, map[string]any{"Warnings": []string{"no swap limit"}})
	r := runAt(t, d, "update", "-m", "256m", "--memory-swap", "-1", "--cpus", "0.5", "--restart", "unless-stopped",
		"--pids-limit", "10", "--cpuset-cpus", "0", "--blkio-weight", "300", "a")
	if r.code != 0 || r.stdout != "a\nno swap limit\n" {
		t.Fatalf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	b := a.body(t)
	for k, want := range map[string]string{
		"Memory": "268435456", "MemorySwap": "-1", "NanoCpus": "500000000", "PidsLimit": "10", "CpusetCpus": `"0"`,
		"BlkioWeight": "300", "RestartPolicy": `{"MaximumRetryCount":0,"Name":"unless-stopped"}`,
	} {
		if got := jsonOf(b[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if r := runAt(t, d, "update", "-m", "1x", "a"); r.code != 125 || !strings.HasPrefix(r.stderr, `invalid argument "1x" for "-m, --memory" flag`) {
		t.Errorf("bad size: exit %d %q", r.code, r.stderr)
	}
}

func TestStartAttached(t *testing.T) {
	d := newFakeDaemon(t)
	fc := d.addContainer(t, &fakeContainer{id: ctrID, exit: 2, program: func(_ io.Reader, stdout, stderr io.Writer) {
		io.WriteString(stdout, "out\n")
		io.WriteString(stderr, "err\n")
	}})
	d.handleJSON("GET /containers/web/json", map[string]any{
		"Id": ctrID, "State": map[string]any{"Status": "created"},
		"Config": map[string]any{"Tty": false, "OpenStdin": true}, "HostConfig": map[string]any{"AutoRemove": false},
	})
	r := runIn(t, d, "typed", "start", "-a", "web")
	if r.code != 2 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	id := "/containers/" + ctrID
	want := []string{"GET /containers/web/json", "POST " + id + "/attach", "POST " + id + "/wait", "POST " + id + "/start"}
	if got := d.calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("requests %q, want %q", got, want)
	}
	if q := fc.attach.query(t).Encode(); q != "stderr=1&stdout=1&stream=1" {
		t.Errorf("attach query %q (no stdin without -i)", q)
	}
	if q := fc.wait.query(t).Get("condition"); q != "next-exit" {
		t.Errorf("wait condition %q", q)
	}
}

func TestAttachNoStdinAndPsSize(t *testing.T) {
	d := newFakeDaemon(t)
	d.handleJSON("GET /containers/web/json", map[string]any{"Id": ctrID, "State": map[string]any{"Running": true}, "Config": map[string]any{"OpenStdin": true}})
	d.reply("POST /containers/web/wait", http.StatusOK, map[string]any{"StatusCode": 0})
	attach := &capture{}
	d.mux.HandleFunc("POST /containers/web/attach", func(w http.ResponseWriter, r *http.Request) {
		attach.add(r)
		conn, _ := hijack(t, w, false)
		conn.Close()
	})
	if r := runIn(t, d, "ignored", "attach", "--no-stdin", "--sig-proxy=false", "web"); r.code != 0 {
		t.Errorf("exit %d %q", r.code, r.stderr)
	}
	if q := attach.query(t).Encode(); q != "stderr=1&stdout=1&stream=1" {
		t.Errorf("--no-stdin attached %q", q)
	}
	psFixture(d)
	r := runAt(t, d, "ps", "-s", "--format", "table {{.Names}}\t{{.Size}}")
	if want := "NAMES     SIZE\nweb       1.2kB (virtual 5.07MB)\njob       0B\n"; r.stdout != want {
		t.Errorf("ps -s:\n%q\nwant\n%q", r.stdout, want)
	}
	if q := d.lastRequest("/containers/json").URL.Query().Get("size"); q != "1" {
		t.Errorf("ps -s sent size=%q", q)
	}
	r = runAt(t, d, "ps", "-s")
	if first := strings.SplitN(r.stdout, "\n", 2)[0]; !strings.HasSuffix(first, "NAMES     SIZE") {
		t.Errorf("ps -s header %q", first)
	}
}
