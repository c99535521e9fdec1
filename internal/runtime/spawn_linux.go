package runtime

import (
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// nsJoin is a namespace to enter by path before a child is started.
type nsJoin struct {
	flag uintptr
	path string
}

// spawnSpec says how to start a container-side process.
type spawnSpec struct {
	self       string // the runtime binary to re-exec
	arg        string // "init" or "exec-init"
	join       []nsJoin
	cloneFlags uintptr
	sys        syscall.SysProcAttr // uid/gid maps and the like; Cloneflags is set from cloneFlags
	stdio      [3]*os.File
	extra      []*os.File // become fds 3, 4, ... in the child
	env        []string
}

// spawn starts the child. Joining namespaces by path works on one OS thread only, so
// when there are any, the child is forked from a goroutine locked to a thread that has
// entered them; that thread is never unlocked, so the Go runtime discards it afterwards.
func spawn(s spawnSpec) (*exec.Cmd, error) {
	cmd := &exec.Cmd{
		Path:       s.self,
		Args:       []string{"berth-runtime", s.arg},
		Env:        s.env,
		Stdin:      s.stdio[0],
		Stdout:     s.stdio[1],
		Stderr:     s.stdio[2],
		ExtraFiles: s.extra,
	}
	attr := s.sys
	attr.Cloneflags = s.cloneFlags
	cmd.SysProcAttr = &attr
	if len(s.join) == 0 {
		return cmd, cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread() // deliberately never unlocked: see above
		errc <- joinAndStart(cmd, s.join)
	}()
	return cmd, <-errc
}

func joinAndStart(cmd *exec.Cmd, join []nsJoin) error {
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
	return cmd.Start()
}

// sameNS reports whether pid is in the caller's namespace of the given /proc name.
func sameNS(pid int, name string) bool {
	var a, b unix.Stat_t
	if unix.Stat("/proc/self/ns/"+name, &a) != nil || unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, name), &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}
