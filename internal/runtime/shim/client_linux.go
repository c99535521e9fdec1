package shim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Opts say which container a shim runs and how.
type Opts struct {
	// Runtime is the berth-runtime binary; the shim is "Runtime shim ...".
	Runtime     string `json:"-"`
	ID          string `json:"id"`
	Bundle      string `json:"bundle"`      // config.json and rootfs
	RuntimeRoot string `json:"runtimeRoot"` // the runtime library's state root
	StateDir    string `json:"stateDir"`    // the shim's files (see the package doc)
	// Terminal must match config.json's process.terminal: the container gets a pty.
	Terminal bool `json:"terminal,omitempty"`
	// OpenStdin gives the container a stdin fed by attached clients (docker run -i);
	// without it stdin is /dev/null. With StdinOnce the first attach that ends its input
	// closes it.
	OpenStdin bool      `json:"openStdin,omitempty"`
	StdinOnce bool      `json:"stdinOnce,omitempty"`
	Log       LogConfig `json:"log"`
	// ExitGrace is how long the shim stays after the exit while no client is
	// connected (0: 5 s). A client that connects later finds exit.json.
	ExitGrace time.Duration `json:"exitGrace,omitempty"`
	// HostPidNS: the container shares the host's pid namespace (SharesPidNS), and so
	// needs a shim of its own.
	HostPidNS bool `json:"hostPidNS,omitempty"`
}

// Client talks to one container's shim.
type Client struct {
	dir string
	pid int
}

// Pid is the container's init process.
func (c *Client) Pid() int { return c.pid }

// StateDir is the shim's state directory.
func (c *Client) StateDir() string { return c.dir }

// Launch starts a shim of its own for a new container and returns once the shim has
// created it (its program has not started: attach first if need be, then Start) and
// is listening. The shim runs in a session of its own with stdio on /dev/null and
// none of the caller's descriptors, so it outlives the caller. StateDir is made if
// missing. On failure the error is the one-line reason, and nothing is left: no
// process, no container, no state dir (if Launch made it).
//
// While the caller lives, it reaps the shim when the shim exits. Group.Launch puts
// several containers in one shim.
func Launch(ctx context.Context, o Opts) (_ *Client, err error) {
	o, undo, err := prepare(o)
	if err != nil {
		return nil, err
	}
	defer func() { undo(err) }()
	ours, theirs, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer ours.Close()
	sh, err := startShim(o.Runtime, theirs)
	theirs.Close()
	if err != nil {
		return nil, err
	}
	c, err := launchOn(ctx, ours, o)
	if err == nil {
		return c, nil
	}
	// A shim of one container exits once it has none; make sure it did.
	select {
	case <-sh.exited:
	case <-time.After(cancelWait):
		sh.kill()
	}
	if errors.Is(err, ErrShimGone) || ctx.Err() != nil {
		Reap(o.StateDir, o.RuntimeRoot, o.ID)
	}
	return nil, err
}

// prepare checks and completes o for a launch and makes its state dir. undo, given
// the launch's error, removes what a failed launch left in the state dir.
func prepare(o Opts) (Opts, func(error), error) {
	if o.Runtime == "" || o.ID == "" || o.Bundle == "" || o.RuntimeRoot == "" || o.StateDir == "" {
		return o, nil, errors.New("shim: Runtime, ID, Bundle, RuntimeRoot and StateDir are required")
	}
	for _, p := range []*string{&o.Bundle, &o.RuntimeRoot, &o.StateDir} {
		var err error
		if *p, err = filepath.Abs(*p); err != nil {
			return o, nil, err
		}
	}
	madeDir := false
	if _, err := os.Stat(o.StateDir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
			return o, nil, fmt.Errorf("shim state dir: %w", err)
		}
		madeDir = true
	}
	undo := func(err error) {
		switch {
		case err == nil:
		case madeDir:
			os.RemoveAll(o.StateDir)
		default:
			for _, name := range []string{sockName, pidName, exitName} {
				os.Remove(filepath.Join(o.StateDir, name))
			}
		}
	}
	return o, undo, nil
}

// cancelWait bounds how long a cancelled launch waits for the shim to undo it.
const cancelWait = 30 * time.Second

// shimProc is a shim process the caller started, reaped by the caller.
type shimProc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once it has exited and been reaped
}

func (p *shimProc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// startShim starts "RUNTIME shim ARGS..." with fd 3 as its launcher (see Main).
func startShim(runtimeBin string, fd3 *os.File, args ...string) (*shimProc, error) {
	cmd := exec.Command(runtimeBin, append([]string{"shim"}, args...)...)
	cmd.ExtraFiles = []*os.File{fd3}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	// One P: the shim is I/O bound, and each P costs memory (its caches, its threads).
	// No heap profiling: its first sample allocates a 1.4 MB bucket table for good.
	cmd.Env = []string{"GOMAXPROCS=1", "GODEBUG=memprofilerate=0"}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start shim: %w", err)
	}
	exited, err := exitWaiter(cmd.Process.Pid)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("watch shim: %w", err)
	}
	p := &shimProc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		exited() // without holding a thread for the shim's whole life
		cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// launchOn runs the launch protocol on f, a connection to a shim (see monitor.launch):
// the options, the reply, the commit. If ctx ends first, the launch is cancelled
// and launchOn waits (at most cancelWait) until the shim has undone it.
func launchOn(ctx context.Context, f *os.File, o Opts) (*Client, error) {
	var r reply
	replied := make(chan error, 1)
	go func() {
		if err := writeJSONLine(f, o); err != nil {
			replied <- err
			return
		}
		line, err := readLine(bufio.NewReaderSize(f, 512), maxRequest)
		if err == nil {
			err = json.Unmarshal(line, &r)
		}
		replied <- err
	}()
	var err error
	select {
	case err = <-replied:
	case <-ctx.Done():
		// Our end of file cancels; the shim closes once it has undone the launch.
		closeWrite(f)
		f.SetReadDeadline(time.Now().Add(cancelWait))
		<-replied
		return nil, fmt.Errorf("shim: create container %s: %w", o.ID, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("shim exited while creating container %s (%v): %w", o.ID, err, ErrShimGone)
	}
	if err := r.err(); err != nil {
		return nil, err
	}
	if _, err := f.Write([]byte(commitLine + "\n")); err != nil {
		return nil, fmt.Errorf("shim exited while creating container %s (%v): %w", o.ID, err, ErrShimGone)
	}
	return &Client{dir: o.StateDir, pid: r.Pid}, nil
}

// Group launches containers into shared shims: a shim serves up to capacity
// containers, which spreads its fixed cost (a Go runtime, about 0.8 MB) over them;
// containers in the host's pid namespace still get a shim of their own (their
// orphans come to their shim, which must then reap every child it has). A shim whose
// containers are all gone exits after a while; the group then starts another.
type Group struct {
	dir      string
	capacity int
	idle     time.Duration

	mu      sync.Mutex
	current string // the launch socket of the shim taking launches, or ""
	seq     int
}

// NewGroup returns a Group whose shims keep their launch sockets in dir, serve up to
// capacity containers each, and exit once they have had none for idle (0:
// DefaultIdle). The sockets of shims that are gone (killed: a shim removes its own
// when it exits) are removed.
func NewGroup(dir string, capacity int, idle time.Duration) *Group {
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			f, err := dial(path)
			if err == nil {
				f.Close()
			} else if errors.Is(err, unix.ECONNREFUSED) {
				os.Remove(path)
			}
		}
	}
	if idle <= 0 {
		idle = DefaultIdle
	}
	return &Group{dir: dir, capacity: max(capacity, 1), idle: idle}
}

// Launch is Launch for a container of the group (see the package-level Launch).
func (g *Group) Launch(ctx context.Context, o Opts) (_ *Client, err error) {
	if o.HostPidNS {
		return Launch(ctx, o)
	}
	o, undo, err := prepare(o)
	if err != nil {
		return nil, err
	}
	defer func() { undo(err) }()
	// A shim may be full, closing or dead: the next one is tried, then a new one.
	for attempt := 0; ; attempt++ {
		path, err := g.shim(o.Runtime)
		if err != nil {
			return nil, err
		}
		f, err := dial(path)
		if err != nil {
			if attempt < 3 && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED)) {
				g.retire(path)
				continue
			}
			return nil, fmt.Errorf("shim %s: %w", path, err)
		}
		c, err := launchOn(ctx, f, o)
		f.Close()
		switch {
		case err == nil:
			return c, nil
		case attempt < 3 && errors.Is(err, errShimUnavailable):
			g.retire(path)
			continue
		case errors.Is(err, ErrShimGone):
			// The shim died (or closed before taking us): whatever it made of the
			// container goes; the next shim starts afresh.
			g.retire(path)
			Reap(o.StateDir, o.RuntimeRoot, o.ID)
			os.Remove(filepath.Join(o.StateDir, exitName))
			if attempt < 3 && ctx.Err() == nil {
				continue
			}
		}
		return nil, err
	}
}

// shim returns the launch socket of the shim taking launches, starting one if none
// does. The socket is bound and listening before the shim starts, so that launches
// can queue on it at once.
func (g *Group) shim(runtimeBin string) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.current != "" {
		return g.current, nil
	}
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return "", fmt.Errorf("shim dir: %w", err)
	}
	g.seq++
	// Unique across berthd restarts: a shim of an earlier berthd may still listen.
	path := filepath.Join(g.dir, fmt.Sprintf("%x-%d.sock", time.Now().UnixNano(), g.seq))
	ln, err := listen(path)
	if err != nil {
		return "", err
	}
	_, err = startShim(runtimeBin, ln, "--capacity", strconv.Itoa(g.capacity), "--control", path, "--idle", g.idle.String())
	ln.Close()
	if err != nil {
		os.Remove(path)
		return "", err
	}
	g.current = path
	return path, nil
}

// Close asks every shim of the group's directory that serves no container (this
// berthd's and those of an earlier one) to exit now instead of after its idle time;
// shims serving containers go on.
func (g *Group) Close() {
	g.mu.Lock()
	g.current = ""
	g.mu.Unlock()
	entries, err := os.ReadDir(g.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		f, err := dial(filepath.Join(g.dir, e.Name()))
		if err != nil {
			continue
		}
		f.SetDeadline(time.Now().Add(time.Second))
		if _, err := f.Write([]byte(closeIdleLine + "\n")); err == nil {
			readLine(bufio.NewReaderSize(f, 64), 64)
		}
		f.Close()
	}
}

// retire stops launching into the shim at path.
func (g *Group) retire(path string) {
	g.mu.Lock()
	if g.current == path {
		g.current = ""
	}
	g.mu.Unlock()
}

// Connect returns a client of the shim serving stateDir (berthd after a restart).
// If it is gone, the error wraps ErrShimGone: read the exit with ReadExit, or clean
// up with Reap.
func Connect(ctx context.Context, stateDir string) (*Client, error) {
	c := &Client{dir: stateDir}
	st, err := c.State(ctx)
	if err != nil {
		return nil, err
	}
	c.pid = st.Pid
	return c, nil
}

// call sends one request and reads its reply. It returns the connection when the
// reply is a success, with any bytes read past it.
func (c *Client) call(ctx context.Context, req request) (*os.File, []byte, reply, error) {
	f, err := dial(filepath.Join(c.dir, sockName))
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return nil, nil, reply{}, fmt.Errorf("shim %s: %v: %w", c.dir, err, ErrShimGone)
		}
		return nil, nil, reply{}, fmt.Errorf("shim %s: %w", c.dir, err)
	}
	stop := context.AfterFunc(ctx, func() { f.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReaderSize(f, 512)
	var line []byte
	err = writeJSONLine(f, req)
	if err == nil {
		line, err = readLine(br, maxRequest)
	}
	if !stop() && ctx.Err() != nil {
		f.Close()
		return nil, nil, reply{}, ctx.Err()
	}
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) || errors.Is(err, unix.EPIPE) || errors.Is(err, unix.ECONNRESET) {
			return nil, nil, reply{}, fmt.Errorf("shim %s: %s: no answer: %w", c.dir, req.Op, ErrShimGone)
		}
		return nil, nil, reply{}, fmt.Errorf("shim %s: %s: %w", c.dir, req.Op, err)
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		f.Close()
		return nil, nil, reply{}, fmt.Errorf("shim %s: %s: bad reply: %w", c.dir, req.Op, err)
	}
	if err := r.err(); err != nil {
		f.Close()
		return nil, nil, r, err
	}
	var rest []byte
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		rest = append([]byte(nil), b...)
	}
	return f, rest, r, nil
}

// do is call for requests without a stream.
func (c *Client) do(ctx context.Context, req request) (reply, error) {
	f, _, r, err := c.call(ctx, req)
	if f != nil {
		f.Close()
	}
	return r, err
}

// Start starts the container's program and returns init's pid.
func (c *Client) Start(ctx context.Context) (int, error) {
	r, err := c.do(ctx, request{Op: opStart})
	return r.Pid, err
}

// Attach joins the container's stream (see the package doc for its framing). The
// context bounds the request only.
func (c *Client) Attach(ctx context.Context, o AttachOpts) (*Stream, error) {
	f, rest, _, err := c.call(ctx, request{Op: opAttach, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, DetachKeys: o.DetachKeys})
	if err != nil {
		return nil, err
	}
	return &Stream{f: f, pending: rest}, nil
}

// Resize sets the size of the container's terminal.
func (c *Client) Resize(ctx context.Context, height, width uint16) error {
	_, err := c.do(ctx, request{Op: opResize, Height: height, Width: width})
	return err
}

// Wait returns the container's exit once it has exited and been cleaned up. If the
// shim went away without answering, the exit it recorded is returned; if it recorded
// none, the error wraps ErrShimGone.
func (c *Client) Wait(ctx context.Context) (Exit, error) {
	r, err := c.do(ctx, request{Op: opWait})
	if err == nil && r.Exit != nil {
		return *r.Exit, nil
	}
	if err == nil {
		err = fmt.Errorf("shim %s: wait: no exit in the answer", c.dir)
	}
	if errors.Is(err, ErrShimGone) {
		if e, rerr := ReadExit(c.dir); rerr == nil {
			return e, nil
		}
	}
	return Exit{}, err
}

// State reports the container's status: created, running or exited (with its exit).
func (c *Client) State(ctx context.Context) (State, error) {
	r, err := c.do(ctx, request{Op: opState})
	if err != nil {
		return State{}, err
	}
	return State{Pid: r.Pid, Status: r.Status, Exit: r.Exit}, nil
}

// Exec runs a process in the running container. The stream carries its output and
// input (see the package doc) and ends once it has exited and its output is drained;
// ExecState then reports its exit. Closing the stream at once leaves it running
// detached. It returns the process's pid.
func (c *Client) Exec(ctx context.Context, o ExecOpts) (*Stream, int, error) {
	f, rest, r, err := c.call(ctx, request{
		Op: opExec, Exec: o.ID, Process: o.Process, Terminal: o.Terminal, Stdin: o.Stdin,
		Framing: o.Framing, NoStderr: o.NoStderr, DetachKeys: o.DetachKeys,
	})
	if err != nil {
		return nil, 0, err
	}
	return &Stream{f: f, pending: rest}, r.Pid, nil
}

// ResizeExec sets the size of an exec's terminal.
func (c *Client) ResizeExec(ctx context.Context, id string, height, width uint16) error {
	_, err := c.do(ctx, request{Op: opExecResize, Exec: id, Height: height, Width: width})
	return err
}

// ExecState reports whether an exec runs, or how it ended.
func (c *Client) ExecState(ctx context.Context, id string) (State, error) {
	r, err := c.do(ctx, request{Op: opExecState, Exec: id})
	if err != nil {
		return State{}, err
	}
	return State{Pid: r.Pid, Status: r.Status, Exit: r.Exit}, nil
}

// ExecWait returns an exec's state once it has exited (at once if it has): for an
// exec whose stream ended before its process did (the client detached, or went
// away).
func (c *Client) ExecWait(ctx context.Context, id string) (State, error) {
	r, err := c.do(ctx, request{Op: opExecWait, Exec: id})
	if err != nil {
		return State{}, err
	}
	return State{Pid: r.Pid, Status: r.Status, Exit: r.Exit}, nil
}

// Shutdown tells the shim of an exited container to go, and returns once it is gone.
func (c *Client) Shutdown(ctx context.Context) error {
	f, _, _, err := c.call(ctx, request{Op: opShutdown})
	if err != nil {
		return err
	}
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	// The shim's end closes when its process exits.
	if _, err := io.Copy(io.Discard, f); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("shim %s: shutdown: %w", c.dir, err)
	}
	return nil
}

// Stream is an attach or exec connection once the shim has accepted it.
type Stream struct {
	f       *os.File
	pending []byte // read past the reply
}

// Read reads the process's output (framed or raw: see the package doc).
func (s *Stream) Read(p []byte) (int, error) {
	if len(s.pending) > 0 {
		n := copy(p, s.pending)
		s.pending = s.pending[n:]
		return n, nil
	}
	return s.f.Read(p)
}

// Write sends input to the process.
func (s *Stream) Write(p []byte) (int, error) { return s.f.Write(p) }

// CloseWrite ends the input: with StdinOnce (and for an exec) the process's stdin closes.
func (s *Stream) CloseWrite() error { return closeWrite(s.f) }

// Close closes the stream; the process runs on.
func (s *Stream) Close() error { return s.f.Close() }

// SetDeadline sets the read and write deadline, as on a net.Conn.
func (s *Stream) SetDeadline(t time.Time) error { return s.f.SetDeadline(t) }

// shimPid returns the pid of the shim serving dir if that process still runs (its
// command line says shim), else 0.
func shimPid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, pidName))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return 0
	}
	args := splitNUL(cmdline)
	if len(args) < 2 || args[1] != "shim" {
		return 0
	}
	return pid
}

func splitNUL(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		out = append(out, string(b[:i]))
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}
