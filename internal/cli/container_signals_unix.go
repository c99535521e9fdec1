//go:build unix

package cli

import (
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// notifyAllSignals catches every signal the process may receive, for
// forwardSignals; stop gives them back their default handling.
func notifyAllSignals() (c chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 128)
	signal.Notify(ch)
	return ch, func() { signal.Stop(ch) }
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
