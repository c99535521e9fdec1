package e2e

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/testutil"
)

// berth runs the berth CLI against the daemon (through BERTH_HOST) and
// returns its stdout, stderr and exit code.
func (d *daemon) berth(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.runCLI(testutil.Binary(d.t, "berth"), []string{"BERTH_HOST=" + d.Host(), "DOCKER_CONFIG=" + d.t.TempDir()}, args)
}

func (d *daemon) mustBerth(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.berth(args...)
	if code != 0 {
		d.t.Fatalf("berth %s: exit %d\nstdout:\n%s\nstderr:\n%s\nberthd:\n%s",
			strings.Join(args, " "), code, out, errOut, d.stderr.String())
	}
	return out
}

// serverSection is the output from its "Server:" line on.
func serverSection(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, "\nServer:")
	if i < 0 {
		t.Fatalf("no Server section in:\n%s", out)
	}
	return out[i+1:]
}

// TestBerthCLIMatchesDocker runs berth's system verbs and docker's against
// the same berthd: what describes the daemon must read the same.
func TestBerthCLIMatchesDocker(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()

	for _, args := range [][]string{{"version"}, {"info"}} {
		b, dk := d.mustBerth(args...), d.mustDocker(args...)
		if bs, ds := serverSection(t, b), serverSection(t, dk); bs != ds {
			t.Errorf("%s server section differs\nberth:\n%s\ndocker:\n%s", args[0], bs, ds)
		}
	}
	for _, args := range [][]string{
		{"system", "df"},
		{"system", "df", "-v"},
		{"system", "df", "--format", "json"},
		{"version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}/{{.Server.Arch}} {{.Server.Platform.Name}}"},
		{"info", "--format", "{{.Driver}} {{.CgroupVersion}} {{.DockerRootDir}} {{.NCPU}} {{range .RegistryConfig.InsecureRegistryCIDRs}}{{.}} {{end}}{{.Name}} {{.OSType}}"},
	} {
		if b, dk := d.mustBerth(args...), d.mustDocker(args...); b != dk {
			t.Errorf("%s differs\nberth:\n%s\ndocker:\n%s", strings.Join(args, " "), b, dk)
		}
	}
}

func TestBerthEventsUntil(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	// A bounded window in the past: the stream ends by itself, exit 0.
	now := time.Now().Unix()
	since, until := strconv.FormatInt(now-60, 10), strconv.FormatInt(now, 10)
	out, errOut, code := d.berth("events", "--since", since, "--until", until, "--filter", "type=image")
	if code != 0 || errOut != "" {
		t.Fatalf("berth events: exit %d\n%s\nstderr:\n%s", code, out, errOut)
	}
	if dk := d.mustDocker("events", "--since", since, "--until", until, "--filter", "type=image"); out != dk {
		t.Errorf("events differ\nberth:\n%s\ndocker:\n%s", out, dk)
	}
	// The daemon's own refusal reaches the user as docker prints it.
	_, errOut, code = d.berth("events", "--since", until, "--until", since)
	if code != 1 || !strings.HasPrefix(errOut, "Error response from daemon: `since` time") {
		t.Errorf("since after until: exit %d %q", code, errOut)
	}
}

func TestBerthWithoutDaemon(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t) // never started: nothing listens on its socket
	_, errOut, code := d.berth("info")
	if want := "Cannot connect to the berth daemon at " + d.Host() + ". Is berthd running?\n"; code != 1 || errOut != want {
		t.Errorf("exit %d, stderr %q, want 1 and %q", code, errOut, want)
	}
}

// TestBerthRunForwardsSignals sends SIGUSR1 to a foreground `berth run`: the
// container gets it (its trap answers and sets the exit code), as with docker.
func TestBerthRunForwardsSignals(t *testing.T) {
	d := withImage(t)
	cmd := exec.Command(testutil.Binary(t, "berth"), "run", "--rm", "bbox", "sh", "-c",
		`trap "echo got-usr1; exit 7" USR1; echo ready; while :; do sleep 0.1; done`)
	cmd.Env = append(os.Environ(), "BERTH_HOST="+d.Host(), "DOCKER_CONFIG="+t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("container said %q before the signal", lines.Text())
	}
	if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if !lines.Scan() || lines.Text() != "got-usr1" {
		t.Errorf("after SIGUSR1 to the CLI the container said %q, want got-usr1", lines.Text())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 7 {
			t.Errorf("berth run ended with %v, want exit 7 (the container's)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("berth run did not end after the container did")
	}
}
