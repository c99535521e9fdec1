package runtimecli

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/containerd/console"
	"golang.org/x/sys/unix"
)

// ttyRelay is the terminal of a foreground run or exec with process.terminal: the
// container's init sends the pty master over remote; we copy our stdio to and from it.
type ttyRelay struct {
	local, remote *os.File
	master        console.Console
	ours          console.Console // our stdin when it is a terminal, put in raw mode
	out           sync.WaitGroup
}

func newTTYRelay() (*ttyRelay, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	return &ttyRelay{local: os.NewFile(uintptr(fds[0]), "console-local"), remote: os.NewFile(uintptr(fds[1]), "console-remote")}, nil
}

// start receives the pty master and begins copying.
func (t *ttyRelay) start() error {
	master, err := recvFD(t.local)
	t.local.Close()
	if err != nil {
		return err
	}
	if t.master, err = console.ConsoleFromFile(master); err != nil {
		return err
	}
	if c, err := console.ConsoleFromFile(os.Stdin); err == nil {
		if c.SetRaw() == nil {
			t.ours = c
		}
	}
	t.resize()
	go io.Copy(t.master, os.Stdin)
	t.out.Add(1)
	go func() {
		defer t.out.Done()
		io.Copy(os.Stdout, t.master)
	}()
	return nil
}

// resize gives the pty our terminal's size.
func (t *ttyRelay) resize() {
	if t.ours == nil || t.master == nil {
		return
	}
	if ws, err := t.ours.Size(); err == nil {
		t.master.Resize(ws)
	}
}

// drain waits for the program's last output once it has exited.
func (t *ttyRelay) drain() { t.out.Wait() }

// stop puts our terminal back as it was.
func (t *ttyRelay) stop() {
	if t.ours != nil {
		t.ours.Reset()
	}
	if t.master != nil {
		t.master.Close()
	}
}

// recvFD receives one file descriptor sent with SCM_RIGHTS.
func recvFD(sock *os.File) (*os.File, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), buf, oob, 0)
	if err != nil {
		return nil, fmt.Errorf("receive pty master: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive pty master: no file descriptor in message")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive pty master: no file descriptor in message")
	}
	return os.NewFile(uintptr(fds[0]), string(buf[:n])), nil
}
