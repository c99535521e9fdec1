//go:build unix

package content

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// lockIngest opens the ingest directory dir (creating it when create is set)
// and takes an exclusive flock(2) on it without waiting: ErrUnavailable if
// another Writer (in this process or another) holds it, fs.ErrNotExist if dir
// does not exist and create is not set. The lock lives as long as the returned
// file stays open, and no longer than the process.
func lockIngest(dir string, create bool) (*os.File, error) {
	for {
		if create {
			if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
		}
		f, err := os.Open(dir)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("ref locked: %w", errdefs.ErrUnavailable)
			}
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		// Whoever held the lock before us may have removed the directory
		// (Commit, Abort, Prune): then our lock guards nothing.
		held, err1 := f.Stat()
		now, err2 := os.Stat(dir)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if !create {
			return nil, fs.ErrNotExist
		}
	}
}
