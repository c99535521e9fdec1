// Package pid1 is the tiny init `docker run --init` puts in front of a
// container's program: as the container's pid 1 it forwards the signals it
// gets to the program, reaps every orphan the program leaves behind, and exits
// with the program's status. berth-runtime becomes it when started as
// /sbin/docker-init, so berth needs no separate init binary.
package pid1

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main runs args (after an optional "--") as the child and returns the exit
// status to leave with: the child's code, or 128 + the signal that killed it.
func Main(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(stderr, "docker-init: no program to run (usage: docker-init -- PROGRAM [ARG...])")
		return 127
	}
	// Catch every signal the child may want, before it exists.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "docker-init: %v\n", err)
		if os.IsNotExist(err) || isNotFound(err) {
			return 127
		}
		return 126
	}
	child := cmd.Process.Pid
	for {
		select {
		case s := <-sigs:
			sig := s.(syscall.Signal)
			if sig == syscall.SIGCHLD {
				if code, done := reap(child); done {
					return code
				}
				continue
			}
			// SIGKILL and SIGSTOP never arrive here; the rest goes to the program.
			unix.Kill(child, sig)
		}
	}
}

// reap collects every exited child; done reports whether the program itself
// was one of them, with its exit status.
func reap(child int) (code int, done bool) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return code, done
		}
		if pid != child {
			continue
		}
		done = true
		switch {
		case ws.Exited():
			code = ws.ExitStatus()
		case ws.Signaled():
			code = 128 + int(ws.Signal())
		}
	}
}

func isNotFound(err error) bool {
	e, ok := err.(*exec.Error)
	return ok && e.Err == exec.ErrNotFound
}
