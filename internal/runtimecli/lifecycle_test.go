package runtimecli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestRunShowsAnIsolatedView(t *testing.T) {
	h := newHarness(t)
	if got := h.runOK("/testinit", "pid"); got != "1" {
		t.Errorf("pid inside the container = %q, want 1", got)
	}
	if got := h.runOK("/testinit", "hostname"); got != "berth" {
		t.Errorf("hostname = %q, want berth (from config.json)", got)
	}
	var points []string
	for _, line := range strings.Split(h.runOK("/testinit", "mounts"), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			points = append(points, f[4])
		}
	}
	for _, want := range []string{"/", "/proc", "/dev", "/dev/pts", "/sys"} {
		if !slices.Contains(points, want) {
			t.Errorf("no mount at %s; mount points: %v", want, points)
		}
	}
	for _, p := range points {
		if strings.HasPrefix(p, h.bundle) || strings.HasPrefix(p, "/tmp/") {
			t.Errorf("the container sees a host mount point %s", p)
		}
	}
	host, _ := os.Readlink("/proc/self/ns/net")
	if ns := h.runOK("/testinit", "ns"); strings.Contains(ns, "net:"+strings.TrimPrefix(host, "net:")) {
		t.Errorf("container shares the host network namespace:\n%s", ns)
	}
}

func TestRunExitStatus(t *testing.T) {
	h := newHarness(t)
	if r := h.run("/testinit", "exit", "7"); r.code != 7 {
		t.Errorf("exit status %d, want 7 (stderr %s)", r.code, r.stderr)
	}
	// A signal from outside ends run with 128+signal, as a shell reports it.
	h.edit(func(s *specs.Spec) { s.Process.Args = []string{"/testinit", "sleep", "60"} })
	run := h.command("run", "--bundle", h.bundle, h.id)
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	h.waitStatus(h.id, "running")
	h.ok("kill", h.id, "KILL")
	run.Wait()
	if code := run.ProcessState.ExitCode(); code != 128+9 {
		t.Errorf("run of a container killed by SIGKILL: exit status %d, want 137", code)
	}
	// run deletes the container when it exits: the same id can be used again.
	if r := h.run("/testinit", "exit", "0"); r.code != 0 {
		t.Errorf("rerun with the same id: exit %d: %s", r.code, r.stderr)
	}
}

func TestLifecycle(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) { s.Process.Args = []string{"/testinit", "sleep", "60"} })
	pidFile := filepath.Join(t.TempDir(), "pid")
	h.ok("create", "--bundle", h.bundle, "--pid-file", pidFile, h.id)
	st := h.state(h.id)
	if st.Status != "created" || st.Pid <= 0 || st.ID != h.id || st.Bundle != h.bundle {
		t.Fatalf("after create: %+v", st)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(st.Pid) {
		t.Errorf("pid file %q, state pid %d (%v)", b, st.Pid, err)
	}
	if !strings.Contains(h.ok("list"), h.id) {
		t.Errorf("list does not show %s", h.id)
	}
	h.ok("start", h.id)
	h.waitStatus(h.id, "running")

	var pids []int
	if err := json.Unmarshal([]byte(h.ok("ps", "--format", "json", h.id)), &pids); err != nil || len(pids) != 1 || pids[0] != st.Pid {
		t.Errorf("ps --format json = %v (%v), want [%d]", pids, err, st.Pid)
	}
	h.ok("pause", h.id)
	h.waitStatus(h.id, "paused")
	h.ok("resume", h.id)
	h.waitStatus(h.id, "running")

	h.fails("not stopped", "delete", h.id)
	h.ok("kill", h.id, "KILL")
	h.waitStatus(h.id, "stopped")
	if st := h.state(h.id); st.Pid != 0 {
		t.Errorf("stopped container reports pid %d, want 0", st.Pid)
	}
	h.ok("delete", h.id)
	h.fails("does not exist", "state", h.id)
	h.assertNoLeftovers(h.id)
}

func TestKillSignalNamesAndAll(t *testing.T) {
	h := newHarness(t)
	h.createRunning()
	h.fails("unknown signal", "kill", h.id, "NOPE")
	h.ok("kill", h.id, "SIGCONT")
	h.ok("kill", h.id, "18")
	h.ok("kill", "--all", h.id, "KILL")
	h.waitStatus(h.id, "stopped")
	h.fails("not running", "kill", h.id, "TERM")
}

func TestDeleteForceKillsARunningContainer(t *testing.T) {
	h := newHarness(t)
	h.createRunning()
	pid := h.state(h.id).Pid
	h.ok("delete", "--force", h.id)
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(b), ") Z") {
			t.Errorf("container init %d still alive after delete --force", pid)
		}
	}
	h.assertNoLeftovers(h.id)
}

func TestDeleteCreatedContainer(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "--bundle", h.bundle, h.id)
	h.ok("delete", h.id)
	h.assertNoLeftovers(h.id)
}

func TestExec(t *testing.T) {
	h := newHarness(t)
	h.createRunning()
	if got := strings.TrimSpace(h.ok("exec", h.id, "/testinit", "hostname")); got != "berth" {
		t.Errorf("exec hostname = %q, want berth", got)
	}
	if got := strings.TrimSpace(h.ok("exec", h.id, "/testinit", "pid")); got == "1" || got == "" {
		t.Errorf("exec pid = %q, want a pid other than 1 in the container's pid namespace", got)
	}
	env := h.ok("exec", "--env", "FOO=bar", "--cwd", "/tmp", h.id, "/testinit", "env")
	if !strings.Contains(env, "FOO=bar") {
		t.Errorf("exec --env: env lacks FOO=bar:\n%s", env)
	}
	if got := strings.TrimSpace(h.ok("exec", "--user", "1000:1000", h.id, "/testinit", "id")); !strings.HasPrefix(got, "uid=1000 gid=1000") {
		t.Errorf("exec --user 1000:1000: id = %q", got)
	}
	r := h.runtime("exec", h.id, "/testinit", "exit", "3")
	if r.code != 3 {
		t.Errorf("exec exit status %d, want 3", r.code)
	}
	proc := specs.Process{Args: []string{"/testinit", "cwd"}, Cwd: "/dev", Env: []string{"PATH=/bin"}}
	pf := filepath.Join(t.TempDir(), "process.json")
	b, _ := json.Marshal(proc)
	os.WriteFile(pf, b, 0o644)
	if got := strings.TrimSpace(h.ok("exec", "--process", pf, h.id)); got != "/dev" {
		t.Errorf("exec --process: cwd %q, want /dev", got)
	}
	h.fails("executable file not found", "exec", h.id, "nosuchprogram")
	pidFile := filepath.Join(t.TempDir(), "exec.pid")
	h.ok("exec", "--detach", "--pid-file", pidFile, h.id, "/testinit", "sleep", "1")
	if b, err := os.ReadFile(pidFile); err != nil || len(b) == 0 {
		t.Errorf("exec --detach --pid-file wrote %q (%v)", b, err)
	}
	h.ok("kill", h.id, "KILL")
	h.waitStatus(h.id, "stopped")
	h.fails("stopped", "exec", h.id, "/testinit", "pid")
}

func TestHooksSeeTheStateInOrder(t *testing.T) {
	h := newHarness(t)
	log := filepath.Join(t.TempDir(), "hooks.log")
	hook := func(name string) specs.Hook {
		// The hook appends its name and the state's status and id from stdin.
		return specs.Hook{Path: "/bin/busybox", Args: []string{"sh", "-c", `read s; echo "` + name + ` $s" >> ` + log}}
	}
	h.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			CreateRuntime: []specs.Hook{hook("createRuntime")},
			Poststart:     []specs.Hook{hook("poststart")},
			Poststop:      []specs.Hook{hook("poststop")},
		}
	})
	h.runOK("/testinit", "pid")
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	want := []string{"createRuntime", "poststart", "poststop"}
	if len(lines) != len(want) {
		t.Fatalf("hooks ran %d times, want %d:\n%s", len(lines), len(want), b)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w+" ") || !strings.Contains(lines[i], `"id":"`+h.id+`"`) {
			t.Errorf("hook line %d = %q, want %s with the container's state", i, lines[i], w)
		}
	}
}

func TestFailingCreateRuntimeHookLeavesNothing(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false"}}}
	})
	h.fails("createRuntime hook", "create", "--bundle", h.bundle, h.id)
	h.assertNoLeftovers(h.id)
}

func TestNoMountNamespaceLeavesNoHostMounts(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		var nss []specs.LinuxNamespace
		for _, ns := range s.Linux.Namespaces {
			if ns.Type != specs.MountNamespace {
				nss = append(nss, ns)
			}
		}
		s.Linux.Namespaces = nss
	})
	if got := h.runOK("/testinit", "pid"); got != "1" {
		t.Errorf("pid = %q, want 1", got)
	}
	// The harness's cleanup checks that no mount under the bundle is left on the host.
}
