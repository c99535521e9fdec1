package mount

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// All mounts mounts in order at target (a mount with Target set goes at that
// path below target), so later mounts stack on earlier ones. If one fails, the
// ones already made are unmounted again and the error names the failing mount.
//
// All acts in the mount namespace of the calling thread: a caller working in
// a private namespace locks its goroutine to that thread first.
func All(mounts []Mount, target string) error {
	for i, m := range mounts {
		dst := target
		if m.Target != "" {
			if !filepath.IsLocal(m.Target) {
				undo(mounts[:i], target)
				return fmt.Errorf("mount %s at %s: target %q is not a path inside it", m.Source, target, m.Target)
			}
			dst = filepath.Join(target, m.Target)
		}
		if err := mountOne(m, dst); err != nil {
			undo(mounts[:i], target)
			return fmt.Errorf("mount %s (type %s) at %s: %w", m.Source, m.Type, dst, err)
		}
	}
	return nil
}

// undo detaches the mounts All already made, last first.
func undo(done []Mount, target string) {
	for i := len(done) - 1; i >= 0; i-- {
		_ = unix.Unmount(filepath.Join(target, done[i].Target), unix.MNT_DETACH)
	}
}

// Unmount removes the topmost mount at target. flags are umount2(2) flags
// (unix.MNT_DETACH, unix.MNT_FORCE, unix.UMOUNT_NOFOLLOW). It fails with
// unix.EINVAL when target is not a mount point.
func Unmount(target string, flags int) error {
	for {
		err := unix.Unmount(target, flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
		return nil
	}
}

// maxStack bounds UnmountAll, so a target that keeps being mounted cannot
// hold it forever.
const maxStack = 1024

// UnmountAll removes every mount stacked at target, topmost first, until
// target is no longer a mount point. A target that is not mounted, or does
// not exist, is not an error.
func UnmountAll(target string, flags int) error {
	for range maxStack {
		err := Unmount(target, flags)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("unmount %s: still mounted after %d unmounts", target, maxStack)
}

func mountOne(m Mount, target string) error {
	o := parseOptions(m.Options)
	var err error
	switch {
	case m.Type == "bind" || o.flags&unix.MS_BIND != 0:
		err = mountBind(m.Source, target, o)
	case m.Type == "overlay":
		err = mountOverlay(m.Source, target, o)
	default:
		err = mountData(m.Type, m.Source, target, o.flags, strings.Join(o.data, ","))
	}
	if err != nil {
		return err
	}
	for _, p := range o.prop {
		if err := unix.Mount("", target, "", p, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("set propagation: %w", err)
		}
	}
	return nil
}

// bindRemountFlags are the flags a bind mount takes only from a second,
// remounting mount(2) call.
const bindRemountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

func mountBind(source, target string, o options) error {
	if err := unix.Mount(source, target, "", unix.MS_BIND|(o.flags&unix.MS_REC), ""); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	if f := o.flags & bindRemountFlags; f != 0 {
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|f, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("remount bind with flags %#x: %w", f, err)
		}
	}
	return nil
}

// mountData is a plain mount(2), refusing options that do not fit the one
// page of data the kernel copies.
func mountData(fstype, source, target string, flags uintptr, data string) error {
	if len(data) >= unix.Getpagesize() {
		return fmt.Errorf("mount options are %d bytes, over the kernel's limit of %d", len(data), unix.Getpagesize()-1)
	}
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return err
	}
	return nil
}
