package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockDataRoot takes an exclusive flock(2) on <root>/berthd.lock and writes this
// process's pid into it. The lock lasts while the returned file is open; it dies
// with the process, so a crash leaves nothing to clean up. The file is opened
// close-on-exec, so no child (a container's shim) inherits the lock.
func lockDataRoot(root string) (*os.File, error) {
	path := filepath.Join(root, "berthd.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			msg := fmt.Sprintf("data root %s is in use by another berthd", root)
			if pid := readPid(f); pid > 0 {
				msg += fmt.Sprintf(" (pid %d)", pid)
			}
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock file: %w", err)
	}
	return f, nil
}

// readPid returns the pid recorded in the lock file, or 0.
func readPid(f *os.File) int {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}
