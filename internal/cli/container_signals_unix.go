//go:build unix

package cli

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// notifyAllSignals catches every signal worth forwarding (see forwardable), for
// forwardSignals; stop gives them back their default handling. Both happen in the
// background: the Go runtime enables (and disables) each signal through a round trip
// to a thread of its own, about 60 of them here, some 3 ms of a short `run` that are
// better spent while the daemon starts the container (and not at all at its end).
// A signal that comes before the catching is in place acts as it would on any
// process.
func notifyAllSignals() (c chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 128)
	caught := make(chan struct{})
	go func() {
		signal.Notify(ch, forwardable()...)
		close(caught)
	}()
	return ch, func() {
		go func() {
			<-caught
			signal.Stop(ch)
		}()
	}
}

// forwardable are the signals relayed to the container: every one a process can
// catch (real-time ones included, where the system has them: os/signal ignores
// numbers it does not know) but SIGCHLD, SIGPIPE and SIGURG, which concern the CLI
// itself. Go's runtime preempts goroutines with SIGURG: a channel notified of it
// would wake at every preemption, hundreds of times in one short `run`.
func forwardable() []os.Signal {
	var sigs []os.Signal
	for n := syscall.Signal(1); n <= 64; n++ {
		switch n {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG, 32, 33:
			// 32 and 33 are the C library's own on Linux.
			continue
		}
		sigs = append(sigs, n)
	}
	return sigs
}

// forwardedSignalName is the name the kill endpoint takes for s ("USR1"),
// or "" for a signal that is not to be forwarded.
func forwardedSignalName(s os.Signal) string {
	n, ok := s.(syscall.Signal)
	if !ok {
		return ""
	}
	switch n {
	case unix.SIGCHLD, unix.SIGPIPE, unix.SIGURG:
		return ""
	}
	return strings.TrimPrefix(unix.SignalName(n), "SIG")
}
