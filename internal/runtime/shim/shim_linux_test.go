package shim_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/testutil"
)

// launcherEnv makes the test binary a launcher process (see TestMain): it launches
// the shim described by the JSON in the variable, prints "launched", and waits to be
// killed.
const launcherEnv = "BERTH_SHIM_TEST_LAUNCHER"

type launcherConfig struct {
	Opts    shim.Opts
	Runtime string
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(launcherEnv); cfg != "" {
		var l launcherConfig
		json.Unmarshal([]byte(cfg), &l)
		l.Opts.Runtime = l.Runtime // not part of Opts' JSON
		if _, err := shim.Launch(context.Background(), l.Opts); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("launched")
		select {}
	}
	os.Exit(m.Run())
}

// box is one container run by a shim in a test.
type box struct {
	t      *testing.T
	opts   shim.Opts
	client *shim.Client
	bundle string
	shim   int // the shim's pid, once launched
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// newBox prepares a bundle running args (edit may change the spec and options) and
// checks, after the test, that nothing of the container is left.
func newBox(t *testing.T, args []string, edit func(*specs.Spec, *shim.Opts)) *box {
	t.Helper()
	testutil.RequireRoot(t, "the shim creates containers")
	id := testutil.UniqueID("shim")
	b := &box{t: t, bundle: testutil.Bundle(t)}
	dir := t.TempDir()
	b.opts = shim.Opts{
		Runtime:     testutil.Binary(t, "berth-runtime"),
		ID:          id,
		Bundle:      b.bundle,
		RuntimeRoot: filepath.Join(dir, "runtime"),
		StateDir:    filepath.Join(dir, "shim"),
		Log:         shim.LogConfig{Driver: "json-file", Path: filepath.Join(dir, id+"-json.log")},
	}
	spec := testutil.ReadSpec(t, b.bundle)
	spec.Process.Args = args
	spec.Linux.CgroupsPath = "/" + id // a cgroup of our own, to count
	if edit != nil {
		edit(spec, &b.opts)
	}
	testutil.WriteSpec(t, b.bundle, spec)
	t.Cleanup(func() {
		shim.Reap(b.opts.StateDir, b.opts.RuntimeRoot, id)
		b.assertNoLeftovers()
	})
	return b
}

// launch launches b with a shim of its own.
func (b *box) launch() *shim.Client {
	b.t.Helper()
	return b.launchBy(shim.Launch)
}

// launchBy launches b with launch (shim.Launch, or a Group's).
func (b *box) launchBy(launch func(context.Context, shim.Opts) (*shim.Client, error)) *shim.Client {
	b.t.Helper()
	c, err := launch(ctx(b.t), b.opts)
	if err != nil {
		b.t.Fatalf("launch: %v", err)
	}
	b.client = c
	b.shim = b.shimPid()
	return c
}

func (b *box) start() {
	b.t.Helper()
	if _, err := b.client.Start(ctx(b.t)); err != nil {
		b.t.Fatalf("Start: %v", err)
	}
}

func (b *box) wait() shim.Exit {
	b.t.Helper()
	e, err := b.client.Wait(ctx(b.t))
	if err != nil {
		b.t.Fatalf("Wait: %v", err)
	}
	return e
}

func (b *box) shutdown() {
	b.t.Helper()
	if err := b.client.Shutdown(ctx(b.t)); err != nil {
		b.t.Fatalf("Shutdown: %v", err)
	}
}

// shimPid reads the shim's pid file.
func (b *box) shimPid() int {
	b.t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.opts.StateDir, "shim.pid"))
	if err != nil {
		b.t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(raw))
	if err != nil {
		b.t.Fatal(err)
	}
	return pid
}

// assertNoLeftovers checks that nothing of the container remains: runtime record,
// cgroups, mounts mentioning the bundle, shim or container processes.
func (b *box) assertNoLeftovers() {
	t := b.t
	t.Helper()
	id := b.opts.ID
	if _, err := os.Stat(filepath.Join(b.opts.RuntimeRoot, id)); err == nil {
		t.Errorf("runtime record of %s left behind", id)
	}
	if cgs, _ := filepath.Glob("/sys/fs/cgroup/*/" + id); len(cgs) > 0 {
		t.Errorf("cgroups of %s left behind: %v", id, cgs)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(mi, []byte(b.bundle)) {
		t.Errorf("mounts under %s left behind", b.bundle)
	}
	for _, name := range []string{"shim.sock", "shim.pid"} {
		if _, err := os.Stat(filepath.Join(b.opts.StateDir, name)); err == nil {
			t.Errorf("%s left behind", name)
		}
	}
	if n := processesMentioning(id); n > 0 {
		t.Errorf("%d processes of %s left behind", n, id)
	}
	// A shim of one container exits once it serves nothing.
	if b.shim > 0 && !eventually(func() bool { return !alive(b.shim) }) {
		t.Errorf("shim %d still runs", b.shim)
	}
}

// alive says whether pid runs (a zombie does not count).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z'
}

// eventually polls cond for up to 5 s.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); ; {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processesMentioning counts live (not zombie) processes whose command line or cgroup
// names id.
func processesMentioning(id string) int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		cg, _ := os.ReadFile("/proc/" + e.Name() + "/cgroup")
		if bytes.Contains(cmdline, []byte(id)) || bytes.Contains(cg, []byte(id)) {
			n++
		}
	}
	return n
}

// logLine matches one json-file entry exactly as Docker writes it.
var logLine = regexp.MustCompile(`^\{"log":"((?:[^"\\]|\\.)*)","stream":"(stdout|stderr)","time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"\}$`)

// readLog returns the log's entries as "stream: text" lines, checking the format.
func (b *box) readLog() []string {
	b.t.Helper()
	f, err := os.Open(b.opts.Log.Path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := logLine.FindStringSubmatch(sc.Text())
		if m == nil {
			b.t.Fatalf("log line not in Docker's json-file format: %s", sc.Text())
		}
		var text string
		if err := json.Unmarshal([]byte(`"`+m[1]+`"`), &text); err != nil {
			b.t.Fatal(err)
		}
		if _, err := time.Parse(time.RFC3339Nano, m[3]); err != nil {
			b.t.Errorf("log time %q: %v", m[3], err)
		}
		out = append(out, m[2]+": "+text)
	}
	return out
}

func TestEchoIsLoggedAndExitRecorded(t *testing.T) {
	b := newBox(t, []string{"echo", "hi"}, nil)
	b.launch()
	if st, err := b.client.State(ctx(t)); err != nil || st.Status != shim.StatusCreated {
		t.Fatalf("State before start = %+v, %v; want created", st, err)
	}
	b.start()
	e := b.wait()
	if e.Code != 0 || e.OOMKilled || e.ExitedAt.IsZero() {
		t.Errorf("exit = %+v, want code 0 with a time", e)
	}
	if got := b.readLog(); len(got) != 1 || got[0] != "stdout: hi\n" {
		t.Errorf("log = %q, want one stdout entry \"hi\\n\"", got)
	}
	recorded, err := shim.ReadExit(b.opts.StateDir)
	if err != nil || recorded.Code != 0 || recorded.Pid != b.client.Pid() {
		t.Errorf("exit.json = %+v, %v; want code 0 of pid %d", recorded, err, b.client.Pid())
	}
	if st, err := b.client.State(ctx(t)); err != nil || st.Status != shim.StatusExited || st.Exit == nil {
		t.Errorf("State after exit = %+v, %v; want exited", st, err)
	}
	// Cleaned up before the exit was reported.
	if _, err := os.Stat(filepath.Join(b.opts.RuntimeRoot, b.opts.ID)); err == nil {
		t.Error("runtime record still there after Wait")
	}
	b.shutdown()
	if _, err := shim.Connect(ctx(t), b.opts.StateDir); !errors.Is(err, shim.ErrShimGone) {
		t.Errorf("Connect after shutdown: %v, want ErrShimGone", err)
	}
	if e, err := b.client.Wait(ctx(t)); err != nil || e.Code != 0 {
		t.Errorf("Wait after shutdown = %+v, %v; want the recorded exit", e, err)
	}
}

func TestExitCodeIsPropagated(t *testing.T) {
	b := newBox(t, []string{"sh", "-c", "exit 3"}, nil)
	b.launch()
	b.start()
	if e := b.wait(); e.Code != 3 {
		t.Errorf("exit code = %d, want 3", e.Code)
	}
	b.shutdown()
}

// In the host's pid namespace a container's orphans are reparented to the shim, which
// must reap them too (elsewhere they go to the container's own init).
func TestHostPidNamespaceOrphansAreReaped(t *testing.T) {
	b := newBox(t, []string{"sh", "-c", "sleep 1000 & exit 3"}, func(s *specs.Spec, _ *shim.Opts) {
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
			return ns.Type == specs.PIDNamespace
		})
	})
	b.launch()
	shimPid := b.shimPid()
	b.start()
	if e := b.wait(); e.Code != 3 {
		t.Errorf("exit code = %d, want 3", e.Code)
	}
	// The orphaned sleep was killed with the container; nothing of it may stay a
	// zombie under the shim.
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", shimPid, shimPid))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(kids)) == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shim still has children %q after the container exited", kids)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.shutdown()
}

func TestShimLeavesWhenIdleAfterTheExit(t *testing.T) {
	b := newBox(t, []string{"sh", "-c", "exit 2"}, func(_ *specs.Spec, o *shim.Opts) {
		o.ExitGrace = 100 * time.Millisecond
	})
	b.launch()
	pid := b.shimPid()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	b.start()
	if e := b.wait(); e.Code != 2 {
		t.Errorf("exit code %d, want 2", e.Code)
	}
	// No shutdown: the shim goes by itself once no client is connected.
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10000); n != 1 || err != nil {
		t.Fatalf("shim still there 10 s after the exit: %v", err)
	}
	if e, err := shim.ReadExit(b.opts.StateDir); err != nil || e.Code != 2 {
		t.Errorf("ReadExit = %+v, %v; want code 2", e, err)
	}
	if e, err := b.client.Wait(ctx(t)); err != nil || e.Code != 2 {
		t.Errorf("Wait once the shim is gone = %+v, %v; want the recorded exit", e, err)
	}
}

func TestOOMKillIsReported(t *testing.T) {
	b := newBox(t, []string{"tail", "/dev/zero"}, func(s *specs.Spec, _ *shim.Opts) {
		limit := int64(32 << 20)
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit, Swap: &limit}}
	})
	b.launch()
	b.start()
	if e := b.wait(); e.Code != 128+9 || !e.OOMKilled {
		t.Errorf("exit = %+v, want 137 and OOMKilled", e)
	}
	b.shutdown()
}

func TestAttachBeforeStartSeesEveryLine(t *testing.T) {
	const n = 200
	b := newBox(t, []string{"sh", "-c", fmt.Sprintf("i=0; while [ $i -lt %d ]; do echo out$i; echo err$i >&2; i=$((i+1)); done", n)}, nil)
	b.launch()
	s1, err := b.client.Attach(ctx(t), shim.AttachOpts{Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := b.client.Attach(ctx(t), shim.AttachOpts{Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	b.start()
	var out, errOut, out2, errOut2 bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, s1); err != nil {
		t.Fatalf("demultiplex: %v", err)
	}
	if _, err := stdcopy.StdCopy(&out2, &errOut2, s2); err != nil {
		t.Fatalf("demultiplex: %v", err)
	}
	var wantOut, wantErr strings.Builder
	for i := range n {
		fmt.Fprintf(&wantOut, "out%d\n", i)
		fmt.Fprintf(&wantErr, "err%d\n", i)
	}
	if out.String() != wantOut.String() || errOut.String() != wantErr.String() {
		t.Errorf("attached stdout/stderr:\n%q\n%q", out.String(), errOut.String())
	}
	if out2.Len() != 0 || errOut2.String() != wantErr.String() {
		t.Errorf("second client (stderr only) got stdout %q and stderr %q", out2.String(), errOut2.String())
	}
	if e := b.wait(); e.Code != 0 {
		t.Errorf("exit = %+v", e)
	}
	entries := b.readLog()
	var logged [2]strings.Builder
	for _, e := range entries {
		stream, text, _ := strings.Cut(e, ": ")
		logged[map[string]int{"stdout": 0, "stderr": 1}[stream]].WriteString(text)
	}
	if len(entries) != 2*n || logged[0].String() != wantOut.String() || logged[1].String() != wantErr.String() {
		t.Errorf("log has %d entries, want %d, each line once on its stream", len(entries), 2*n)
	}
	b.shutdown()
}

func TestTerminalAttachAndResize(t *testing.T) {
	b := newBox(t, []string{"sh", "-c", "read x; stty size; exit 4"}, func(s *specs.Spec, o *shim.Opts) {
		s.Process.Terminal = true
		o.Terminal, o.OpenStdin, o.StdinOnce = true, true, true
	})
	b.launch()
	s, err := b.client.Attach(ctx(t), shim.AttachOpts{Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.start()
	if err := b.client.Resize(ctx(t), 33, 111); err != nil {
		t.Fatalf("Resize: %v", err)
	}
	if _, err := s.Write([]byte("go\r")); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(s) // raw bytes: the stream ends once the container has exited
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "33 111") {
		t.Errorf("terminal output %q, want stty size \"33 111\"", out)
	}
	if e := b.wait(); e.Code != 4 {
		t.Errorf("exit code %d, want 4", e.Code)
	}
	if err := b.client.Resize(ctx(t), 10, 10); err == nil {
		t.Error("Resize of an exited container's terminal succeeded")
	}
	b.shutdown()
}

func TestStdinOnceClosesStdin(t *testing.T) {
	b := newBox(t, []string{"cat"}, func(s *specs.Spec, o *shim.Opts) {
		o.OpenStdin, o.StdinOnce = true, true
	})
	b.launch()
	s, err := b.client.Attach(ctx(t), shim.AttachOpts{Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.start()
	if _, err := s.Write([]byte("hello\nworld\n")); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, s); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\nworld\n" {
		t.Errorf("cat echoed %q", out.String())
	}
	if e := b.wait(); e.Code != 0 {
		t.Errorf("cat exited %d after its stdin closed, want 0", e.Code)
	}
	b.shutdown()
}

func TestDetachKeysLeaveStdinOpen(t *testing.T) {
	b := newBox(t, []string{"cat"}, func(s *specs.Spec, o *shim.Opts) {
		o.OpenStdin, o.StdinOnce = true, true
	})
	b.launch()
	b.start()
	keys := []byte{0x10, 0x11} // ctrl-p ctrl-q
	s, err := b.client.Attach(ctx(t), shim.AttachOpts{Stdin: true, Stdout: true, DetachKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("one\x10x\n")) // a ctrl-p alone is passed on
	var out bytes.Buffer
	for out.String() != "one\x10x\n" {
		stream, p, err := testutil.ReadFrame(s)
		if err != nil {
			t.Fatalf("before detaching cat echoed %q, then: %v", out.String(), err)
		}
		if stream == 1 {
			out.Write(p)
		}
	}
	s.Write([]byte("\x10\x11ignored"))
	if _, p, err := testutil.ReadFrame(s); err != io.EOF {
		t.Errorf("after the detach keys the stream gave %q, %v; want its end", p, err)
	}
	s.Close()
	// Stdin is still open: a second attach feeds cat and closes it.
	s2, err := b.client.Attach(ctx(t), shim.AttachOpts{Stdin: true, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.Write([]byte("two\n"))
	s2.CloseWrite()
	out.Reset()
	stdcopy.StdCopy(&out, io.Discard, s2)
	if out.String() != "two\n" {
		t.Errorf("after re-attaching cat echoed %q, want only what this client sent", out.String())
	}
	if e := b.wait(); e.Code != 0 {
		t.Errorf("exit %+v", e)
	}
	b.shutdown()
}

func TestExec(t *testing.T) {
	b := newBox(t, []string{"sleep", "1000"}, nil)
	b.launch()
	if _, _, err := b.client.Exec(ctx(t), shim.ExecOpts{ID: "early", Process: &specs.Process{Args: []string{"true"}, Cwd: "/"}}); err == nil {
		t.Error("exec before start succeeded")
	}
	b.start()
	spec := testutil.ReadSpec(t, b.bundle)
	proc := *spec.Process
	proc.Args = []string{"sh", "-c", "echo from-exec; echo to-err >&2; exit 7"}
	s, pid, err := b.client.Exec(ctx(t), shim.ExecOpts{ID: "e1", Process: &proc})
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, s); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if out.String() != "from-exec\n" || errOut.String() != "to-err\n" {
		t.Errorf("exec output %q / %q", out.String(), errOut.String())
	}
	st, err := b.client.ExecState(ctx(t), "e1")
	if err != nil || st.Status != shim.StatusExited || st.Exit == nil || st.Exit.Code != 7 || st.Pid != pid {
		t.Errorf("ExecState after the stream ended = %+v, %v; want exited 7", st, err)
	}
	if _, _, err := b.client.Exec(ctx(t), shim.ExecOpts{ID: "e1", Process: &proc}); err == nil {
		t.Error("a second exec with the same id succeeded")
	}
	if _, err := b.client.ExecState(ctx(t), "nope"); err == nil {
		t.Error("ExecState of an unknown exec succeeded")
	}

	// Every exec runs in the container's namespaces, not only the first: the thread
	// that joined them for one exec must never serve the next.
	wantMnt, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", b.client.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	proc.Args = []string{"readlink", "/proc/self/ns/mnt"}
	for i := range 4 {
		s, _, err = b.client.Exec(ctx(t), shim.ExecOpts{ID: fmt.Sprint("mnt", i), Process: &proc})
		if err != nil {
			t.Fatal(err)
		}
		out.Reset()
		stdcopy.StdCopy(&out, io.Discard, s)
		s.Close()
		if got := strings.TrimSpace(out.String()); got != wantMnt {
			t.Fatalf("exec %d ran in mount namespace %q, the container's is %q", i+1, got, wantMnt)
		}
	}

	// Nothing the shim holds (its sockets, the container's pipes, its log) reaches an
	// exec'd process: only stdio, and the directory ls itself opens.
	proc.Args = []string{"ls", "/proc/self/fd"}
	s, _, err = b.client.Exec(ctx(t), shim.ExecOpts{ID: "fds", Process: &proc})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	stdcopy.StdCopy(&out, io.Discard, s)
	s.Close()
	if got := strings.Fields(out.String()); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("an exec'd process has descriptors %v open, want 0 1 2 (and ls's own 3)", got)
	}

	// With stdin, closed when the client ends its input; and with a terminal.
	proc.Args = []string{"cat"}
	s, _, err = b.client.Exec(ctx(t), shim.ExecOpts{ID: "e2", Process: &proc, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("abc"))
	s.CloseWrite()
	out.Reset()
	stdcopy.StdCopy(&out, io.Discard, s)
	s.Close()
	if st, _ := b.client.ExecState(ctx(t), "e2"); out.String() != "abc" || st.Exit == nil || st.Exit.Code != 0 {
		t.Errorf("exec cat: echoed %q, state %+v", out.String(), st)
	}
	proc.Args = []string{"sh", "-c", "read x; stty size"}
	s, _, err = b.client.Exec(ctx(t), shim.ExecOpts{ID: "e3", Process: &proc, Terminal: true, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.client.ResizeExec(ctx(t), "e3", 12, 34); err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("\r"))
	raw, _ := io.ReadAll(s)
	s.Close()
	if !strings.Contains(string(raw), "12 34") {
		t.Errorf("exec -t output %q, want stty size \"12 34\"", raw)
	}

	if err := runtime.New(b.opts.RuntimeRoot).Kill(b.opts.ID, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	if e := b.wait(); e.Code != 128+9 {
		t.Errorf("exit code after SIGKILL = %d, want 137", e.Code)
	}
	if _, _, err := b.client.Exec(ctx(t), shim.ExecOpts{ID: "late", Process: &proc}); err == nil {
		t.Error("exec after exit succeeded")
	}
	b.shutdown()
}

// An exec's stream is framed as the client asks, whatever the process has: a
// terminal's output as stdout frames, or a terminal-less process's stdout raw.
func TestExecFraming(t *testing.T) {
	b := newBox(t, []string{"sleep", "1000"}, nil)
	b.launch()
	b.start()
	spec := testutil.ReadSpec(t, b.bundle)
	proc := *spec.Process
	proc.Args = []string{"sh", "-c", "echo out; echo err >&2"}

	s, _, err := b.client.Exec(ctx(t), shim.ExecOpts{ID: "tty-framed", Process: &proc, Terminal: true, Framing: shim.FramingMultiplexed})
	if err != nil {
		t.Fatal(err)
	}
	var frames []string
	for {
		stream, p, err := testutil.ReadFrame(s)
		if err != nil {
			if err != io.EOF {
				t.Fatalf("after frames %q: %v", frames, err)
			}
			break
		}
		frames = append(frames, fmt.Sprintf("%d %s", stream, p))
	}
	s.Close()
	if got := strings.Join(frames, ""); !strings.HasPrefix(got, "1 out\r\n") || strings.ReplaceAll(got, "1 ", "") != "out\r\nerr\r\n" {
		t.Errorf("a terminal's output framed: %q, want stdout frames of \"out\\r\\nerr\\r\\n\"", frames)
	}

	s, _, err = b.client.Exec(ctx(t), shim.ExecOpts{ID: "pipes-raw", Process: &proc, Framing: shim.FramingRaw, NoStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(s)
	s.Close()
	if string(raw) != "out\n" {
		t.Errorf("stdout raw, stderr left out: %q, want \"out\\n\"", raw)
	}

	if _, _, err := b.client.Exec(ctx(t), shim.ExecOpts{ID: "bad", Process: &proc, Framing: "sideways"}); err == nil {
		t.Error("an unknown framing was accepted")
	}
	killAndWait(t, b.client.Pid())
	b.wait()
	b.shutdown()
}

// The detach keys end an exec's stream and leave its process running; ExecWait then
// learns of its exit.
func TestExecDetachKeys(t *testing.T) {
	b := newBox(t, []string{"sleep", "1000"}, nil)
	b.launch()
	b.start()
	spec := testutil.ReadSpec(t, b.bundle)
	proc := *spec.Process
	proc.Args = []string{"cat"}
	s, pid, err := b.client.Exec(ctx(t), shim.ExecOpts{ID: "cat", Process: &proc, Terminal: true, Stdin: true, DetachKeys: []byte{0x10, 0x11}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(10 * time.Second)) // a stream that does not end fails the test
	s.Write([]byte("hi\r"))
	var out []byte
	buf := make([]byte, 256)
	for strings.Count(string(out), "hi\r\n") < 2 { // the terminal's echo, then cat's
		n, err := s.Read(buf)
		if err != nil {
			t.Fatalf("before detaching the exec wrote %q, then: %v", out, err)
		}
		out = append(out, buf[:n]...)
	}
	s.Write([]byte("\x10\x11"))
	if rest, err := io.ReadAll(s); err != nil || len(rest) != 0 {
		t.Errorf("after the detach keys the stream gave %q, %v; want its end", rest, err)
	}
	if st, err := b.client.ExecState(ctx(t), "cat"); err != nil || st.Status != shim.StatusRunning {
		t.Fatalf("after detaching: %+v, %v; want the exec running", st, err)
	}
	waited := make(chan shim.State, 1)
	go func() {
		st, err := b.client.ExecWait(ctx(t), "cat")
		if err != nil {
			t.Errorf("ExecWait: %v", err)
		}
		waited <- st
	}()
	killAndWait(t, pid)
	if st := <-waited; st.Status != shim.StatusExited || st.Exit == nil || st.Exit.Code != 128+9 {
		t.Errorf("ExecWait = %+v, want exited 137", st)
	}
	if _, err := b.client.ExecWait(ctx(t), "nope"); err == nil {
		t.Error("ExecWait of an unknown exec succeeded")
	}
	killAndWait(t, b.client.Pid())
	b.wait()
	b.shutdown()
}

func TestShimOutlivesItsLauncher(t *testing.T) {
	b := newBox(t, []string{"sh", "-c", "echo bye; exit 5"}, nil)
	cfg, err := json.Marshal(launcherConfig{Opts: b.opts, Runtime: b.opts.Runtime})
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), launcherEnv+"="+string(cfg))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "launched\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("launcher said %q", line)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	c, err := shim.Connect(ctx(t), b.opts.StateDir)
	if err != nil {
		t.Fatalf("Connect after the launcher died: %v", err)
	}
	b.client = c
	if st, err := c.State(ctx(t)); err != nil || st.Status != shim.StatusCreated || st.Pid <= 0 {
		t.Fatalf("State = %+v, %v; want created", st, err)
	}
	b.start()
	if e := b.wait(); e.Code != 5 {
		t.Errorf("exit code %d, want 5", e.Code)
	}
	if got := b.readLog(); len(got) != 1 || got[0] != "stdout: bye\n" {
		t.Errorf("log = %q", got)
	}
	b.shutdown()
}

func TestReapAfterTheShimIsKilled(t *testing.T) {
	b := newBox(t, []string{"sh", "-c", "sleep 1000 & echo started; wait"}, nil)
	b.launch()
	s, err := b.client.Attach(ctx(t), shim.AttachOpts{Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.start()
	if _, p, err := testutil.ReadFrame(s); err != nil || string(p) != "started\n" {
		t.Fatalf("container said %q, %v", p, err)
	}
	initPid := b.client.Pid()
	if n := processesMentioning(b.opts.ID); n != 2 || !alive(b.shim) { // sh, sleep; and the shim
		t.Fatalf("%d processes of the container before the kill (want 2), shim alive %t", n, alive(b.shim))
	}
	killAndWait(t, b.shimPid())
	if _, err := shim.Connect(ctx(t), b.opts.StateDir); !errors.Is(err, shim.ErrShimGone) {
		t.Fatalf("Connect to a killed shim: %v, want ErrShimGone", err)
	}
	if _, err := shim.ReadExit(b.opts.StateDir); !errors.Is(err, shim.ErrNoExit) {
		t.Fatalf("ReadExit: %v, want ErrNoExit", err)
	}
	e, err := shim.Reap(b.opts.StateDir, b.opts.RuntimeRoot, b.opts.ID)
	if err != nil {
		t.Fatalf("Reap: %v", err)
	}
	if e.Code != shim.UnknownExitCode || e.Pid != initPid {
		t.Errorf("Reap = %+v, want code 255 of pid %d", e, initPid)
	}
	if again, err := shim.ReadExit(b.opts.StateDir); err != nil || again.Code != e.Code {
		t.Errorf("ReadExit after Reap = %+v, %v", again, err)
	}
	// b's cleanup counts cgroups, mounts and processes.
}

// killAndWait SIGKILLs pid and waits until it has exited.
func killAndWait(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10000); err != nil {
		t.Fatal(err)
	}
}

func TestBadBundleLeavesNothing(t *testing.T) {
	b := newBox(t, []string{"true"}, nil)
	if err := os.RemoveAll(filepath.Join(b.bundle, "rootfs")); err != nil {
		t.Fatal(err)
	}
	_, err := shim.Launch(ctx(t), b.opts)
	if err == nil {
		t.Fatal("Launch succeeded without a rootfs")
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "rootfs") {
		t.Errorf("error %q, want one line naming the rootfs", msg)
	}
	if _, err := os.Stat(b.opts.StateDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir left behind: %v", err)
	}
	// b's cleanup counts records, cgroups, mounts and processes.
}

// TestShimMemory measures running shims: RSS, and PSS, which shares the binary's
// pages among the shims as it would be shared among a host's containers.
func TestShimMemory(t *testing.T) {
	const n = 4
	var boxes []*box
	for range n {
		b := newBox(t, []string{"sh", "-c", "echo ready; exec sleep 1000"}, nil)
		b.launch()
		s, err := b.client.Attach(ctx(t), shim.AttachOpts{Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		b.start()
		if _, p, err := testutil.ReadFrame(s); err != nil || string(p) != "ready\n" { // the shim has logged and relayed
			t.Fatalf("container said %q, %v", p, err)
		}
		s.Close()
		boxes = append(boxes, b)
	}
	var rss, pss, anon int
	for _, b := range boxes {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", b.shimPid()))
		if err != nil {
			t.Fatal(err)
		}
		rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", b.shimPid()))
		if err != nil {
			t.Fatal(err)
		}
		rss = max(rss, kB(t, status, "VmRSS:"))
		pss += kB(t, rollup, "Pss:")
		anon += kB(t, rollup, "Pss_Anon:")
	}
	t.Logf("%d shims: RSS at most %d kB; PSS %d kB per shim, of which anonymous %d kB", n, rss, pss/n, anon/n)
	// About 0.9 MB anonymous since the shim hands over to a fresh image of itself; the
	// bound catches a regression to the 1.7 MB it held before.
	if rss > 10<<10 || anon/n > 1400 {
		t.Errorf("a shim costs %d kB RSS, %d kB anonymous; want under 10 MB and 1.4 MB", rss, anon/n)
	}
	for _, b := range boxes {
		if err := runtime.New(b.opts.RuntimeRoot).Kill(b.opts.ID, unix.SIGKILL, false); err != nil {
			t.Fatal(err)
		}
		b.wait()
		b.shutdown()
	}
}

func kB(t *testing.T, text []byte, key string) int {
	for _, l := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(l, key); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("no %s in %s", key, text)
	return 0
}

func TestShimGivesBackWhatExecsTook(t *testing.T) {
	b := newBox(t, []string{"sleep", "1000"}, nil)
	b.launch()
	b.start()
	spec := testutil.ReadSpec(t, b.bundle)
	proc := *spec.Process
	proc.Args = []string{"true"}
	anon := func() int {
		rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", b.shimPid()))
		if err != nil {
			t.Fatal(err)
		}
		return kB(t, rollup, "Pss_Anon:")
	}
	// Enough execs for the heap to pass the collector's 4 MB floor (a health check
	// every 30 s makes as many in a quarter of an hour).
	peak := 0
	for i := range 40 {
		s, _, err := b.client.Exec(ctx(t), shim.ExecOpts{ID: fmt.Sprint("e", i), Process: &proc})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, s)
		s.Close()
		peak = max(peak, anon())
	}
	deadline := time.Now().Add(10 * time.Second)
	const bound = 2560 // kB; about 3.1 MB stay without the trim, about 1.9 MB with it
	for anon() > bound && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("shim anonymous memory: %d kB at the peak of 40 execs, %d kB once idle", peak, anon())
	if a := anon(); a > bound {
		t.Errorf("an idle shim keeps %d kB after 40 execs; want it to give back to under %d kB", a, bound)
	}
	if err := runtime.New(b.opts.RuntimeRoot).Kill(b.opts.ID, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	b.wait()
	b.shutdown()
}
