package seccomp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Real-kernel tests install filters in a child process (this test binary
// re-executed with childEnv set), because a filter cannot be removed. The
// child sets no_new_privs, so no privilege is needed. It installs the
// filter on one locked OS thread only (no TSYNC), makes its syscalls from
// that thread, and prints "name=result" lines for the parent to check.

const childEnv = "BERTH_SECCOMP_TEST_CHILD"

func TestMain(m *testing.M) {
	if scenario := os.Getenv(childEnv); scenario != "" {
		os.Exit(runChild(scenario))
	}
	os.Exit(m.Run())
}

// errnoName prints a syscall result: "ok" or the errno's number.
func errnoName(err error) string {
	if err == nil {
		return "ok"
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return fmt.Sprint(int(e))
	}
	return err.Error()
}

func runChild(scenario string) int {
	runtime.LockOSThread() // the filter applies to this thread only
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("error=no_new_privs:", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	report := func(name string, err error) { fmt.Fprintf(out, "%s=%s\n", name, errnoName(err)) }
	install := func(cfg *specs.LinuxSeccomp) (int, bool) {
		f, err := Compile(cfg)
		if err != nil {
			fmt.Fprintln(out, "error=compile:", err)
			return -1, false
		}
		fd, err := f.Install()
		if err != nil {
			fmt.Fprintln(out, "error=install:", err)
			return -1, false
		}
		fmt.Fprintf(out, "fd=%v\n", fd >= 0)
		return fd, true
	}

	switch scenario {
	case "errno":
		cfg := &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"getcwd", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: u(uint(unix.ENOSYS))},
				{Names: []string{"uname"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0, Op: specs.OpEqualTo}}},
				{Names: []string{"lseek"}, Action: specs.ActErrno, ErrnoRet: u(uint(unix.E2BIG)),
					Args: []specs.LinuxSeccompArg{{Index: 1, Value: 1 << 32, Op: specs.OpGreaterThan}}},
				{Names: []string{"lseek"}, Action: specs.ActErrno, ErrnoRet: u(uint(unix.EDOM)),
					Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0xf0, ValueTwo: 0x30, Op: specs.OpMaskedEqual}}},
			},
		}
		if _, ok := install(cfg); !ok {
			return 1
		}
		buf := make([]byte, 4096)
		_, err := unix.Getcwd(buf)
		report("getcwd", err)
		report("mkdirat", unix.Mkdirat(unix.AT_FDCWD, "/nonexistent-berth-test/x", 0o755))
		_, _, e := unix.Syscall(unix.SYS_UNAME, 0, 0, 0)
		report("uname(NULL)", errnoOrNil(e))
		var uts unix.Utsname
		report("uname(buf)", unix.Uname(&uts))
		for _, c := range []struct {
			name           string
			offset, whence uint64
		}{
			{"lseek(2^32+1)", 1<<32 + 1, 0},
			{"lseek(2^32)", 1 << 32, 0},
			{"lseek(2^32-1)", 1<<32 - 1, 0},
			{"lseek(2^33)", 1 << 33, 0},
			{"lseek(whence 0x35)", 0, 0x35},
			{"lseek(whence 0x45)", 0, 0x45},
		} {
			_, _, e := unix.Syscall(unix.SYS_LSEEK, ^uintptr(0), uintptr(c.offset), uintptr(c.whence))
			report(c.name, errnoOrNil(e))
		}
		_, _, e = unix.Syscall(unix.SYS_GETPID, 0, 0, 0)
		report("getpid", errnoOrNil(e))
		return 0

	case "docker":
		// The Docker-like profile, as the kernel's verifier sees it.
		var cfg specs.LinuxSeccomp
		b, err := os.ReadFile("testdata/docker-default.json")
		if err == nil {
			err = json.Unmarshal(b, &cfg)
		}
		if err != nil {
			fmt.Fprintln(out, "error=profile:", err)
			return 1
		}
		if _, ok := install(&cfg); !ok {
			return 1
		}
		for _, c := range []struct {
			name string
			nr   uintptr
			args [3]uintptr
		}{
			{"personality(query)", unix.SYS_PERSONALITY, [3]uintptr{0xffffffff}},
			{"personality(4)", unix.SYS_PERSONALITY, [3]uintptr{4}},
			{"clone3", unix.SYS_CLONE3, [3]uintptr{0, 0}},
			{"syslog", unix.SYS_SYSLOG, [3]uintptr{10, 0, 0}},
			{"socket(AF_VSOCK)", unix.SYS_SOCKET, [3]uintptr{unix.AF_VSOCK, unix.SOCK_STREAM, 0}},
		} {
			_, _, e := unix.Syscall(c.nr, c.args[0], c.args[1], c.args[2])
			report(c.name, errnoOrNil(e))
		}
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		report("socket(AF_UNIX)", err)
		unix.Close(fd)
		_, err = unix.Getcwd(make([]byte, 4096))
		report("getcwd", err)
		return 0

	case "long":
		if _, ok := install(longProfile()); !ok {
			return 1
		}
		buf := make([]byte, 4096)
		_, _, e := unix.Syscall6(unix.SYS_GETCWD, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0, longMagic)
		report("getcwd(magic)", errnoOrNil(e))
		_, _, e = unix.Syscall6(unix.SYS_GETCWD, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0, 0)
		report("getcwd", errnoOrNil(e))
		_, _, e = unix.Syscall6(unix.SYS_UNAME, 0, 0, 0, 0, 0, longMagic)
		report("uname(magic)", errnoOrNil(e))
		return 0

	case "kill":
		// No core file for the SIGSYS.
		_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
		cfg := &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"getppid"}, Action: specs.ActKillProcess}},
		}
		if _, ok := install(cfg); !ok {
			return 1
		}
		out.Flush()
		unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
		fmt.Fprintln(out, "survived=true")
		return 0

	case "notify":
		cfg := &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdirat"}, Action: specs.ActNotify}},
		}
		fd, ok := install(cfg)
		if !ok {
			return 1
		}
		// The supervisor runs on another OS thread, which has no filter.
		supervised := make(chan string, 1)
		go func() { supervised <- supervise(fd) }()
		report("mkdirat", unix.Mkdirat(unix.AT_FDCWD, "/nonexistent-berth-test/x", 0o755))
		fmt.Fprintf(out, "supervisor=%s\n", <-supervised)
		return 0
	}
	fmt.Fprintln(out, "error=unknown scenario", scenario)
	return 1
}

func errnoOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// seccompNotif and seccompNotifResp mirror struct seccomp_notif and
// struct seccomp_notif_resp (linux/seccomp.h).
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// supervise answers one notification on the listener fd with EXDEV and
// reports which syscall it saw.
func supervise(fd int) string {
	var req seccompNotif
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
		return "recv:" + e.Error()
	}
	resp := seccompNotifResp{id: req.id, error: -int32(unix.EXDEV)}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp))); e != 0 {
		return "send:" + e.Error()
	}
	if name, ok := SyscallName(NativeArch(), uint32(req.nr)); ok {
		return name
	}
	return fmt.Sprint(req.nr)
}

// runScenario re-executes the test binary as a child running scenario and
// returns its "name=result" lines and its exit state.
func runScenario(t *testing.T, scenario string) (map[string]string, *os.ProcessState) {
	t.Helper()
	if NativeArch() == "" {
		t.Skipf("no syscall table for GOARCH=%s", runtime.GOARCH)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+scenario)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("child %s: %v", scenario, err)
	}
	results := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			results[k] = v
		}
	}
	if e, ok := results["error"]; ok {
		t.Fatalf("child %s: %s (stderr: %s)", scenario, e, stderr.String())
	}
	return results, cmd.ProcessState
}

func TestKernelErrno(t *testing.T) {
	got, state := runScenario(t, "errno")
	if !state.Success() {
		t.Fatalf("child failed: %v %v", state, got)
	}
	want := map[string]string{
		"fd":                 "false", // no notify action: Install returns -1
		"getcwd":             fmt.Sprint(int(unix.ENOSYS)),
		"mkdirat":            fmt.Sprint(int(unix.ENOSYS)),
		"uname(NULL)":        fmt.Sprint(int(unix.EPERM)), // ERRNO without errnoRet
		"uname(buf)":         "ok",
		"lseek(2^32+1)":      fmt.Sprint(int(unix.E2BIG)),
		"lseek(2^32)":        fmt.Sprint(int(unix.EBADF)), // not > 2^32: the kernel's own answer
		"lseek(2^32-1)":      fmt.Sprint(int(unix.EBADF)), // low half bigger, high half smaller
		"lseek(2^33)":        fmt.Sprint(int(unix.E2BIG)), // low half 0, high half bigger
		"lseek(whence 0x35)": fmt.Sprint(int(unix.EDOM)),  // 0x35 & 0xf0 == 0x30
		"lseek(whence 0x45)": fmt.Sprint(int(unix.EBADF)),
		"getpid":             "ok",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestKernelDockerProfile(t *testing.T) {
	if NativeArch() != string(specs.ArchX86_64) {
		t.Skipf("the profile is written for x86_64 hosts, this is %s", NativeArch())
	}
	got, state := runScenario(t, "docker")
	if !state.Success() {
		t.Fatalf("child failed: %v %v", state, got)
	}
	eperm, enosys := fmt.Sprint(int(unix.EPERM)), fmt.Sprint(int(unix.ENOSYS))
	want := map[string]string{
		"personality(query)": "ok",
		"personality(4)":     eperm,
		"clone3":             enosys,
		"syslog":             eperm,
		"socket(AF_VSOCK)":   eperm,
		"socket(AF_UNIX)":    "ok",
		"getcwd":             "ok",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

// longMagic is an argument value no syscall of the Go runtime passes.
const longMagic = 0xdead_0000_beef

// longProfile makes a program of thousands of instructions, full of long
// jumps, that leaves the Go runtime alone.
func longProfile() *specs.LinuxSeccomp {
	cfg := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86}}
	// Alphabetically first 150, plus uname near the end of the program.
	names := append(Syscalls(NativeArch())[:150], "uname")
	for _, n := range names {
		cfg.Syscalls = append(cfg.Syscalls, specs.LinuxSyscall{
			Names: []string{n}, Action: specs.ActErrno, ErrnoRet: u(uint(unix.EXDEV)),
			Args: []specs.LinuxSeccompArg{
				{Index: 5, Value: longMagic, Op: specs.OpEqualTo},
				// Distinct rules, so that no two syscalls share a rule block.
				{Index: 4, Value: uint64(len(cfg.Syscalls)) << 32, Op: specs.OpLessEqual},
			},
		})
	}
	return cfg
}

func TestKernelLongProgram(t *testing.T) {
	f, err := compileFor(longProfile(), specs.Arch(NativeArch()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(f.comments), "long jump") {
		t.Fatalf("no long jump in %d instructions", len(f.Program))
	}
	got, state := runScenario(t, "long")
	if !state.Success() {
		t.Fatalf("child failed: %v %v", state, got)
	}
	exdev := fmt.Sprint(int(unix.EXDEV))
	for k, v := range map[string]string{"getcwd(magic)": exdev, "getcwd": "ok", "uname(magic)": exdev} {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestKernelKillProcess(t *testing.T) {
	got, state := runScenario(t, "kill")
	if got["fd"] != "false" {
		t.Fatalf("filter not installed: %v", got)
	}
	if got["survived"] != "" {
		t.Fatal("the process survived a SCMP_ACT_KILL_PROCESS syscall")
	}
	ws, ok := state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSYS {
		t.Fatalf("child ended with %v, want killed by SIGSYS", state)
	}
}

func TestKernelNotify(t *testing.T) {
	got, state := runScenario(t, "notify")
	if !state.Success() {
		t.Fatalf("child failed: %v %v", state, got)
	}
	if got["fd"] != "true" {
		t.Fatalf("Install returned no listener fd: %v", got)
	}
	if got["supervisor"] != "mkdirat" {
		t.Errorf("supervisor saw %q, want mkdirat", got["supervisor"])
	}
	if want := fmt.Sprint(int(unix.EXDEV)); got["mkdirat"] != want {
		t.Errorf("mkdirat returned %q, want the supervisor's EXDEV (%s)", got["mkdirat"], want)
	}
}

func TestSupportedFlags(t *testing.T) {
	got := SupportedFlags()
	// Every kernel with seccomp user notification (5.0) has these.
	for _, want := range []string{"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("SupportedFlags() = %v, missing %s", got, want)
		}
	}
}
