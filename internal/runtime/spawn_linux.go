package runtime

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/osthread"
)

// nsJoin is a namespace to enter by path before a child is started.
type nsJoin struct {
	flag uintptr
	path string
}

// spawnSpec says how to start a container-side process.
type spawnSpec struct {
	self       string   // the runtime binary to re-exec
	arg        string   // "init" or "exec-init"
	extraArgs  []string // after arg (exec-init's user namespace fd, see cmd/berth-runtime)
	join       []nsJoin
	cloneFlags uintptr
	sys        syscall.SysProcAttr // uid/gid maps and the like; Cloneflags is set from cloneFlags
	stdio      [3]*os.File
	extra      []*os.File // become fds 3, 4, ... in the child
	env        []string
}

// Process is a container-side process this runtime started: the caller may signal it
// and must wait for it. (Plain syscalls rather than os/exec: os.StartProcess forks a
// throwaway child once per process to probe pidfd support, on the start path.)
type Process struct{ Pid int }

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error { return unix.Kill(p.Pid, sig) }

// Wait reaps the process and returns how it ended.
func (p *Process) Wait() (syscall.WaitStatus, error) {
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(p.Pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		return ws, err
	}
}

// kill ends the process and reaps it, for cleanup after a failed setup.
func (p *Process) kill() {
	p.Signal(unix.SIGKILL)
	p.Wait()
}

// spawn starts the child. Joining namespaces by path works on one OS thread only, so
// when there are any, the child is forked from a thread that has entered them and is
// discarded afterwards (osthread.Discarded).
func spawn(s spawnSpec) (*Process, error) {
	files := make([]uintptr, 0, 3+len(s.extra))
	for _, f := range s.stdio {
		files = append(files, f.Fd())
	}
	for _, f := range s.extra {
		files = append(files, f.Fd())
	}
	attr := s.sys
	attr.Cloneflags = s.cloneFlags
	pa := &syscall.ProcAttr{Env: s.env, Files: files, Sys: &attr}
	args := append([]string{"berth-runtime", s.arg}, s.extraArgs...)
	start := func() (*Process, error) {
		pid, _, err := syscall.StartProcess(s.self, args, pa)
		if err != nil {
			return nil, err
		}
		return &Process{Pid: pid}, nil
	}
	if len(s.join) == 0 {
		return start()
	}
	var (
		p   *Process
		err error
	)
	osthread.Discarded(func() {
		if err = joinNamespaces(s.join); err == nil {
			p, err = start()
		}
	})
	return p, err
}

// joinNamespaces enters each namespace on the calling (locked) thread.
func joinNamespaces(join []nsJoin) error {
	for _, j := range join {
		if j.flag == unix.CLONE_NEWNS {
			// setns into a mount namespace needs a thread with its own fs struct.
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("unshare fs: %w", err)
			}
			break
		}
	}
	// Open every namespace first: once in the container's mount namespace, /proc is
	// the container's and the host's paths are gone.
	fds := make([]int, 0, len(join))
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	for _, j := range join {
		fd, err := unix.Open(j.path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open namespace %s: %w", j.path, err)
		}
		fds = append(fds, fd)
	}
	for i, j := range join {
		if err := unix.Setns(fds[i], int(j.flag)); err != nil {
			return fmt.Errorf("join namespace %s: %w", j.path, err)
		}
	}
	return nil
}

// sameNS reports whether pid is in the caller's namespace of the given /proc name.
func sameNS(pid int, name string) bool {
	var a, b unix.Stat_t
	if unix.Stat("/proc/self/ns/"+name, &a) != nil || unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, name), &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
