package runtimecli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestDefaultCapabilitiesAndNoNewPrivs(t *testing.T) {
	h := newHarness(t)
	got := h.runOK("/testinit", "caps")
	// The default spec keeps AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10).
	const want = "0000000020000420"
	for _, set := range []string{"CapPrm=", "CapEff=", "CapBnd="} {
		if !strings.Contains(got, set+want) {
			t.Errorf("%s not %s: %s", set, want, got)
		}
	}
	if nnp := h.runOK("/testinit", "nnp"); nnp != "1" {
		t.Errorf("NoNewPrivs = %q, want 1", nnp)
	}
}

func TestUserAndGroups(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Process.User = specs.User{UID: 1000, GID: 1000, AdditionalGids: []uint32{100, 10}}
	})
	if got := h.runOK("/testinit", "id"); got != "uid=1000 gid=1000 groups=10,100" {
		t.Errorf("id = %q", got)
	}
	// A non-root user keeps no capability unless the spec gives it ambient ones.
	if got := h.runOK("/testinit", "caps"); !strings.Contains(got, "CapEff=0000000000000000") {
		t.Errorf("uid 1000 has effective capabilities: %s", got)
	}
}

func TestOnlyStdioReachesTheContainer(t *testing.T) {
	h := newHarness(t)
	if got := h.runOK("/testinit", "fds"); got != "0\n1\n2" {
		t.Errorf("open fds in the container:\n%s\nwant only 0 1 2", got)
	}
}

func TestPreserveFDs(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) { s.Process.Args = []string{"/testinit", "fds"} })
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := h.command("run", "--preserve-fds", "1", "--bundle", h.bundle, h.id)
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run --preserve-fds 1: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != "0\n1\n2\n3" {
		t.Errorf("fds with --preserve-fds 1:\n%s\nwant 0 1 2 3", got)
	}
}

func TestMaskedAndReadonlyPaths(t *testing.T) {
	h := newHarness(t)
	if host, _ := os.ReadFile("/proc/timer_list"); len(host) == 0 {
		t.Fatalf("/proc/timer_list is empty on the host: pick another masked path")
	}
	if got := h.runOK("/testinit", "cat", "/proc/timer_list"); got != "" {
		t.Errorf("masked /proc/timer_list is readable in the container (%d bytes)", len(got))
	}
	r := h.run("/testinit", "write", "/proc/sys/kernel/domainname", "x")
	if r.code == 0 || !strings.Contains(r.stderr, "read-only") {
		t.Errorf("write to /proc/sys: exit %d %q, want a read-only file system error", r.code, r.stderr)
	}
	r = h.run("/testinit", "write", "/sys/kernel/x", "x")
	if r.code == 0 {
		t.Errorf("write under /sys succeeded")
	}
	r = h.run("/testinit", "write", "/newfile", "x")
	if r.code == 0 || !strings.Contains(r.stderr, "read-only") {
		t.Errorf("write to the read-only rootfs: exit %d %q", r.code, r.stderr)
	}
}

func TestRefusesToRunTheRuntimeBinary(t *testing.T) {
	h := newHarness(t)
	// The container's program resolving to the runtime itself is the CVE-2019-5736 entry.
	h.edit(func(s *specs.Spec) { s.Process.Args = []string{"/proc/self/exe", "version"} })
	h.fails("refusing to run the runtime binary", "run", "--bundle", h.bundle, h.id)
}

func TestCreatedInitIsNotDumpable(t *testing.T) {
	h := newHarness(t)
	h.ok("create", "--bundle", h.bundle, h.id)
	pid := h.state(h.id).Pid
	// While init is still the runtime binary, its /proc entries belong to root and
	// its exe link is unreachable for a less privileged process in the container.
	b, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "berth-runtime") {
		t.Skipf("init already exec'd: %s", firstLine(string(b)))
	}
	r := h.runtime("exec", h.id, "/testinit", "cat", "/proc/1/exe")
	if r.code == 0 {
		t.Errorf("a process in the container could read the runtime binary through /proc/1/exe")
	}
}

func TestCwdMustStayInsideTheRootfs(t *testing.T) {
	h := newHarness(t)
	// Whatever fd number a leaked host directory might have, naming it as cwd must
	// not put the program outside its root (the CVE-2024-21626 class).
	for fd := 3; fd <= 12; fd++ {
		h.edit(func(s *specs.Spec) { s.Process.Cwd = "/proc/self/fd/" + itoa(fd) })
		r := h.run("/testinit", "cwd")
		if r.code == 0 {
			cwd := strings.TrimSpace(r.stdout)
			if !strings.HasPrefix(cwd, "/") || strings.Contains(cwd, "unreachable") {
				t.Errorf("cwd /proc/self/fd/%d: the program runs outside its root: %q", fd, cwd)
			}
		}
		h.runtime("delete", "--force", h.id)
	}
}

func TestSymlinkCannotRedirectAMountOutOfTheRootfs(t *testing.T) {
	h := newHarness(t)
	outside := t.TempDir()
	rootfs := filepath.Join(h.bundle, "rootfs")
	if err := os.Symlink(outside, filepath.Join(rootfs, "escape")); err != nil {
		t.Fatal(err)
	}
	h.edit(func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/escape", Type: "tmpfs", Source: "tmpfs"})
	})
	h.run("/testinit", "write", "/escape/marker", "x")
	ents, _ := os.ReadDir(outside)
	if len(ents) != 0 {
		t.Errorf("a mount through a symlink reached the host dir %s: %v", outside, ents)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), outside) {
		t.Errorf("a mount landed on the host at %s", outside)
	}
}

func TestSeccompErrnoAndKill(t *testing.T) {
	h := newHarness(t)
	ret := uint(38) // ENOSYS
	h.edit(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno},
				{Names: []string{"uname"}, Action: specs.ActErrno, ErrnoRet: &ret},
			},
		}
	})
	if got := h.runOK("/testinit", "syscall", "mkdir", "/tmp/x"); got != "EPERM" {
		t.Errorf("mkdir under seccomp ERRNO: %q, want EPERM", got)
	}
	if got := h.runOK("/testinit", "syscall", "uname"); got != "ENOSYS" {
		t.Errorf("uname under seccomp ERRNO(38): %q, want ENOSYS", got)
	}
	if got := h.runOK("/testinit", "seccomp"); got != "2" {
		t.Errorf("seccomp mode %q, want 2 (filter)", got)
	}
}

func TestRlimitsUmaskAndOOMScore(t *testing.T) {
	h := newHarness(t)
	umask := uint32(0o077)
	adj := 500
	h.edit(func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}}
		s.Process.User.Umask = &umask
		s.Process.OOMScoreAdj = &adj
	})
	if got := h.runOK("/testinit", "rlimit", "NOFILE"); got != "512 1024" {
		t.Errorf("NOFILE = %q, want 512 1024", got)
	}
	if got := h.runOK("/testinit", "umask"); got != "0077" && got != "077" {
		t.Errorf("umask = %q, want 0077", got)
	}
	if got := h.runOK("/testinit", "oom-score-adj"); got != "500" {
		t.Errorf("oom_score_adj = %q, want 500", got)
	}
}

func TestUserNamespace(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	})
	if got := h.runOK("/testinit", "id"); !strings.HasPrefix(got, "uid=0 gid=0") {
		t.Errorf("id in a user namespace = %q, want uid=0 gid=0", got)
	}
	host, _ := os.Readlink("/proc/self/ns/user")
	if ns := h.runOK("/testinit", "ns"); strings.Contains(ns, host) {
		t.Errorf("the container shares the host user namespace:\n%s", ns)
	}
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

func TestExecIntoAUserNamespace(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	})
	h.createRunning()
	pid := h.state(h.id).Pid
	want, _ := os.Readlink("/proc/" + itoa(pid) + "/ns/user")
	ns := h.ok("exec", h.id, "/testinit", "ns")
	if !strings.Contains(ns, want) {
		t.Errorf("exec'd process is not in the container's user namespace %s:\n%s", want, ns)
	}
	if got := strings.TrimSpace(h.ok("exec", "--user", "1000:1000", h.id, "/testinit", "id")); !strings.HasPrefix(got, "uid=1000 gid=1000") {
		t.Errorf("exec --user 1000:1000 in a user namespace: %q", got)
	}
	// Host uid 100000+1000 owns what the process creates.
	h.ok("exec", "--user", "1000:1000", h.id, "/testinit", "write", "/dev/shm/f", "x")
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+itoa(pid)+"/root/dev/shm/f", &st); err != nil || st.Uid != 101000 {
		t.Errorf("file written by uid 1000 in the container: host uid %d (%v), want 101000", st.Uid, err)
	}
}
