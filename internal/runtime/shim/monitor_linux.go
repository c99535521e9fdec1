package shim

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/atomicfile"
	"github.com/berth-engine/berth/internal/idletrim"
)

// launcherFD is where the shim finds its launcher's socket (Launch's ExtraFiles[0]):
// the first launch comes on it.
const launcherFD = 3

// closeIdleLine, instead of a launch's options, asks a group's shim to exit now if it
// serves no container (berthd stopping: its idle shims go with it).
const closeIdleLine = `{"op":"close-idle"}`

// commitLine is what a launching client sends once it has the container: anything
// else, end of file included, makes the shim undo the launch.
const commitLine = `{"op":"commit"}`

// DefaultIdle is how long a shim of a group stays with no container, so that a run of
// short containers (a script's `run --rm`s) keeps one shim instead of starting one
// each time.
const DefaultIdle = 10 * time.Second

// monitor is the shim process: it serves the containers launched on it, each through
// a server of its own, until it has none left (a shim of a group: none for
// monitorIdle).
type monitor struct {
	capacity int
	ctlPath  string   // the group's launch socket, or "" (a shim of one container)
	ctl      *os.File // listening at ctlPath
	idleFor  time.Duration
	trim     *idletrim.Trimmer

	mu      sync.Mutex
	load    int  // containers served plus launches under way
	closing bool // no launch is taken any more
	idle    *time.Timer
	done    chan struct{} // closed when the process should exit
}

// Main is the body of "berth-runtime shim [--capacity N --control PATH --idle D]", the shim
// Launch and Group start. Launch's shim serves one container, launched on the
// connection it finds on fd 3. A group's shim (--control) finds a listening socket
// bound at PATH on fd 3 instead and takes launches there, at most N containers at a
// time. Main returns the process's exit status once the shim serves nothing any more.
func Main(args []string) int {
	fs := flag.NewFlagSet("shim", flag.ContinueOnError)
	capacity := fs.Int("capacity", 1, "containers served at most")
	control := fs.String("control", "", "the launch socket's path, when fd 3 listens there")
	idle := fs.Duration("idle", DefaultIdle, "how long a group's shim stays with no container")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if _, err := unix.FcntlInt(launcherFD, unix.F_GETFD, 0); err != nil {
		fmt.Fprintln(os.Stderr, "berth-runtime shim: started without its launcher on fd 3 (berthd starts the shim)")
		return 1
	}
	unix.CloseOnExec(launcherFD)
	unix.SetNonblock(launcherFD, true)
	fd3 := os.NewFile(launcherFD, "launcher")
	// Whatever exec'd processes (and a container in the host's pid namespace) leave
	// behind comes to us.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		if *control == "" {
			writeJSONLine(fd3, reply{Error: "shim: become a child subreaper: " + err.Error()})
		}
		return 1
	}
	m := &monitor{
		capacity: max(*capacity, 1),
		ctlPath:  *control,
		idleFor:  *idle,
		trim:     idletrim.New(trimDelay),
		done:     make(chan struct{}),
	}
	if m.ctlPath != "" {
		m.ctl = fd3
		m.mu.Lock()
		m.idleLocked() // should no launch ever come
		m.mu.Unlock()
		go m.accept()
	} else {
		go m.launch(fd3)
	}
	// berth-runtime keeps its main goroutine locked to the main thread (see
	// cmd/berth-runtime), and that must stay so: an exec joins the container's
	// namespaces on a locked thread that is then discarded, and the main thread cannot
	// be: were that goroutine to run there, the main thread would stay in the
	// container's mount namespace, which /proc/self/ns shows, and the next exec would
	// think it is already there. A locked goroutine that waits hands its P to another
	// thread each time, so the main goroutine waits once, for good, and serving runs
	// elsewhere.
	<-m.done
	return 0
}

// accept takes launches on the control socket until the shim closes it.
func (m *monitor) accept() {
	for {
		c, err := accept(m.ctl)
		if err != nil {
			m.mu.Lock()
			closing := m.closing
			m.mu.Unlock()
			if closing {
				return
			}
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				time.Sleep(50 * time.Millisecond) // a connection must end first
			}
			continue
		}
		go m.launch(c)
	}
}

// reserve takes room for one more container, unless the shim is full or closing.
func (m *monitor) reserve() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing || m.load >= m.capacity {
		return false
	}
	m.load++
	if m.idle != nil {
		m.idle.Stop()
		m.idle = nil
	}
	return true
}

// release gives back a container's room.
func (m *monitor) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.load--
	m.idleLocked()
}

// idleLocked ends the shim once it serves nothing: the shim of one container at once,
// the shim of a group once it has stayed so for idleFor.
func (m *monitor) idleLocked() {
	if m.load > 0 || m.closing {
		return
	}
	if m.ctl == nil {
		m.closing = true
		close(m.done)
		return
	}
	m.idle = time.AfterFunc(m.idleFor, func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.load == 0 {
			m.closeLocked()
		}
	})
}

// closeLocked ends a group's shim that serves nothing. The socket goes first: a
// client that connects from now on is refused and starts another shim; one accepted
// already is told the shim is closing.
func (m *monitor) closeLocked() {
	if m.closing {
		return
	}
	m.closing = true
	if m.idle != nil {
		m.idle.Stop()
	}
	os.Remove(m.ctlPath)
	m.ctl.Close()
	close(m.done)
}

// launch serves one launch connection: the options, then the reply, then the
// client's commit. The connection is the transaction: if the client goes away (or
// sends anything but the commit) before committing, the container is undone, and the
// connection is closed only once it is.
func (m *monitor) launch(c *os.File) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(requestTimeout))
	br := bufio.NewReaderSize(c, 4096)
	line, err := readLine(br, maxRequest)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		return
	}
	if string(line) == closeIdleLine {
		m.mu.Lock()
		if m.load == 0 {
			m.closeLocked()
		}
		m.mu.Unlock()
		writeJSONLine(c, reply{})
		return
	}
	var o Opts
	if err := json.Unmarshal(line, &o); err != nil {
		writeJSONLine(c, replyError(errdefs.ErrInvalidArgument.WithMessage("shim: bad options: "+err.Error())))
		return
	}
	if !m.reserve() {
		writeJSONLine(c, reply{Error: "shim: no room for another container", Class: classUnavailable})
		return
	}
	// From now on the client's next line is its verdict; end of file is a cancel.
	verdict := make(chan bool, 1)
	go func() {
		line, err := readLine(br, len(commitLine)+1)
		verdict <- err == nil && string(line) == commitLine
	}()
	s, err := m.create(o, verdict)
	// Each launch leaves some garbage (the spec decoded, a seccomp profile compiled,
	// the init spawned), which the collector would not look at before the heap reached 4 MB:
	// given back once launches stop for a while, as after execs.
	defer m.trim.Touch()
	if err != nil {
		m.release()
		writeJSONLine(c, replyError(err))
		return
	}
	go func() {
		s.serve()
		m.release()
		m.trim.Touch()
	}()
	writeJSONLine(c, reply{Pid: s.init.pid})
	select {
	case ok := <-verdict:
		if ok {
			return
		}
	case <-time.After(requestTimeout):
	}
	s.discard()
}

// errCancelled is create's error when the client went away during the creation.
var errCancelled = errors.New("shim: launch cancelled")

// create creates the container and starts serving it. The shim does the creating
// itself, in a goroutine: a creator process would cost every launch a Go process
// start (3 ms here); what creating costs the shim's memory is given back by the
// trim once launches stop. A launch cancelled meanwhile (verdict receives false)
// is undone once the creation has finished.
func (m *monitor) create(o Opts, verdict <-chan bool) (*server, error) {
	type result struct {
		c   *created
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := create(o)
		done <- result{c, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-verdict: // only a cancel can come before the reply
		if r = <-done; r.err == nil {
			r.c.undo()
		}
		return nil, errCancelled
	}
	if r.err != nil {
		return nil, r.err
	}
	c := r.c
	if c.sharedPidNS && m.capacity > 1 {
		c.undo()
		return nil, errdefs.ErrInvalidArgument.WithMessage("a container in the host's pid namespace needs a shim of its own")
	}
	err := atomicfile.WriteVolatile(filepath.Join(o.StateDir, pidName), []byte(strconv.Itoa(os.Getpid())), 0o600)
	if err != nil {
		err = fmt.Errorf("write shim pid file: %w", err)
	}
	var s *server
	if err == nil {
		s, err = newServer(c, m.trim)
	}
	if err != nil {
		c.undo()
		return nil, err
	}
	return s, nil
}
