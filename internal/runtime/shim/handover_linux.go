package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
)

// The handover. Creating a container takes the runtime library's whole machinery: the
// spec parsed, a seccomp profile compiled, cgroups joined, several blocking waits that
// each leave an idle thread (with its stacks) behind. None of that is needed again
// while the container runs, and a Go process never gives its threads back and keeps
// its heap's high-water mark in part. So the shim never creates a container itself: a
// creator process it starts does ("berth-runtime shim-create"), then sends the shim
// what serving needs — the options and the descriptors it holds — in one message on a
// SOCK_SEQPACKET socket (descriptors as SCM_RIGHTS), and exits. The container's init,
// the creator's child, is then reparented to the shim, a child subreaper.

// maxHandover bounds the handover message (the options are a few hundred bytes).
const maxHandover = 64 << 10

// maxHandoverFDs bounds the descriptors a handover carries: listener, stdin or
// console, two outputs.
const maxHandoverFDs = 4

// handover is what the creator passes to the shim. Descriptors are named by their
// index in the message's SCM_RIGHTS array; -1 is none.
type handover struct {
	Opts    Opts            `json:"opts"`
	Pid     int             `json:"pid"` // the container's init
	Starter runtime.Starter `json:"starter"`
	// SharedPidNS: the container is in the host's pid namespace (see watchChild).
	SharedPidNS bool           `json:"sharedPidNS,omitempty"`
	Listener    int            `json:"listener"` // the container's control socket
	Console     int            `json:"console"`  // the pty master, or -1
	Stdin       int            `json:"stdin"`    // our end of its stdin pipe, or -1
	Outputs     []handedOutput `json:"outputs,omitempty"`

	files []*os.File // sent: the creator's; received: the shim's, by index
}

type handedOutput struct {
	FD     int `json:"fd"`
	Stream int `json:"stream"`
}

// add appends f to the descriptors sent and returns its index.
func (h *handover) add(f *os.File) int {
	h.files = append(h.files, f)
	return len(h.files) - 1
}

// take records p's descriptors.
func (h *handover) take(p *proc) {
	h.Console, h.Stdin = -1, -1
	if p.console != nil {
		h.Console = h.add(p.console)
	} else if p.stdin != nil {
		h.Stdin = h.add(p.stdin)
	}
	if p.console == nil {
		for _, o := range p.outputs {
			h.Outputs = append(h.Outputs, handedOutput{FD: h.add(o.f), Stream: o.stream})
		}
	}
}

func (h *handover) setListener(ln *os.File) { h.Listener = h.add(ln) }

// send writes the handover to sock as one message.
func (h *handover) send(sock *os.File) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	fds := make([]int, len(h.files))
	for i, f := range h.files {
		fds[i] = int(f.Fd())
	}
	if err := unix.Sendmsg(int(sock.Fd()), b, unix.UnixRights(fds...), nil, 0); err != nil {
		return fmt.Errorf("send handover: %w", err)
	}
	return nil
}

// receiveHandover reads the creator's answer on sock: a handover with its
// descriptors (non-blocking, close-on-exec, for the poller), or the creator's error.
func receiveHandover(sock *os.File) (*handover, error) {
	buf := make([]byte, maxHandover)
	oob := make([]byte, unix.CmsgSpace(4*maxHandoverFDs))
	var n, oobn int
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil, err
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN && rerr != unix.EINTR
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, fmt.Errorf("receive handover: %w", err)
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, fmt.Errorf("receive handover: %w", err)
		}
		for i := range msgs {
			got, err := unix.ParseUnixRights(&msgs[i])
			if err == nil {
				fds = append(fds, got...)
			}
		}
	}
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	if n == 0 {
		closeAll()
		return nil, errors.New("the container's creator exited without an answer")
	}
	var msg struct {
		handover
		Error string `json:"error"`
		Class string `json:"class"`
	}
	if err := json.Unmarshal(buf[:n], &msg); err != nil {
		closeAll()
		return nil, fmt.Errorf("receive handover: %w", err)
	}
	if msg.Error != "" {
		closeAll()
		return nil, reply{Error: msg.Error, Class: msg.Class}.err()
	}
	h := msg.handover
	for _, fd := range fds {
		unix.SetNonblock(fd, true)
		h.files = append(h.files, os.NewFile(uintptr(fd), "handed"))
	}
	for _, i := range h.indexes() {
		if i >= len(h.files) {
			h.close()
			return nil, fmt.Errorf("receive handover: descriptor %d of %d missing", i, len(h.files))
		}
	}
	return &h, nil
}

// indexes are the descriptor indexes the handover names.
func (h *handover) indexes() []int {
	ix := []int{h.Listener}
	for _, i := range []int{h.Console, h.Stdin} {
		if i >= 0 {
			ix = append(ix, i)
		}
	}
	for _, o := range h.Outputs {
		ix = append(ix, o.FD)
	}
	return ix
}

// close closes the received descriptors (the container is being abandoned).
func (h *handover) close() {
	for _, f := range h.files {
		f.Close()
	}
}

// proc is the container's init as the handover describes it, its output not read yet.
func (h *handover) proc() *proc {
	p := newProc(h.Opts.Terminal)
	p.pid = h.Pid
	if h.Console >= 0 {
		master := h.files[h.Console]
		p.console, p.stdin = master, master
		p.outputs = []output{{master, streamStdout}}
		return p
	}
	if h.Stdin >= 0 {
		p.stdin = h.files[h.Stdin]
	}
	for _, o := range h.Outputs {
		p.outputs = append(p.outputs, output{h.files[o.FD], o.Stream})
	}
	return p
}

func (h *handover) listener() *os.File { return h.files[h.Listener] }

// abandon undoes the container when it cannot be served: the container killed and
// deleted, its socket and pid file removed.
func abandon(o Opts) {
	runtime.New(o.RuntimeRoot).Delete(o.ID, true)
	os.Remove(filepath.Join(o.StateDir, sockName))
	os.Remove(filepath.Join(o.StateDir, pidName))
}
