package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/network/firewall"
	"github.com/berth-engine/berth/internal/network/link"
	"github.com/berth-engine/berth/internal/testutil"
)

// dockerCLI is the real Docker client the suite drives berthd with.
const dockerCLI = "/usr/local/bin/docker"

// startTimeout bounds how long a daemon may take to start or stop; it only
// fires when something is broken.
const startTimeout = 30 * time.Second

// requireE2E skips unless the suite can run here: as root, with the docker CLI.
func requireE2E(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t, "berthd runs as root")
	if _, err := os.Stat(dockerCLI); err != nil {
		t.Skipf("needs the docker CLI at %s: %v", dockerCLI, err)
	}
}

// daemon is one berthd process under test and the paths it was given. The
// socket, pidfile and exec root sit in a short directory under /tmp (a unix
// socket path holds at most 107 bytes); the data root in the test's temp dir.
type daemon struct {
	t                                   *testing.T
	Dir                                 string // the short directory
	DataRoot, ExecRoot, Pidfile, Socket string
	ConfigFile                          string // an empty daemon.json unless the test writes one
	CgroupParent                        string // the containers' cgroups, private to the test
	// Networking private to the test: the default bridge's name and subnet, the pools
	// user networks get subnets from, berth's nftables table.
	Bridge, BIP, AddressPool, FirewallTable string
	DockerConfig                            string // DOCKER_CONFIG for the docker CLI
	cmd                                     *exec.Cmd
	stderr                                  syncBuffer
	ready                                   chan struct{} // closed when berthd logs that it listens
	exited                                  chan struct{} // closed when the process has been waited for
	exitErr                                 error         // valid once exited is closed
	readyOnce                               sync.Once
}

// newDaemon prepares the paths of a daemon without starting it.
func newDaemon(t *testing.T) *daemon {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "berth-test-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &daemon{
		t:          t,
		Dir:        dir,
		DataRoot:   filepath.Join(t.TempDir(), "root"),
		ExecRoot:   filepath.Join(dir, "exec"),
		Pidfile:    filepath.Join(dir, "berthd.pid"),
		Socket:     filepath.Join(dir, "berth.sock"),
		ConfigFile: filepath.Join(dir, "daemon.json"),
		// Not the default /berth: a test touches only what it made.
		CgroupParent: "/" + filepath.Base(dir),
		// The docker CLI's own config (credentials after docker login), one per daemon.
		DockerConfig: t.TempDir(),
		Bridge:       "bt" + filepath.Base(dir)[len("berth-test-e2e-"):],
		// 10.200-249.x.0/24 for the default bridge, 10.100-199.0.0/16 for user networks.
		BIP:           fmt.Sprintf("10.%d.%d.1/24", 200+mathrand.IntN(50), mathrand.IntN(256)),
		AddressPool:   fmt.Sprintf("base=10.%d.0.0/16,size=24", 100+mathrand.IntN(100)),
		FirewallTable: "berth-test-" + filepath.Base(dir)[len("berth-test-e2e-"):],
	}
	if len(d.Bridge) > 15 {
		d.Bridge = d.Bridge[:15]
	}
	if err := os.WriteFile(d.ConfigFile, []byte("{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// berthd turns on IP forwarding (IPv6's too with IPv6 networks), host-wide as
	// Docker does; the test puts back what the machine had.
	for _, k := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if was, err := os.ReadFile(k); err == nil {
			t.Cleanup(func() { os.WriteFile(k, was, 0o644) })
		}
	}
	return d
}

// Host is the DOCKER_HOST value for the daemon.
func (d *daemon) Host() string { return "unix://" + d.Socket }

// args are the command-line flags giving the daemon its paths.
func (d *daemon) args() []string {
	return []string{
		"--data-root", d.DataRoot, "--exec-root", d.ExecRoot, "--pidfile", d.Pidfile,
		"-H", d.Host(), "--config-file", d.ConfigFile, "--cgroup-parent", d.CgroupParent,
		"--bridge", d.Bridge, "--bip", d.BIP, "--default-address-pool", d.AddressPool, "--firewall-table", d.FirewallTable,
	}
}

// launch starts berthd with the daemon's paths and extra flags, without waiting.
func (d *daemon) launch(extra ...string) {
	d.t.Helper()
	// berthd runs containers with the berth-runtime beside it.
	testutil.Binary(d.t, "berth-runtime")
	d.cmd = exec.Command(testutil.Binary(d.t, "berthd"), append(d.args(), extra...)...)
	d.ready = make(chan struct{})
	d.exited = make(chan struct{})
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	cmd, ready, exited := d.cmd, d.ready, d.exited
	go func() {
		sc := bufio.NewScanner(pipe)
		listening := false
		for sc.Scan() {
			line := sc.Text()
			d.stderr.WriteLine(line)
			if !listening && strings.Contains(line, "API listen on") {
				listening = true
				close(ready)
			}
		}
		d.exitErr = cmd.Wait()
		close(exited)
	}()
	d.t.Cleanup(func() {
		kill(cmd, exited)
		d.reapLeftovers()
	})
	// Runs before the daemon is stopped (clean-ups run last first): containers
	// outlive berthd by design, so a test's containers go with the test.
	d.t.Cleanup(func() {
		select {
		case <-exited:
			return
		default:
		}
		if ids, _, _ := d.docker("ps", "-aq"); strings.TrimSpace(ids) != "" {
			d.docker(append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
	})
}

// reapLeftovers kills the shims and containers a test left under the
// daemon's exec root (a test that killed berthd, or a failed one), and
// unmounts what is still mounted under its roots, so no test leaks them.
func (d *daemon) reapLeftovers() {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) >= 4 && args[1] == "shim" && strings.HasPrefix(args[3], d.ExecRoot+"/") {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	// Their containers: force-deleted through the runtime (processes, cgroups, mounts).
	rtRoot := filepath.Join(d.ExecRoot, "runtime")
	ids, _ := os.ReadDir(rtRoot)
	for _, id := range ids {
		exec.Command(testutil.Binary(d.t, "berth-runtime"), "--root", rtRoot, "delete", "--force", id.Name()).Run()
	}
	// The containers' cgroup parent, in every hierarchy, once empty.
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*" + d.CgroupParent)
	for _, h := range hierarchies {
		var dirs []string
		filepath.WalkDir(h, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			syscall.Rmdir(dirs[i])
		}
	}
	d.removeNetworking()
	for _, root := range []string{d.ExecRoot, d.DataRoot} {
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		var under []string
		for _, l := range strings.Split(string(mounts), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], root+"/") {
				under = append(under, f[4])
			}
		}
		for i := len(under) - 1; i >= 0; i-- {
			syscall.Unmount(under[i], syscall.MNT_DETACH)
		}
	}
}

// removeNetworking removes the test daemon's nftables table and its bridges (the
// default one and those of networks the test left), which berthd keeps when it
// stops, as containers may still use them.
func (d *daemon) removeNetworking() {
	if fw, err := firewall.New(firewall.Options{Table: d.FirewallTable}); err == nil {
		fw.Remove()
	}
	bridges := []string{d.Bridge}
	var recs struct {
		Networks []struct {
			Bridge string `json:"bridge"`
		} `json:"networks"`
	}
	if b, err := os.ReadFile(filepath.Join(d.DataRoot, "network", "networks.json")); err == nil && json.Unmarshal(b, &recs) == nil {
		for _, n := range recs.Networks {
			if n.Bridge != "" && n.Bridge != d.Bridge {
				bridges = append(bridges, n.Bridge)
			}
		}
	}
	for _, b := range bridges {
		link.DeleteBridge(b)
	}
}

// start launches berthd and waits until it serves: it has logged that it
// listens and answers /_ping.
func (d *daemon) start(extra ...string) {
	d.t.Helper()
	d.launch(extra...)
	select {
	case <-d.ready:
	case <-d.exited:
		d.t.Fatalf("berthd exited during start-up (%v):\n%s", d.exitErr, d.stderr.String())
	case <-time.After(startTimeout):
		d.t.Fatalf("berthd did not start within %v:\n%s", startTimeout, d.stderr.String())
	}
	resp, err := d.client().Get("http://berth/_ping")
	if err != nil {
		d.t.Fatalf("ping: %v\n%s", err, d.stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		d.t.Fatalf("ping: status %d", resp.StatusCode)
	}
}

// wait waits for the process to exit and returns its exit code.
func (d *daemon) wait() int {
	d.t.Helper()
	select {
	case <-d.exited:
	case <-time.After(startTimeout):
		d.t.Fatalf("berthd did not exit within %v:\n%s", startTimeout, d.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case d.exitErr == nil:
		return 0
	case errors.As(d.exitErr, &ee):
		return ee.ExitCode()
	}
	d.t.Fatalf("wait: %v", d.exitErr)
	return -1
}

// stop sends SIGTERM and returns the exit code.
func (d *daemon) stop() int {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatalf("SIGTERM: %v", err)
	}
	return d.wait()
}

// kill ends a process if it still runs (test clean-up): SIGTERM, then SIGKILL.
func kill(cmd *exec.Cmd, exited chan struct{}) {
	select {
	case <-exited:
		return
	default:
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(startTimeout):
		cmd.Process.Kill()
		<-exited
	}
}

// client is an HTTP client for the daemon's socket (the host name is ignored).
func (d *daemon) client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", d.Socket)
		},
	}}
}

// docker runs the docker CLI against the daemon and returns its stdout,
// stderr and exit code. The CLI sees the daemon's config directory and no
// inherited DOCKER_* settings.
func (d *daemon) docker(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	return d.runCLI(dockerCLI, []string{"DOCKER_HOST=" + d.Host(), "DOCKER_CONFIG=" + d.DockerConfig}, args)
}

// runCLI runs a client binary with env (and none of the caller's DOCKER_* or
// BERTH_HOST settings) and returns its stdout, stderr and exit code.
func (d *daemon) runCLI(bin string, env, args []string) (stdout, stderr string, code int) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_") && !strings.HasPrefix(kv, "BERTH_HOST=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		d.t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return out.String(), errOut.String(), code
}

// mustDocker runs the docker CLI and fails the test unless it succeeds.
func (d *daemon) mustDocker(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.docker(args...)
	if code != 0 {
		d.t.Fatalf("docker %s: exit %d\nstdout:\n%s\nstderr:\n%s\nberthd:\n%s",
			strings.Join(args, " "), code, out, errOut, d.stderr.String())
	}
	return out
}

// syncBuffer collects a process's log lines for failure messages.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *syncBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lines = append(b.lines, s)
}

func (b *syncBuffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

func (b *syncBuffer) String() string { return strings.Join(b.Lines(), "\n") }
