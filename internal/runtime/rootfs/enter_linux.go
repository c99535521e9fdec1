package rootfs

import (
	"errors"
	"fmt"
	"sort"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Enter makes the rootfs the process's "/" and its working directory. By default it
// uses pivot_root(2), after which the host's filesystem is detached and unreachable.
// With noPivot (for a rootfs on the initramfs, where pivot_root is impossible) it
// moves the rootfs mount onto "/" and chroots into it; the host's mounts then still
// exist beneath, so the host's full proc and sysfs instances are detached first (the
// kernel lets a namespace mount a fresh proc or sysfs only while an unmasked one is
// visible in it, and chroot alone would leave them there).
func (p *Plan) Enter(noPivot bool) error {
	if p.root == nil {
		return errors.New("rootfs: Enter before Setup")
	}
	if p.entered {
		return errors.New("rootfs: Enter called twice")
	}
	if err := unix.Fchdir(p.root.fd); err != nil {
		return fmt.Errorf("chdir to rootfs %s: %w", p.rootfs, err)
	}
	var err error
	switch {
	case p.hostNS:
		// pivot_root or MS_MOVE would change the host's own root: chroot only.
		if err = unix.Chroot("."); err != nil {
			err = fmt.Errorf("chroot into %s: %w", p.rootfs, err)
		}
	case noPivot:
		err = p.moveRoot()
	default:
		err = pivotRoot(p.rootfs)
	}
	if err != nil {
		return err
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir to / in the rootfs: %w", err)
	}
	p.root.close()
	root, err := openTree("/", false)
	if err != nil {
		return err
	}
	p.root, p.entered = root, true
	return nil
}

// pivotRoot switches "/" to the current directory with pivot_root(".", "."), which
// stacks the old root on top of the new one at "/"; the old root is then made a slave
// (so its unmount cannot propagate to the host) and lazily detached. No directory for
// the old root is needed inside the rootfs.
func pivotRoot(rootfs string) error {
	old, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open old root: %w", err)
	}
	defer unix.Close(old)
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into %s: %w", rootfs, err)
	}
	if err := unix.Fchdir(old); err != nil {
		return fmt.Errorf("chdir to old root: %w", err)
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root rslave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return nil
}

// moveRoot is Enter without pivot_root: detach the host's full proc and sysfs
// mounts (or cover them where they cannot be unmounted), move the rootfs onto "/",
// chroot to it.
func (p *Plan) moveRoot() error {
	mounts, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		full := m.Root == "/" && (m.FSType == "proc" || m.FSType == "sysfs")
		return !full || within(m.Mountpoint, p.rootfs), false
	})
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	// Deepest first, so that a parent is never detached before what it holds.
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if err := unix.Mount("", m.Mountpoint, "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("make host %s rslave: %w", m.Mountpoint, err)
		}
		err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) {
			// Locked into the namespace (a user namespace cannot unmount what it
			// inherited): hide it under an empty tmpfs instead.
			err = unix.Mount("tmpfs", m.Mountpoint, "tmpfs", unix.MS_RDONLY, "")
		}
		if err != nil {
			return fmt.Errorf("hide host %s %s: %w", m.FSType, m.Mountpoint, err)
		}
	}
	if err := unix.Mount(p.rootfs, "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move rootfs %s onto /: %w", p.rootfs, err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot into %s: %w", p.rootfs, err)
	}
	return nil
}
