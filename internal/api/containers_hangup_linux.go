package api

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// watchHangup calls onHangup once the client has shut its connection down in
// both directions (EPOLLHUP), without reading from conn: the stream's reader
// keeps the bytes. A client that only half-closes (its stdin ended) is not a
// hang-up. The watch holds a duplicate of the socket, so it never delays
// conn's own Close; stop ends it (and releases the duplicate). On a TCP
// connection the hang-up shows only once the server side is shut down too (or
// a write was refused); on a unix socket, at once.
//
// It costs a thread blocked in epoll_wait per stream, which is also what
// dockerd pays.
func watchHangup(conn net.Conn, onHangup func()) (stop func()) {
	noop := func() {}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return noop
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return noop
	}
	dup := -1
	if err := rc.Control(func(fd uintptr) {
		dup, err = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || dup < 0 {
		return noop
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		unix.Close(dup)
		return noop
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		unix.Close(dup)
		return noop
	}
	// Hang-ups and errors are reported whatever the event mask asks for.
	errs := errors.Join(
		unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, dup, &unix.EpollEvent{Events: 0, Fd: int32(dup)}),
		unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}))
	if errs != nil {
		unix.Close(wake)
		unix.Close(ep)
		unix.Close(dup)
		return noop
	}
	// The fds are closed under mu, so that stop never writes to a number
	// the process has reused for something else.
	var mu sync.Mutex
	finished := false
	go func() {
		defer func() {
			mu.Lock()
			finished = true
			unix.Close(wake)
			unix.Close(ep)
			unix.Close(dup)
			mu.Unlock()
		}()
		events := make([]unix.EpollEvent, 2)
		for {
			n, err := unix.EpollWait(ep, events, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return
			}
			for _, e := range events[:n] {
				if e.Fd == int32(wake) {
					return
				}
			}
			if n > 0 {
				onHangup()
				return
			}
		}
	}()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			var one [8]byte
			binary.NativeEndian.PutUint64(one[:], 1)
			unix.Write(wake, one[:])
		}
	}
}

// awaitHeadRead returns once the client has read everything written to conn so
// far (the send queue of a unix socket is empty), or after max. Clients that
// read a response head through a buffer and then switch to the raw socket
// (docker-py does) lose the bytes that came in the same read as the head; a
// backend that answers at once (attach replaying a log) must not send them
// that early. A connection that cannot tell does not wait.
func awaitHeadRead(conn net.Conn, max time.Duration) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	unsent := func() (n int) {
		rc.Control(func(fd uintptr) {
			if q, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
				n = q
			}
		})
		return n // 0 when it cannot tell
	}
	pause := 20 * time.Microsecond
	for deadline := time.Now().Add(max); unsent() > 0 && time.Now().Before(deadline); {
		time.Sleep(pause)
		pause = min(2*pause, time.Millisecond)
	}
}
