package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/runtime/shim"
)

// waitIn runs `docker wait NAME` through run in the background; its result
// comes on the channel, or R's zero value if it takes over 10 s.
func waitIn[R any](run func(...string) R, name string) <-chan R {
	out := make(chan R, 1)
	go func() { out <- run("wait", name) }()
	timed := make(chan R, 1)
	go func() {
		select {
		case r := <-out:
			timed <- r
		case <-time.After(10 * time.Second):
			var zero R
			timed <- zero
		}
	}()
	return timed
}

// withImage starts a berthd holding the busybox image "bbox" (CMD sh).
func withImage(t *testing.T) *daemon {
	t.Helper()
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	d.mustDocker("import", "--change", `CMD ["sh"]`, rootfsTar(t), "bbox")
	return d
}

// dockerIn runs the docker CLI with stdin.
func (d *daemon) dockerIn(stdin string, args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host(), "DOCKER_CONFIG="+d.DockerConfig)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// eventually retries check until it returns "" or the time is up; it
// returns the last complaint.
func eventually(timeout time.Duration, check func() string) string {
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestContainerVerbs drives the docker CLI through the container verbs, each
// case asserting what a user would see.
func TestContainerVerbs(t *testing.T) {
	d := withImage(t)
	type result struct {
		stdout, stderr string
		code           int
	}
	run := func(args ...string) result {
		o, e, c := d.docker(args...)
		return result{o, e, c}
	}
	cases := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"run prints and removes", func(t *testing.T) {
			r := run("run", "--rm", "--name", "once", "bbox", "echo", "hello from berth")
			if r.code != 0 || r.stdout != "hello from berth\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if out := d.mustDocker("ps", "-a", "--filter", "name=once", "-q"); out != "" {
				t.Errorf("--rm left the container: %q", out)
			}
		}},
		{"run returns the exit code and keeps stderr apart", func(t *testing.T) {
			r := run("run", "--name", "fails", "bbox", "sh", "-c", "echo out; echo err >&2; exit 3")
			if r.code != 3 || r.stdout != "out\n" || r.stderr != "err\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if st := d.mustDocker("ps", "-a", "--filter", "name=fails", "--format", "{{.Status}}"); !strings.HasPrefix(st, "Exited (3)") {
				t.Errorf("ps status %q", st)
			}
			if got := d.mustDocker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "fails"); got != "exited 3\n" {
				t.Errorf("inspect %q", got)
			}
			if logs := run("logs", "fails"); logs.stdout != "out\n" || logs.stderr != "err\n" {
				t.Errorf("logs: %q / %q", logs.stdout, logs.stderr)
			}
		}},
		{"inspect names the overlay directories, and a write lands in UpperDir", func(t *testing.T) {
			d.mustDocker("run", "--name", "layered", "bbox", "sh", "-c", "echo kept > /written")
			upper := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "layered"))
			if b, err := os.ReadFile(filepath.Join(upper, "written")); err != nil || string(b) != "kept\n" {
				t.Errorf("UpperDir %q: /written is %q, %v", upper, b, err)
			}
			for _, k := range []string{"LowerDir", "WorkDir", "MergedDir"} {
				if v := d.mustDocker("inspect", "-f", "{{.GraphDriver.Data."+k+"}}", "layered"); !strings.HasPrefix(v, "/") {
					t.Errorf("GraphDriver.Data.%s = %q", k, v)
				}
			}
		}},
		{"run -i passes stdin", func(t *testing.T) {
			o, e, c := d.dockerIn("line one\nline two\n", "run", "-i", "--rm", "bbox", "cat")
			if c != 0 || o != "line one\nline two\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q", c, o, e)
			}
		}},
		{"detached lifecycle: logs, exec, stop, start, restart, pause", func(t *testing.T) {
			id := strings.TrimSpace(d.mustDocker("run", "-d", "--name", "ticker", "bbox", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"))
			if len(id) != 64 {
				t.Fatalf("run -d printed %q, want the ID", id)
			}
			if msg := eventually(5*time.Second, func() string {
				if out := d.mustDocker("logs", "--tail", "1", "ticker"); !strings.HasPrefix(out, "tick ") {
					return "logs --tail 1: " + out
				}
				return ""
			}); msg != "" {
				t.Fatal(msg)
			}
			if st := d.mustDocker("ps", "--format", "{{.Names}} {{.Status}}"); !strings.Contains(st, "ticker Up") {
				t.Errorf("ps: %q", st)
			}
			r := run("exec", "-u", "nobody", "-e", "X=1", "-w", "/tmp", "ticker", "sh", "-c", "id -u; echo $X; pwd; exit 7")
			if r.code != 7 || r.stdout != "65534\n1\n/tmp\n" {
				t.Errorf("exec: exit %d %q %q", r.code, r.stdout, r.stderr)
			}
			if r := run("rm", "ticker"); r.code == 0 || !strings.Contains(r.stderr, "You cannot remove a running container "+id+". Stop the container before attempting removal or force remove") {
				t.Errorf("rm of a running container: exit %d %q", r.code, r.stderr)
			}
			d.mustDocker("pause", "ticker")
			if st := d.mustDocker("inspect", "-f", "{{.State.Status}}", "ticker"); st != "paused\n" {
				t.Errorf("after pause: %q", st)
			}
			d.mustDocker("unpause", "ticker")
			// busybox sh as pid 1 ignores SIGTERM: stop kills it after the timeout.
			d.mustDocker("stop", "-t", "1", "ticker")
			if got := d.mustDocker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ticker"); got != "exited 137\n" {
				t.Errorf("after stop: %q", got)
			}
			d.mustDocker("start", "ticker")
			d.mustDocker("restart", "-t", "0", "ticker")
			if st := d.mustDocker("inspect", "-f", "{{.State.Running}}", "ticker"); st != "true\n" {
				t.Errorf("after restart: %q", st)
			}
		}},
		{"wait, kill and rm -f", func(t *testing.T) {
			d.mustDocker("run", "-d", "--name", "sleeper", "bbox", "sleep", "60")
			waited := waitIn(run, "sleeper")
			time.Sleep(200 * time.Millisecond)
			d.mustDocker("kill", "-s", "KILL", "sleeper")
			if r := <-waited; r.code != 0 || r.stdout != "137\n" {
				t.Errorf("wait after the kill: exit %d %q %q", r.code, r.stdout, r.stderr)
			}
			if r := run("kill", "sleeper"); r.code == 0 || !strings.HasPrefix(r.stderr, "Error response from daemon: cannot kill container: sleeper: container ") ||
				!strings.HasSuffix(r.stderr, " is not running\n") || strings.Count(r.stderr, "cannot kill") != 1 {
				t.Errorf("kill of a stopped container: exit %d %q", r.code, r.stderr)
			}
			if r := run("kill", "-s", "NOSIG", "sleeper"); r.code == 0 || r.stderr != "Error response from daemon: Invalid signal: NOSIG\n" {
				t.Errorf("kill with a bad signal: exit %d %q", r.code, r.stderr)
			}
			d.mustDocker("rm", "-f", "sleeper")
			// A SIGKILL is answered once the exit is recorded: the next inspect
			// finds the container stopped (docker-py's test_kill checks this).
			// Straight through the API, so no CLI start sits between the two.
			hc := d.client()
			for i := range 5 {
				d.mustDocker("run", "-d", "--name", "killed", "bbox", "sleep", "60")
				resp, err := hc.Post("http://berth/v1.50/containers/killed/kill", "", nil)
				if err != nil || resp.StatusCode != http.StatusNoContent {
					t.Fatalf("kill: %v %v", resp, err)
				}
				resp.Body.Close()
				var got struct {
					State struct {
						Running  bool
						ExitCode int
					}
				}
				resp, err = hc.Get("http://berth/v1.50/containers/killed/json")
				if err != nil {
					t.Fatal(err)
				}
				err = json.NewDecoder(resp.Body).Decode(&got)
				resp.Body.Close()
				if err != nil || got.State.Running || got.State.ExitCode != 137 {
					t.Errorf("inspect right after kill (try %d): %+v %v, want stopped with 137", i, got.State, err)
				}
				d.mustDocker("rm", "killed")
			}
		}},
		{"wait returns at an exit even when a restart policy brings it back", func(t *testing.T) {
			d.mustDocker("run", "-d", "--name", "always", "--restart", "always", "bbox", "sh", "-c", "sleep 0.3; exit 4")
			if r := <-waitIn(run, "always"); r.code != 0 || r.stdout != "4\n" {
				t.Errorf("wait for a restart=always container: exit %d %q %q", r.code, r.stdout, r.stderr)
			}
			d.mustDocker("rm", "-f", "always")
		}},
		{"events: a container's life and its volume's, as dockerd reports them", func(t *testing.T) {
			since := strconv.FormatInt(time.Now().Unix(), 10)
			d.mustDocker("run", "-d", "--name", "evented", "-v", "evvol:/data", "bbox", "sh", "-c", "sleep 60 # a comment")
			if got := d.mustDocker("ps", "--no-trunc", "--filter", "name=evented", "--format", "{{.Command}}"); got != "\"sh -c 'sleep 60 # a comment'\"\n" {
				t.Errorf("ps command %q: an argument with spaces is quoted", got)
			}
			d.mustDocker("top", "evented")
			d.mustDocker("rm", "-f", "evented")
			d.mustDocker("volume", "rm", "evvol")
			out := d.mustDocker("events", "--since", since, "--until", strconv.FormatInt(time.Now().Unix()+1, 10), "--format", "{{.Type}} {{.Action}}")
			want := []string{"volume create", "container create", "volume mount", "container start", "container top", "container kill",
				"container die", "volume unmount", "container destroy", "volume destroy"}
			got := strings.Split(strings.TrimSpace(out), "\n")
			for i, j := 0, 0; j < len(want); i++ {
				if i == len(got) {
					t.Fatalf("events lack %q (in order %q):\n%s", want[j], want, out)
				}
				if got[i] == want[j] {
					j++
				}
			}
		}},
		{"ps filters: name as a regular expression, expose, publish, network", func(t *testing.T) {
			d.mustDocker("network", "create", "psnet")
			d.mustDocker("run", "-d", "--name", "pf-web", "--expose", "81", "-p", "8080", "bbox", "sleep", "60")
			d.mustDocker("run", "-d", "--name", "pf-web2", "bbox", "sleep", "60")
			d.mustDocker("network", "connect", "psnet", "pf-web2")
			for _, c := range []struct{ filter, want string }{
				{"name=^pf-web$", "pf-web"},
				{"name=web2", "pf-web2"},
				{"expose=81", "pf-web"},
				{"expose=80-90/tcp", "pf-web"},
				{"publish=8080", "pf-web"},
				{"publish=81", ""},
				{"network=psnet", "pf-web2"},
				{"is-task=true", ""},
			} {
				args := []string{"ps", "--filter", c.filter, "--format", "{{.Names}}"}
				if !strings.HasPrefix(c.filter, "name=") { // values of one key are alternatives
					args = append(args, "--filter", "name=pf-")
				}
				got := strings.TrimSpace(d.mustDocker(args...))
				if got != c.want {
					t.Errorf("ps --filter %s: %q, want %q", c.filter, got, c.want)
				}
			}
			if r := run("ps", "--filter", "expose=x"); r.code == 0 || !strings.Contains(r.stderr, "invalid filter 'expose=x'") {
				t.Errorf("ps --filter expose=x: exit %d %q", r.code, r.stderr)
			}
			d.mustDocker("rm", "-f", "pf-web", "pf-web2")
			d.mustDocker("network", "rm", "psnet")
		}},
		{"logs: json-file by default, as Docker's clients expect", func(t *testing.T) {
			d.mustDocker("run", "--name", "logged", "bbox", "echo", "kept")
			if got := d.mustDocker("inspect", "-f", "{{.HostConfig.LogConfig.Type}} {{.LogPath}}", "logged"); !strings.HasPrefix(got, "json-file /") || !strings.HasSuffix(got, "-json.log\n") {
				t.Errorf("log config and path: %q", got)
			}
			if got := d.mustDocker("info", "-f", "{{.LoggingDriver}}"); got != "json-file\n" {
				t.Errorf("info's logging driver: %q", got)
			}
			path := strings.TrimSpace(d.mustDocker("inspect", "-f", "{{.LogPath}}", "logged"))
			if b, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(b), `{"log":"kept\n","stream":"stdout","time":"`) {
				t.Errorf("the log file in Docker's json-file format: %q %v", b, err)
			}
			d.mustDocker("rm", "logged")
		}},
		{"--runtime: berth's runtime goes by runc's name; an unknown one is refused", func(t *testing.T) {
			d.mustDocker("create", "--name", "rt-default", "bbox", "true")
			d.mustDocker("create", "--name", "rt-own", "--runtime", "berth-runtime", "bbox", "true")
			if got := d.mustDocker("inspect", "-f", "{{.HostConfig.Runtime}}", "rt-default", "rt-own"); got != "runc\nberth-runtime\n" {
				t.Errorf("HostConfig.Runtime: %q", got)
			}
			if got := d.mustDocker("info", "-f", "{{.DefaultRuntime}} {{len .Runtimes}}"); got != "runc 2\n" {
				t.Errorf("info: default runtime and count %q", got)
			}
			if r := run("create", "--runtime", "kata", "bbox", "true"); r.code == 0 || !strings.Contains(r.stderr, "unknown or invalid runtime name: kata") {
				t.Errorf("--runtime kata: exit %d %q", r.code, r.stderr)
			}
			d.mustDocker("rm", "rt-default", "rt-own")
		}},
		{"--init: a pid 1 that forwards signals and reaps", func(t *testing.T) {
			if r := run("run", "--rm", "--init", "bbox", "cat", "/proc/1/cmdline"); r.code != 0 || !strings.HasPrefix(r.stdout, "/sbin/docker-init\x00--\x00cat") {
				t.Errorf("pid 1 with --init: exit %d %q %q", r.code, r.stdout, r.stderr)
			}
			d.mustDocker("run", "-d", "--name", "inited", "--init", "bbox", "sleep", "60")
			start := time.Now()
			d.mustDocker("stop", "inited") // sleep dies of the forwarded SIGTERM, no 10 s wait
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("stop of an --init container took %v", took)
			}
			if code := d.mustDocker("inspect", "-f", "{{.State.ExitCode}}", "inited"); code != "143\n" {
				t.Errorf("exit code %q, want 143 (SIGTERM)", code)
			}
			d.mustDocker("rm", "inited")
		}},
		{"top, stats and update", func(t *testing.T) {
			d.mustDocker("run", "-d", "--name", "busy", "bbox", "sleep", "60")
			if out := d.mustDocker("top", "busy"); !strings.Contains(out, "sleep 60") || !strings.Contains(out, "PID") {
				t.Errorf("top:\n%s", out)
			}
			d.mustDocker("update", "-m", "64m", "busy")
			if out := d.mustDocker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "busy"); !strings.HasSuffix(strings.TrimSpace(out), "/ 64MiB") {
				t.Errorf("stats after update -m 64m: %q", out)
			}
			d.mustDocker("rm", "-f", "busy")
		}},
		{"restart policy on-failure counts restarts", func(t *testing.T) {
			d.mustDocker("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "bbox", "sh", "-c", "exit 1")
			if msg := eventually(15*time.Second, func() string {
				got := d.mustDocker("inspect", "-f", "{{.RestartCount}} {{.State.Status}}", "flaky")
				if got != "2 exited\n" {
					return "inspect: " + got
				}
				return ""
			}); msg != "" {
				t.Fatal(msg)
			}
			d.mustDocker("rm", "flaky")
		}},
		{"health checks: starting, healthy, unhealthy, restart when asked", func(t *testing.T) {
			d.mustDocker("run", "-d", "--name", "probed", "--health-cmd", "test -f /tmp/ok", "--health-interval", "200ms",
				"--health-retries", "2", "bbox", "sh", "-c", "touch /tmp/ok; sleep 1; rm /tmp/ok; sleep 60")
			for _, want := range []string{"healthy", "unhealthy"} {
				if msg := eventually(10*time.Second, func() string {
					if got := d.mustDocker("inspect", "-f", "{{.State.Health.Status}}", "probed"); got != want+"\n" {
						return "health " + got
					}
					return ""
				}); msg != "" {
					t.Fatalf("waiting for %s: %s", want, msg)
				}
			}
			if st := d.mustDocker("ps", "--filter", "name=probed", "--format", "{{.Status}}"); !strings.Contains(st, "(unhealthy)") {
				t.Errorf("ps status %q", st)
			}
			if n := d.mustDocker("inspect", "-f", "{{len .State.Health.Log}} {{.State.Health.FailingStreak}}", "probed"); !strings.HasPrefix(n, "5 ") {
				t.Errorf("health log: %q", n)
			}
			d.mustDocker("rm", "-f", "probed")
			// Opt-in: restart when unhealthy (Docker only reports it).
			d.mustDocker("run", "-d", "--name", "healer", "--label", "berth.restart-on-unhealthy=true", "--health-cmd", "test -f /tmp/ok",
				"--health-interval", "200ms", "--health-retries", "1", "bbox", "sh", "-c", "sleep 1; echo started >> /tmp/runs; sleep 60")
			first := d.mustDocker("inspect", "-f", "{{.State.StartedAt}}", "healer")
			if msg := eventually(15*time.Second, func() string {
				if again := d.mustDocker("inspect", "-f", "{{.State.StartedAt}} {{.State.Running}}", "healer"); again == strings.TrimSpace(first)+" true\n" || !strings.HasSuffix(again, " true\n") {
					return "not restarted: " + again
				}
				return ""
			}); msg != "" {
				t.Errorf("an unhealthy container with %s=true: %s", "berth.restart-on-unhealthy", msg)
			}
			d.mustDocker("rm", "-f", "healer")
		}},
		{"secure defaults", func(t *testing.T) {
			out := d.mustDocker("run", "--rm", "bbox", "sh", "-c", "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; cat /proc/kcore 2>&1 | wc -c; touch /proc/sys/x 2>&1 >/dev/null; echo; cat /etc/hostname")
			for _, want := range []string{"CapEff:\t00000000a80425fb", "Seccomp:\t2"} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %q in:\n%s", want, out)
				}
			}
			if r := run("run", "--rm", "--privileged", "bbox", "grep", "Seccomp:", "/proc/self/status"); !strings.Contains(r.stdout, "Seccomp:\t0") {
				t.Errorf("--privileged keeps seccomp: %q", r.stdout)
			}
			if r := run("run", "--rm", "--cap-drop", "ALL", "bbox", "grep", "CapEff:", "/proc/self/status"); !strings.Contains(r.stdout, "CapEff:\t0000000000000000") {
				t.Errorf("--cap-drop ALL: %q", r.stdout)
			}
			if r := run("run", "--rm", "--security-opt", "no-new-privileges", "bbox", "grep", "NoNewPrivs:", "/proc/self/status"); !strings.Contains(r.stdout, "NoNewPrivs:\t1") {
				t.Errorf("no-new-privileges: %q", r.stdout)
			}
			if r := run("run", "--rm", "bbox", "sh", "-c", "df -k /dev/shm | tail -1"); !strings.Contains(r.stdout, "65536") {
				t.Errorf("/dev/shm is not 64 MiB: %q", r.stdout)
			}
		}},
		{"container prune and system prune", func(t *testing.T) {
			d.mustDocker("create", "--name", "stale", "bbox", "true")
			d.mustDocker("run", "-d", "--name", "alive", "bbox", "sleep", "60")
			if out := d.mustDocker("system", "prune", "-f"); !strings.Contains(out, "Deleted Containers:") {
				t.Errorf("system prune:\n%s", out)
			}
			if got := d.mustDocker("ps", "-a", "--format", "{{.Names}}"); strings.Contains(got, "stale") || !strings.Contains(got, "alive") {
				t.Errorf("after system prune: %q", got)
			}
			d.mustDocker("rm", "-f", "alive")
		}},
		{"bad input: Docker's messages, nothing left behind", func(t *testing.T) {
			d.mustDocker("run", "--name", "halted", "bbox", "true")
			before := d.mustDocker("ps", "-aq")
			for _, c := range []struct {
				args []string
				code int
				want string
			}{
				{[]string{"run", "--rm", "--pull", "never", "nosuchimage"}, 125, "No such image: nosuchimage:latest"},
				{[]string{"run", "--rm", "-m", "1x", "bbox", "true"}, 125, `invalid argument "1x" for "-m, --memory" flag`},
				{[]string{"run", "--rm", "--cpus", "-1", "bbox", "true"}, 125, "range of CPUs is from"},
				{[]string{"run", "--rm", "bbox", "/nosuch"}, 127, "no such file or directory"},
				{[]string{"run", "--rm", "--cap-add", "NOPE", "bbox", "true"}, 125, "unknown capability"},
				{[]string{"run", "--rm", "--stop-signal", "NOSIG", "bbox", "true"}, 125, "Invalid signal: NOSIG"},
				{[]string{"exec", "halted", "true"}, 1, "is not running"},
				{[]string{"start", "nosuch"}, 1, "No such container: nosuch"},
				{[]string{"run", "--name", "halted", "bbox", "true"}, 125, `The container name "/halted" is already in use`},
			} {
				r := run(c.args...)
				if r.code != c.code || !strings.Contains(r.stderr, c.want) {
					t.Errorf("docker %s: exit %d (want %d), stderr %q (want %q)", strings.Join(c.args, " "), r.code, c.code, r.stderr, c.want)
				}
			}
			if after := d.mustDocker("ps", "-aq"); after != before {
				t.Errorf("failed commands left containers: before %q after %q", before, after)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.check)
	}
}

// TestContainersSurviveDaemonKill is the crash test: containers keep
// running and logging while berthd is killed with SIGKILL; a new berthd finds
// them, their logs miss no line, and stop and rm work.
func TestContainersSurviveDaemonKill(t *testing.T) {
	d := withImage(t)
	const n = 20
	for i := range n {
		d.mustDocker("run", "-d", "--name", "c"+strconv.Itoa(i), "bbox", "sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.05; done")
	}
	time.Sleep(300 * time.Millisecond)
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	time.Sleep(500 * time.Millisecond) // the containers print on without a daemon
	d.start()
	running := d.mustDocker("ps", "-q")
	if got := len(strings.Fields(running)); got != n {
		t.Fatalf("%d containers running after berthd's restart, want %d:\n%s", got, n, d.mustDocker("ps", "-a"))
	}
	for i := range n {
		name := "c" + strconv.Itoa(i)
		d.mustDocker("stop", "-t", "0", name)
		out := d.mustDocker("logs", name)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < 10 {
			t.Errorf("%s: only %d log lines", name, len(lines))
		}
		for j, l := range lines {
			if l != "line "+strconv.Itoa(j) {
				t.Errorf("%s: log line %d is %q: a line was lost", name, j, l)
				break
			}
		}
		d.mustDocker("rm", name)
	}
	if out := d.mustDocker("ps", "-aq"); out != "" {
		t.Errorf("containers left: %q", out)
	}
}

// TestContainerChurn creates, starts, stops and removes 200 containers, 8 at
// a time, and then counts what is left: mounts, cgroups, shims, state files.
func TestContainerChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short: 200 containers")
	}
	d := withImage(t)
	cgroupsBefore := countCgroups(d.CgroupParent)
	const total, parallel = 200, 8
	errs := make(chan string, total)
	sem := make(chan struct{}, parallel)
	for i := range total {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			name := "churn" + strconv.Itoa(i)
			for _, args := range [][]string{
				{"create", "--name", name, "bbox", "sleep", "30"},
				{"start", name},
				{"stop", "-t", "0", name},
				{"rm", name},
			} {
				if o, e, c := d.docker(args...); c != 0 {
					errs <- "docker " + strings.Join(args, " ") + ": " + o + e
					return
				}
			}
		}()
	}
	for range parallel {
		sem <- struct{}{}
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if out := d.mustDocker("ps", "-aq"); out != "" {
		t.Errorf("containers left: %q", out)
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if n := strings.Count(string(mounts), d.ExecRoot) + strings.Count(string(mounts), d.DataRoot); n != 0 {
		t.Errorf("%d mounts left under the daemon's roots", n)
	}
	if after := countCgroups(d.CgroupParent); after != cgroupsBefore {
		t.Errorf("cgroups under %s: %d before, %d after", d.CgroupParent, cgroupsBefore, after)
	}
	for _, dir := range []string{d.ExecRoot + "/containers", d.ExecRoot + "/runtime", d.DataRoot + "/containers"} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s holds %d entries after churn", dir, len(entries))
		}
	}
	// A shim with no container left exits once it has stayed idle (shim.DefaultIdle).
	deadline := time.Now().Add(shim.DefaultIdle + 5*time.Second)
	for countShims(d.ExecRoot) != 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if shims := countShims(d.ExecRoot); shims != 0 {
		t.Errorf("%d shims left %v after the last container", shims, shim.DefaultIdle+5*time.Second)
	}
}

// countCgroups counts the containers' cgroups under parent.
func countCgroups(parent string) int {
	n := 0
	for _, h := range []string{"/sys/fs/cgroup/memory" + parent, "/sys/fs/cgroup/pids" + parent, "/sys/fs/cgroup/unified" + parent} {
		entries, _ := os.ReadDir(h)
		for _, e := range entries {
			if e.IsDir() {
				n++
			}
		}
	}
	return n
}

func countShims(execRoot string) int {
	n := 0
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmdline, []byte("\x00shim\x00")) && bytes.Contains(cmdline, []byte(execRoot)) {
			n++
		}
	}
	return n
}
