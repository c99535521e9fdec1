package shim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/runtime/cgroup"
)

// UnknownExitCode is the code Reap gives a container whose exit nobody recorded, as
// Docker marks a container whose shim vanished.
const UnknownExitCode = 255

// Reap cleans up after a shim that is gone (or no longer answers): it kills the shim
// if it still runs, kills the container's init and everything in its cgroup if they
// still run (SIGKILL), removes the container's cgroups, mounts and runtime record,
// and records and returns the exit. The exit is the one the shim recorded if it did,
// else UnknownExitCode with the OOM kills the cgroup still showed. The state dir keeps
// exit.json; shim.sock and shim.pid are removed. Reaping twice is harmless.
func Reap(stateDir, runtimeRoot, id string) (Exit, error) {
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return Exit{}, err
	}
	if pid := shimPid(dir); pid > 0 {
		killAndWait(pid)
	}
	exit, exitErr := ReadExit(dir)
	rt := runtime.New(runtimeRoot)
	var oom bool
	var cleanErr error
	st, err := rt.Store.Load(id)
	switch {
	case err == nil:
		if cg, err := cgroup.Load(st.CgroupPaths); err == nil {
			n, err := cg.OOMKillCount()
			oom = err == nil && n > 0
		}
		if exitErr != nil {
			exit.Pid = st.Pid
		}
		if cleanErr = rt.Delete(id, true); cleanErr != nil {
			cleanErr = fmt.Errorf("reap container %s: %w", id, cleanErr)
		}
	case !errors.Is(err, runtime.ErrNotExist):
		cleanErr = fmt.Errorf("reap container %s: %w", id, err)
	}
	if exitErr != nil {
		exit.Code, exit.ExitedAt, exit.OOMKilled = UnknownExitCode, time.Now().UTC(), oom
		if err := writeExit(dir, exit); err != nil && cleanErr == nil && !errors.Is(err, os.ErrNotExist) {
			cleanErr = fmt.Errorf("record exit: %w", err)
		}
	}
	os.Remove(filepath.Join(dir, sockName))
	os.Remove(filepath.Join(dir, pidName))
	return exit, cleanErr
}

// killAndWait SIGKILLs pid and waits (briefly) until it has exited.
func killAndWait(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) != nil {
		return
	}
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 5000)
		if err != unix.EINTR {
			return
		}
	}
}
