package storage

import (
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/berth-engine/berth/internal/snapshot"
)

// diskUsage measures the tree at dir as du(1) does: allocated blocks, and
// every inode once however many hard links reach it. A missing dir is empty.
func diskUsage(dir string) (snapshot.Usage, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var u snapshot.Usage
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return filepath.SkipDir
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		k := inode{uint64(st.Dev), st.Ino}
		if seen[k] {
			return nil
		}
		seen[k] = true
		u.Inodes++
		u.Size += st.Blocks * 512
		if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
			u.Files += st.Size
		}
		return nil
	})
	return u, err
}
