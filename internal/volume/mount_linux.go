package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount"
)

// isMounted reports whether dir is a mount point in the calling thread's
// mount namespace.
func isMounted(dir string) (bool, error) {
	return mountinfo.Mounted(dir)
}

// mountData mounts the volume's file system on data unless it already is
// there, giving its root the uid, gid and mode options when it mounts it. It
// reports whether it mounted.
func mountData(data string, cfg config) (bool, error) {
	m, err := isMounted(data)
	if err != nil {
		return false, err
	}
	if m {
		return false, nil
	}
	if err := mount.All([]mount.Mount{cfg.mount()}, data); err != nil {
		return false, fmt.Errorf("failed to mount local volume: %w", err)
	}
	if cfg.ownership() {
		if err := applyOwnership(data, cfg, false); err != nil {
			_ = unmountData(data)
			return false, err
		}
	}
	return true, nil
}

// unmountData detaches whatever is mounted on data until it is a plain
// directory again. Detaching (MNT_DETACH) leaves the binds that running
// containers have of it working, as Docker's local driver does.
func unmountData(data string) error {
	if err := mount.UnmountAll(data, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount local volume: %w", err)
	}
	return nil
}

// removeTree deletes dir and everything in it without following symbolic
// links, refusing when anything is mounted at or below it: deleting through a
// mount would empty a bound host directory or a remote share.
func removeTree(dir string) error {
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return err
	}
	if len(infos) > 0 {
		var points []string
		for _, m := range infos {
			points = append(points, m.Mountpoint)
		}
		return fmt.Errorf("not deleting %s: file systems are mounted in it (%s)", dir, strings.Join(points, ", "))
	}
	return os.RemoveAll(dir)
}

// dirSize is the apparent size of the files under dir, each inode counted
// once, as Docker measures volumes. It stays on dir's file system and follows
// no symbolic link; a missing dir is empty.
func dirSize(dir string) (int64, error) {
	var root unix.Stat_t
	if err := unix.Lstat(dir, &root); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, nil
		}
		return 0, err
	}
	seen := map[uint64]bool{}
	var size int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while we walk
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		if uint64(st.Dev) != root.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || st.Size == 0 || seen[st.Ino] {
			return nil
		}
		seen[st.Ino] = true
		size += st.Size
		return nil
	})
	return size, err
}
