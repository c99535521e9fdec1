package rootfs

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Finalize does, inside the entered rootfs, what must come after every mount: sysctls,
// read-only paths, masked paths, a read-only "/" and the final propagation of "/".
func (p *Plan) Finalize() error {
	if !p.entered {
		return errors.New("rootfs: Finalize before Enter")
	}
	if err := p.writeSysctls(); err != nil {
		return err
	}
	for _, path := range p.roPaths {
		if err := p.readonlyPath(path); err != nil {
			return err
		}
	}
	if len(p.masked) > 0 {
		if err := p.maskPaths(); err != nil {
			return err
		}
	}
	if p.readonly {
		root, err := p.root.open("/", unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("remount / read-only: %w", err)
		}
		err = remountBind(root, "/", unix.MS_RDONLY, 0)
		unix.Close(root)
		if err != nil {
			return fmt.Errorf("remount / read-only: %w", err)
		}
	}
	if p.lastProp != 0 {
		if err := unix.Mount("", "/", "", p.lastProp, ""); err != nil {
			return fmt.Errorf("set propagation %s on /: %w", propagationString(p.lastProp), err)
		}
	}
	return nil
}

// writeSysctls writes linux.sysctl under the container's /proc/sys, which must be a
// real procfs: a directory of the image at that place would take the values silently.
func (p *Plan) writeSysctls() error {
	if len(p.sysctls) == 0 {
		return nil
	}
	dir, err := p.root.open("/proc/sys", unix.O_PATH|unix.O_DIRECTORY)
	if err == nil {
		var st unix.Statfs_t
		if err = unix.Fstatfs(dir, &st); err == nil && st.Type != unix.PROC_SUPER_MAGIC {
			err = errors.New("not procfs")
		}
		if err != nil {
			unix.Close(dir)
		}
	}
	if err != nil {
		return fmt.Errorf("sysctl: /proc/sys in the container: %w (mount proc at /proc)", err)
	}
	defer unix.Close(dir)
	for _, s := range p.sysctls {
		fd, err := openat2(dir, s.rel, unix.O_WRONLY|unix.O_TRUNC, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS)
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("sysctl %q: unknown key (no /proc/sys/%s in the container)", s.key, s.rel)
		}
		if err != nil {
			return fmt.Errorf("sysctl %q: open /proc/sys/%s: %w", s.key, s.rel, err)
		}
		_, err = unix.Write(fd, []byte(s.value))
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("sysctl %s=%q: %w", s.key, s.value, err)
		}
	}
	return nil
}

// readonlyPath binds path onto itself and remounts the bind read-only, nosuid, nodev
// and noexec, keeping the flags the mount already had (some are locked in a user
// namespace). A path that does not exist is skipped.
func (p *Plan) readonlyPath(path string) error {
	fd, err := p.root.open(path, unix.O_PATH)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("readonly path %s: %w", path, err)
	}
	target := p.root.fdPath(fd, path)
	err = unix.Mount(target, target, "", unix.MS_BIND|unix.MS_REC, "")
	unix.Close(fd)
	if err != nil {
		return fmt.Errorf("readonly path %s: bind onto itself: %w", path, err)
	}
	top, err := p.root.open(path, unix.O_PATH)
	if err != nil {
		return fmt.Errorf("readonly path %s: %w", path, err)
	}
	defer unix.Close(top)
	if err := remountBind(top, p.root.fdPath(top, path), unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, 0); err != nil {
		return fmt.Errorf("readonly path %s: remount: %w", path, err)
	}
	return nil
}

// maskPaths hides each masked path: a file under a bind of /dev/null, a directory
// under an empty read-only tmpfs. Paths that do not exist are skipped. The container's
// /dev/null is checked to be the null device first: a container that could swap it
// for a symlink to a writable file would otherwise turn a mask into a window.
func (p *Plan) maskPaths() error {
	null := -1
	defer func() {
		if null >= 0 {
			unix.Close(null)
		}
	}()
	for _, path := range p.masked {
		fd, err := p.root.open(path, unix.O_PATH)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("mask %s: %w", path, err)
		}
		err = p.mask(path, fd, &null)
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *Plan) mask(path string, fd int, null *int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("mask %s: %w", path, err)
	}
	target := p.root.fdPath(fd, path)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		if err := unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("mask %s: mount tmpfs: %w", path, err)
		}
		return nil
	}
	if *null < 0 {
		fd, err := p.root.open("/dev/null", unix.O_PATH|unix.O_NOFOLLOW)
		if err != nil {
			return fmt.Errorf("mask %s: /dev/null: %w", path, err)
		}
		*null = fd
		var ns unix.Stat_t
		if err := unix.Fstat(fd, &ns); err != nil {
			return fmt.Errorf("mask %s: /dev/null: %w", path, err)
		}
		if ns.Mode&unix.S_IFMT != unix.S_IFCHR || ns.Rdev != unix.Mkdev(1, 3) {
			return fmt.Errorf("mask %s: /dev/null in the container is not the null device", path)
		}
	}
	if err := unix.Mount(p.root.fdPath(*null, "/dev/null"), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mask %s: bind /dev/null: %w", path, err)
	}
	return nil
}
