package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/atomicfile"
	"github.com/berth-engine/berth/internal/idletrim"
	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/runtime/cgroup"
)

const (
	// defaultExitGrace is how long the shim stays after the exit with no client
	// connected, unless Opts say otherwise.
	defaultExitGrace = 5 * time.Second
	// requestTimeout bounds the wait for a client's request line.
	requestTimeout = 10 * time.Second
	// maxRequest bounds a request line (an exec's process spec is the largest).
	maxRequest = 1 << 20
)

// server serves one container: its control socket, stdio, exit and execs.
type server struct {
	o       Opts
	rt      *runtime.Runtime
	init    *proc
	starter runtime.Starter
	ln      *os.File
	sweep   bool       // reap by SIGCHLD and sweeps, not per child (see watchChild)
	reapMu  sync.Mutex // held while sweeping, and while the runtime starts processes we must wait for ourselves

	mu       sync.Mutex
	started  bool
	execs    map[string]*proc
	execPids map[int]*proc
	conns    int
	grace    *time.Timer
	trim     *idletrim.Trimmer // touched by each exec
	exit     *Exit             // set once the exit is recorded
	exited   chan struct{}     // closed then
	quit     chan struct{}
	quitOnce sync.Once
	stopped  chan struct{} // closed once serve has returned and removed shim.sock and shim.pid
}

// newServer serves a container just created: its log opened, its output read, its
// children reaped. On failure the caller undoes c.
func newServer(c *created, trim *idletrim.Trimmer) (*server, error) {
	o := c.opts
	lw, err := NewLogWriter(o.Log)
	if err != nil {
		return nil, err
	}
	s := &server{
		o:        o,
		rt:       runtime.New(o.RuntimeRoot),
		init:     c.init,
		starter:  c.starter,
		ln:       c.ln,
		execs:    map[string]*proc{},
		execPids: map[int]*proc{},
		trim:     trim,
		exited:   make(chan struct{}),
		quit:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	s.init.log, s.init.stdinOnce = newProcLog(lw), o.StdinOnce
	if s.sweep = c.sharedPidNS; s.sweep {
		go s.reap()
	} else if err := s.watchChild(s.init.pid); err != nil {
		if s.init.log != nil {
			s.init.log.close()
		}
		return nil, err
	}
	s.init.readOutputs()
	return s, nil
}

// serve accepts clients until the shim is told to go.
func (s *server) serve() {
	for {
		c, err := accept(s.ln)
		if err != nil {
			select {
			case <-s.quit:
				os.Remove(filepath.Join(s.o.StateDir, sockName))
				os.Remove(filepath.Join(s.o.StateDir, pidName))
				close(s.stopped)
				return
			default:
			}
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				time.Sleep(50 * time.Millisecond) // a connection must end first
			}
			continue
		}
		go s.handle(s.opened(c))
	}
}

// stop makes serve return.
func (s *server) stop() {
	s.quitOnce.Do(func() {
		close(s.quit)
		s.ln.Close()
	})
}

// conn is one client connection, counted while open (the shim leaves only once the
// container has exited and no client has been connected for Opts.ExitGrace).
type conn struct {
	f    *os.File
	s    *server
	once sync.Once
}

func (s *server) opened(f *os.File) *conn {
	s.mu.Lock()
	s.conns++
	if s.grace != nil {
		s.grace.Stop()
		s.grace = nil
	}
	s.mu.Unlock()
	return &conn{f: f, s: s}
}

func (c *conn) close() {
	c.once.Do(func() {
		c.f.Close()
		s := c.s
		s.mu.Lock()
		s.conns--
		s.armGraceLocked()
		s.mu.Unlock()
	})
}

// armGraceLocked starts the countdown to leaving once the exit is recorded and no
// client is connected.
func (s *server) armGraceLocked() {
	if s.exit == nil || s.conns > 0 || s.grace != nil {
		return
	}
	grace := s.o.ExitGrace
	if grace <= 0 {
		grace = defaultExitGrace
	}
	s.grace = time.AfterFunc(grace, func() {
		s.mu.Lock()
		idle := s.conns == 0
		s.mu.Unlock()
		if idle {
			s.stop()
		}
	})
}

// handle reads one request and answers it; attach and exec keep the connection as
// the process's stream.
func (s *server) handle(c *conn) {
	c.f.SetReadDeadline(time.Now().Add(requestTimeout))
	br := bufio.NewReaderSize(c.f, 4096)
	line, err := readLine(br, maxRequest)
	c.f.SetReadDeadline(time.Time{})
	if err != nil {
		c.close()
		return
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		s.answer(c, replyError(errdefs.ErrInvalidArgument.WithMessage("bad request: "+err.Error())))
		return
	}
	// Bytes the client sent after its request (input for attach or exec).
	var pending []byte
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		pending = append([]byte(nil), b...)
	}
	switch req.Op {
	case opStart:
		s.answer(c, s.start())
	case opAttach:
		s.attach(c, req, pending)
	case opResize, opExecResize:
		s.answer(c, s.resize(req))
	case opWait:
		s.wait(c)
	case opState:
		s.answer(c, s.state())
	case opExec:
		s.exec(c, req, pending)
	case opExecState:
		s.answer(c, s.execState(req.Exec))
	case opExecWait:
		s.execWait(c, req.Exec)
	case opShutdown:
		s.shutdown(c)
	default:
		s.answer(c, replyError(errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown op %q", req.Op))))
	}
}

// answer writes r and closes the connection.
func (s *server) answer(c *conn, r reply) {
	c.f.SetWriteDeadline(time.Now().Add(requestTimeout))
	writeJSONLine(c.f, r)
	c.close()
}

func (s *server) start() reply {
	s.mu.Lock()
	switch {
	case s.exit != nil:
		s.mu.Unlock()
		return replyError(errdefs.ErrConflict.WithMessage("container has exited"))
	case s.started:
		s.mu.Unlock()
		return replyError(errdefs.ErrConflict.WithMessage("container is already started"))
	}
	s.started = true
	s.mu.Unlock()
	// Start runs poststart hooks, whose processes os/exec must reap itself.
	s.reapMu.Lock()
	err := s.rt.StartWith(s.starter)
	s.reapMu.Unlock()
	if err != nil {
		return replyError(err)
	}
	return reply{Pid: s.init.pid}
}

func (s *server) attach(c *conn, req request, pending []byte) {
	p := s.init
	sub := &subscriber{conn: c, framed: !p.terminal, want: [2]bool{req.Stdout, req.Stderr}}
	if p.terminal {
		sub.want[0] = req.Stdout || req.Stderr // a terminal has one stream
	}
	sub.mu.Lock() // no output before the reply
	if !p.subscribe(sub) {
		sub.mu.Unlock()
		s.answer(c, replyError(errdefs.ErrConflict.WithMessage("container has exited")))
		return
	}
	if err := writeJSONLine(c.f, reply{Pid: p.pid}); err != nil {
		sub.mu.Unlock()
		p.drop(sub)
		return
	}
	sub.mu.Unlock()
	if req.Stdin && s.o.OpenStdin {
		go p.copyInput(sub, pending, req.DetachKeys, s.o.StdinOnce)
	}
}

func (s *server) resize(req request) reply {
	p := s.init
	if req.Exec != "" {
		s.mu.Lock()
		p = s.execs[req.Exec]
		s.mu.Unlock()
		if p == nil {
			return replyError(errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no exec %q", req.Exec)))
		}
	}
	if err := p.resize(req.Height, req.Width); err != nil {
		return replyError(errdefs.ErrConflict.WithMessage(err.Error()))
	}
	return reply{}
}

// hangup is closed when the client closes the connection, or when we close it
// after answering (a waiting client sends nothing more).
func (c *conn) hangup() <-chan struct{} {
	gone := make(chan struct{})
	go func() {
		var b [1]byte
		c.f.Read(b[:])
		close(gone)
	}()
	return gone
}

// wait answers once the exit is recorded, unless the client goes away first.
func (s *server) wait(c *conn) {
	gone := c.hangup()
	select {
	case <-s.exited:
		s.mu.Lock()
		e := *s.exit
		s.mu.Unlock()
		s.answer(c, reply{Pid: e.Pid, Status: StatusExited, Exit: &e})
	case <-gone:
		c.close()
	}
}

func (s *server) state() reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := reply{Pid: s.init.pid, Status: StatusCreated}
	switch {
	case s.exit != nil:
		e := *s.exit
		r.Status, r.Exit = StatusExited, &e
	case s.started:
		r.Status = StatusRunning
	}
	return r
}

func (s *server) exec(c *conn, req request, pending []byte) {
	if err := s.startExec(c, req, pending); err != nil {
		s.answer(c, replyError(err))
	}
	s.trim.Touch()
}

// trimDelay is how long the shim waits after an exec before it gives memory back,
// so that a burst of execs (a health check loop, a script) pays for one trim. Each
// exec costs the shim some 130 KB of garbage (the container's record read and
// decoded, the spawn, the stream), which the collector would not look at before the
// heap reached 4 MB: without the trim, a container exec'd into now and then (docker
// exec, health checks) keeps a 3 MB shim; with it, about 1.9 MB (the collector's own
// metadata stays once it has run).
const trimDelay = time.Second

// startExec runs an exec; once it returns nil the connection is the exec's stream.
func (s *server) startExec(c *conn, req request, pending []byte) (err error) {
	if req.Exec == "" || req.Process == nil {
		return errdefs.ErrInvalidArgument.WithMessage("exec needs an id and a process")
	}
	framed, err := req.Framing.framed(req.Terminal)
	if err != nil {
		return err
	}
	p := newProc(req.Terminal)
	s.mu.Lock()
	switch {
	case s.exit != nil:
		err = errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", s.o.ID))
	case !s.started:
		err = errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", s.o.ID))
	case s.execs[req.Exec] != nil:
		err = errdefs.ErrAlreadyExists.WithMessage(fmt.Sprintf("exec %q already exists", req.Exec))
	default:
		s.execs[req.Exec] = p // reserved
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.mu.Lock()
			delete(s.execs, req.Exec)
			s.mu.Unlock()
		}
	}()
	pio, err := newProcIO(req.Terminal, req.Stdin)
	if err != nil {
		return err
	}
	spec := *req.Process
	spec.Terminal = req.Terminal
	sub := &subscriber{conn: c, framed: framed, want: [2]bool{true, !req.NoStderr}}
	sub.mu.Lock() // no output before the reply
	defer sub.mu.Unlock()
	// The reaper must not take the process's exit before it is registered.
	s.reapMu.Lock()
	rp, err := s.rt.Exec(runtime.ExecOpts{ID: s.o.ID, Process: &spec, Stdio: pio.child, Console: pio.console})
	if err != nil {
		s.reapMu.Unlock()
		pio.close()
		if strings.Contains(err.Error(), "stopped container") || strings.Contains(err.Error(), "paused container") {
			return errdefs.ErrConflict.WithMessage(err.Error())
		}
		return err
	}
	p.pid = rp.Pid
	s.mu.Lock()
	s.execPids[p.pid] = p
	s.mu.Unlock()
	if !s.sweep {
		if err := s.watchChild(p.pid); err != nil {
			s.reapMu.Unlock()
			pio.close()
			unix.Kill(p.pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(p.pid, &ws, 0, nil)
			s.mu.Lock()
			delete(s.execPids, p.pid)
			s.mu.Unlock()
			return err
		}
	}
	p.subscribe(sub)
	aerr := pio.attach(p)
	s.reapMu.Unlock()
	if aerr != nil {
		pio.close()
		unix.Kill(p.pid, unix.SIGKILL) // reaped as any exec; its streams end then
		return aerr
	}
	if err := writeJSONLine(c.f, reply{Pid: p.pid}); err != nil {
		// The client is gone: the exec runs on, detached.
		go p.drop(sub)
		return nil
	}
	if req.Stdin {
		go p.copyInput(sub, pending, req.DetachKeys, true)
	}
	return nil
}

func (s *server) execState(id string) reply {
	s.mu.Lock()
	p := s.execs[id]
	s.mu.Unlock()
	if p == nil || p.pid == 0 {
		return replyError(errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no exec %q", id)))
	}
	select {
	case <-p.exited:
		e := p.exit
		return reply{Pid: p.pid, Status: StatusExited, Exit: &e}
	default:
		return reply{Pid: p.pid, Status: StatusRunning}
	}
}

// execWait answers once exec id has exited (at once if it has), unless the client
// goes away first.
func (s *server) execWait(c *conn, id string) {
	s.mu.Lock()
	p := s.execs[id]
	s.mu.Unlock()
	if p == nil || p.pid == 0 {
		s.answer(c, replyError(errdefs.ErrNotFound.WithMessage(fmt.Sprintf("no exec %q", id))))
		return
	}
	gone := c.hangup()
	select {
	case <-p.exited:
		s.answer(c, s.execState(id))
	case <-gone:
		c.close()
	}
}

func (s *server) shutdown(c *conn) {
	s.mu.Lock()
	exited := s.exit != nil
	s.mu.Unlock()
	if !exited {
		s.answer(c, replyError(errdefs.ErrConflict.WithMessage("container is still running")))
		return
	}
	// The client sees its connection end once the container is no longer served.
	writeJSONLine(c.f, reply{})
	s.stop()
	<-s.stopped
	c.close()
}

// discard undoes a container whose launch was cancelled: it is killed (it has not
// started), cleaned up as any exited container, and no longer served.
func (s *server) discard() {
	unix.Kill(s.init.pid, unix.SIGKILL)
	<-s.exited
	s.stop()
	<-s.stopped
}

// Two ways to reap. A container with a pid namespace of its own (the default) hands
// its orphans to its own init, never to us: our only children are its init and the
// execs we start, and each is watched through a pidfd in the runtime's poller, one
// parked goroutine each. A container in the host's pid namespace can leave us
// orphans of any pid: then reap takes SIGCHLD and sweeps. os/signal costs three OS
// threads for good (a locked thread keeping the signal mask, the template thread
// that lock starts, and the thread blocked waiting for signals), about 50 KB a shim.

// watchChild reaps pid, a child of ours, once it exits. The pid cannot be reused
// before we reap it, so the pidfd names our child, even if it already exited.
func (s *server) watchChild(pid int) error {
	wait, err := exitWaiter(pid)
	if err != nil {
		return fmt.Errorf("watch process %d: %w", pid, err)
	}
	go func() {
		wait()
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != unix.EINTR {
				break
			}
		}
		s.reaped(pid, ws)
	}()
	return nil
}

// exitWaiter returns a function that returns once process pid, a child of the
// caller not yet reaped, has exited, without reaping it. It parks the calling
// goroutine in Go's poller on a pidfd: a blocking wait would hold an OS thread per
// process waited for (berthd waits for every shim; a shim for every exec).
func exitWaiter(pid int) (func(), error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		defer f.Close()
		rc.Read(func(fd uintptr) bool {
			n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
			return n > 0 // a pidfd is readable once its process has exited
		})
	}, nil
}

// reap reaps every child as it exits: init, execs, and orphans reparented to us.
func (s *server) reap() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGCHLD)
	for {
		s.reapMu.Lock()
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if err == unix.EINTR {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			s.reaped(pid, ws)
		}
		s.reapMu.Unlock()
		<-sigs
	}
}

// exitCode is the status a shell reports: the exit status, or 128+signal.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

func (s *server) reaped(pid int, ws unix.WaitStatus) {
	e := Exit{Pid: pid, Code: exitCode(ws), ExitedAt: time.Now().UTC()}
	if pid == s.init.pid {
		go s.initExited(e)
		return
	}
	s.mu.Lock()
	p := s.execPids[pid]
	delete(s.execPids, pid)
	s.mu.Unlock()
	if p != nil {
		p.setExit(e)
		go p.finish()
	}
}

// initExited ends the container: output drained and logged, streams closed, the
// container's cgroups and mounts removed, the exit recorded, waiters answered.
func (s *server) initExited(e Exit) {
	s.init.finish()
	if s.init.log != nil {
		s.init.log.close() // a failed log write cannot be reported to anyone
	}
	// DeleteStopped runs poststop hooks: os/exec reaps those itself.
	s.reapMu.Lock()
	if st, err := s.rt.Store.Load(s.o.ID); err == nil {
		if cg, err := cgroup.Load(st.CgroupPaths); err == nil {
			if n, err := cg.OOMKillCount(); err == nil && n > 0 {
				e.OOMKilled = true
			}
		}
		if err := s.rt.DeleteStopped(st); err != nil {
			// Once more: a cgroup may take a moment to empty of exiting tasks.
			s.rt.DeleteStopped(st)
		}
	}
	s.reapMu.Unlock()
	writeExit(s.o.StateDir, e)
	s.mu.Lock()
	s.exit = &e
	close(s.exited)
	s.armGraceLocked()
	s.mu.Unlock()
}

// exitRecord is exit.json.
type exitRecord struct {
	Schema int `json:"schema"`
	Exit
}

func writeExit(dir string, e Exit) error {
	b, err := json.Marshal(exitRecord{Schema: exitSchema, Exit: e})
	if err != nil {
		return err
	}
	// Volatile: the container it describes cannot outlive a reboot, and the rename
	// alone keeps readers from seeing a torn file.
	return atomicfile.WriteVolatile(filepath.Join(dir, exitName), b, 0o600)
}

// ReadExit returns the exit recorded in stateDir, or an error wrapping ErrNoExit.
func ReadExit(stateDir string) (Exit, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, exitName))
	if errors.Is(err, os.ErrNotExist) {
		return Exit{}, fmt.Errorf("shim state %s: %w", stateDir, ErrNoExit)
	}
	if err != nil {
		return Exit{}, err
	}
	var r exitRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return Exit{}, fmt.Errorf("shim state %s: corrupt exit.json: %w", stateDir, err)
	}
	if r.Schema != exitSchema {
		return Exit{}, fmt.Errorf("shim state %s: exit.json schema %d, this berth reads %d", stateDir, r.Schema, exitSchema)
	}
	return r.Exit, nil
}

// readLine reads one line of at most max bytes, without its newline.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, errors.New("line too long")
		}
		if err == nil {
			return line[:len(line)-1], nil
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
	}
}

// writeJSONLine writes v as one JSON line in one write.
func writeJSONLine(f *os.File, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return err
}
