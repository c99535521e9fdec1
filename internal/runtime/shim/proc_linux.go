package shim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
)

const (
	// frameHeader is the size of a stdcopy frame header.
	frameHeader = 8
	// readSize is how much one read of a program's output takes.
	readSize = 32 << 10
	// drainTimeout bounds the wait for a process's output to end once it has exited:
	// an escaped process (no pid namespace) may keep the pipes open.
	drainTimeout = 2 * time.Second
	// writeTimeout is how long one write to an attached client may block before the
	// client is dropped, so that a stuck client cannot stall the program for long.
	writeTimeout = 30 * time.Second
)

// Stream numbers, as stdcopy numbers them.
const (
	streamStdout = 1
	streamStderr = 2
)

// bufPool holds read buffers: a buffer is taken only once output is ready to read,
// so an idle container holds none.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, frameHeader+readSize)
	return &b
}}

// proc is a process whose stdio the shim holds: the container's init or an exec.
type proc struct {
	pid       int
	terminal  bool
	console   *os.File // the pty master, with a terminal
	stdinOnce bool     // an attach that ends its input closes the process's stdin
	log       *procLog // init only; nil when its output is not kept

	outputs []output
	outDone chan struct{} // closed when every output has ended

	mu          sync.Mutex
	stdin       *os.File // where input goes: our end of its stdin pipe, or console; nil if none
	stdinClosed bool
	subs        []*subscriber
	ended       bool          // streams closed: no new subscriber
	exited      chan struct{} // closed once reaped; exit is then set
	exit        Exit
}

type output struct {
	f      *os.File
	stream int // streamStdout or streamStderr
}

func newProc(terminal bool) *proc {
	return &proc{terminal: terminal, exited: make(chan struct{}), outDone: make(chan struct{})}
}

// procIO is a process's stdio while it is being created: the child's ends, handed to
// the runtime, and ours.
type procIO struct {
	child    runtime.Stdio
	console  *os.File // the runtime's Console option: init sends the pty master on it
	consoleR *os.File // our end of that socket pair
	stdin    *os.File // our end of its stdin pipe
	outputs  []output
}

// newProcIO makes the pipes (or, with a terminal, the socket the pty master will
// come back on) for a new process. Streams it does not get are /dev/null.
func newProcIO(terminal, stdin bool) (_ *procIO, err error) {
	pio := &procIO{}
	defer func() {
		if err != nil {
			pio.close()
		}
	}()
	null := func() (*os.File, error) { return os.OpenFile(os.DevNull, os.O_RDWR, 0) }
	if terminal {
		// The pty's slave replaces stdio in the child.
		if pio.child.In, err = null(); err != nil {
			return nil, err
		}
		pio.child.Out, pio.child.Err = pio.child.In, pio.child.In
		if pio.consoleR, pio.console, err = socketPair(); err != nil {
			return nil, err
		}
		return pio, nil
	}
	if stdin {
		if pio.child.In, pio.stdin, err = os.Pipe(); err != nil {
			return nil, err
		}
	} else if pio.child.In, err = null(); err != nil {
		return nil, err
	}
	for _, stream := range []int{streamStdout, streamStderr} {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		pio.outputs = append(pio.outputs, output{r, stream})
		if stream == streamStdout {
			pio.child.Out = w
		} else {
			pio.child.Err = w
		}
	}
	return pio, nil
}

// closeChild closes the child's ends once the runtime has handed them over.
func (pio *procIO) closeChild() {
	for _, f := range []*os.File{pio.child.In, pio.child.Out, pio.child.Err, pio.console} {
		if f != nil {
			f.Close()
		}
	}
	pio.child, pio.console = runtime.Stdio{}, nil
}

// close closes everything (the process could not be made).
func (pio *procIO) close() {
	pio.closeChild()
	for _, f := range []*os.File{pio.consoleR, pio.stdin} {
		if f != nil {
			f.Close()
		}
	}
	for _, o := range pio.outputs {
		o.f.Close()
	}
}

// attach gives p our ends once the child exists (receiving the pty master, with a
// terminal) and starts reading its output.
func (pio *procIO) attach(p *proc) error {
	if err := pio.handTo(p); err != nil {
		return err
	}
	p.readOutputs()
	return nil
}

// handTo gives p our ends once the child exists, receiving the pty master with a
// terminal; nobody reads them yet.
func (pio *procIO) handTo(p *proc) error {
	pio.closeChild()
	if p.terminal {
		master, err := recvFD(pio.consoleR)
		pio.consoleR.Close()
		pio.consoleR = nil
		if err != nil {
			return err
		}
		p.console, p.stdin = master, master
		p.outputs = []output{{master, streamStdout}}
	} else {
		p.stdin, p.outputs = pio.stdin, pio.outputs
	}
	pio.stdin, pio.outputs = nil, nil
	return nil
}

// closeFiles closes p's stdio before anything reads it (its container is undone).
func (p *proc) closeFiles() {
	if p.console != nil {
		p.console.Close()
	} else if p.stdin != nil {
		p.stdin.Close()
	}
	for _, o := range p.outputs {
		if o.f != p.console {
			o.f.Close()
		}
	}
}

// readOutputs starts copying each of p's outputs until it ends; outDone is closed
// once all have.
func (p *proc) readOutputs() {
	var wg sync.WaitGroup
	for _, o := range p.outputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.readOutput(o)
		}()
	}
	go func() {
		wg.Wait()
		close(p.outDone)
	}()
}

// readOutput copies one output to the log and the attached clients until it ends (end
// of file, or EIO from a pty whose every slave is closed), or until its read deadline
// passes after the process has exited; then it takes what is left without waiting.
func (p *proc) readOutput(o output) {
	defer o.f.Close()
	rc, err := o.f.SyscallConn()
	if err != nil {
		return
	}
	for {
		var bp *[]byte
		var n int
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			bp = bufPool.Get().(*[]byte)
			for {
				n, rerr = unix.Read(int(fd), (*bp)[frameHeader:])
				if rerr != unix.EINTR {
					break
				}
			}
			if rerr == unix.EAGAIN {
				bufPool.Put(bp)
				bp = nil
				return false
			}
			return true
		})
		if bp != nil {
			if n > 0 {
				p.deliver(o.stream, (*bp)[:frameHeader+n])
			}
			bufPool.Put(bp)
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				p.drainNow(rc, o.stream)
			}
			return
		}
		if rerr != nil || n == 0 {
			return
		}
	}
}

// drainNow reads what an output holds without waiting for more (bounded, in case a
// process keeps writing).
func (p *proc) drainNow(rc interface{ Control(func(uintptr)) error }, stream int) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	rc.Control(func(fd uintptr) {
		for range 256 {
			n, err := unix.Read(int(fd), (*bp)[frameHeader:])
			if err == unix.EINTR {
				continue
			}
			if n <= 0 {
				return
			}
			p.deliver(stream, (*bp)[:frameHeader+n])
		}
	})
}

// deliver logs one read of output, then sends it to each attached client that wants
// that stream. frame holds the bytes after room for a stdcopy header.
func (p *proc) deliver(stream int, frame []byte) {
	payload := frame[frameHeader:]
	if p.log != nil {
		p.log.write(stream, payload) // written to the log before any client sees it
	}
	p.mu.Lock()
	subs := p.subs[:len(p.subs):len(p.subs)]
	p.mu.Unlock()
	if len(subs) == 0 {
		return
	}
	frame[0] = byte(stream)
	frame[1], frame[2], frame[3] = 0, 0, 0
	binary.BigEndian.PutUint32(frame[4:frameHeader], uint32(len(payload)))
	for _, s := range subs {
		if !s.want[stream-1] {
			continue
		}
		msg := frame
		if !s.framed {
			msg = payload
		}
		if err := s.send(msg); err != nil {
			p.drop(s)
		}
	}
}

// subscribe adds an attached client; false if the streams have already ended.
func (p *proc) subscribe(s *subscriber) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ended {
		return false
	}
	p.subs = append(p.subs, s)
	return true
}

// drop removes and closes one client.
func (p *proc) drop(s *subscriber) {
	p.mu.Lock()
	subs := make([]*subscriber, 0, len(p.subs))
	for _, x := range p.subs {
		if x != s {
			subs = append(subs, x)
		}
	}
	p.subs = subs
	p.mu.Unlock()
	s.conn.close()
}

// writeInput writes b to the process's stdin, if it still has one.
func (p *proc) writeInput(b []byte) error {
	p.mu.Lock()
	in, closed := p.stdin, p.stdinClosed
	p.mu.Unlock()
	if in == nil || closed {
		return errors.New("stdin is closed")
	}
	_, err := in.Write(b) // a concurrent closeStdin interrupts a blocked write
	return err
}

// closeStdin closes the process's stdin. With a terminal the master stays open, as it
// also carries the output: input just stops.
func (p *proc) closeStdin() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdinClosed {
		return
	}
	p.stdinClosed = true
	if p.stdin != nil && !p.terminal {
		p.stdin.Close()
	}
}

// copyInput feeds the process's stdin from an attached client until the client ends
// its input, sends the detach keys, or goes away. Ending the input closes stdin when
// closeStdin is set; a detach only ends the attach.
func (p *proc) copyInput(s *subscriber, pending []byte, detachKeys []byte, closeStdin bool) {
	detached, _ := copyDetaching(p.writeInput, io.MultiReader(readerOf(pending), s.conn.f), detachKeys)
	if detached {
		p.drop(s)
		return
	}
	if closeStdin {
		p.closeStdin()
	}
}

func readerOf(b []byte) io.Reader {
	if len(b) == 0 {
		return eofReader{}
	}
	return &sliceReader{b}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// copyDetaching copies src to write until end of input (nil error) or an error, and
// stops with detached set when src sends keys. Bytes that start the key sequence are
// held back until it is clear they do not complete it, as Docker's escape proxy does.
func copyDetaching(write func([]byte) error, src io.Reader, keys []byte) (detached bool, err error) {
	buf := make([]byte, 4096)
	out := make([]byte, 0, 4096+len(keys))
	matched := 0
	for {
		n, rerr := src.Read(buf)
		out = out[:0]
		for _, c := range buf[:n] {
			if len(keys) > 0 {
				if c == keys[matched] {
					matched++
					if matched == len(keys) {
						if len(out) > 0 {
							write(out)
						}
						return true, nil
					}
					continue
				}
				if matched > 0 {
					out = append(out, keys[:matched]...)
					matched = 0
					if c == keys[0] {
						matched = 1
						continue
					}
				}
			}
			out = append(out, c)
		}
		if len(out) > 0 {
			if err := write(out); err != nil {
				return false, err
			}
		}
		if rerr == io.EOF {
			return false, nil
		}
		if rerr != nil {
			return false, rerr
		}
	}
}

// setExit records how the process ended.
func (p *proc) setExit(e Exit) {
	p.exit = e
	close(p.exited)
}

// finish ends the streams of a process that has exited: it waits for its output to
// end (at most drainTimeout, then takes what is buffered), closes its stdin and every
// attached client.
func (p *proc) finish() {
	select {
	case <-p.outDone:
	case <-time.After(drainTimeout):
		for _, o := range p.outputs {
			o.f.SetReadDeadline(time.Now())
		}
		<-p.outDone
	}
	p.closeStdin()
	if p.terminal {
		p.console.Close()
	}
	p.mu.Lock()
	subs := p.subs
	p.subs, p.ended = nil, true
	p.mu.Unlock()
	for _, s := range subs {
		s.conn.close()
	}
}

// resize sets the size of the process's terminal.
func (p *proc) resize(height, width uint16) error {
	if !p.terminal {
		return fmt.Errorf("process has no terminal")
	}
	rc, err := p.console.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
	}); err != nil {
		return err
	}
	return ierr
}

// subscriber is one attached client.
type subscriber struct {
	conn   *conn
	mu     sync.Mutex // one frame at a time; held by the handler until its reply is out
	want   [2]bool    // stdout, stderr
	framed bool       // stdcopy frames (no terminal) or raw bytes
}

func (s *subscriber) send(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn.f.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := s.conn.f.Write(b)
	return err
}
