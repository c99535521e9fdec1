package rootfs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Setup prepares the rootfs while the host's filesystem is still visible: it sets the
// propagation of "/", binds the rootfs onto itself, performs every spec mount in order
// and creates the devices and /dev symlinks. The caller must already be in its own
// mount namespace (and in its cgroups, for a "cgroup" mount).
func (p *Plan) Setup() error {
	if p.root != nil {
		return errors.New("rootfs: Setup called twice")
	}
	// Propagation first, before anything is mounted: with the default rslave no
	// mount made below can propagate back to the host's namespace. Without a mount
	// namespace of its own, "/" is the host's and not ours to change.
	if !p.hostNS {
		if err := unix.Mount("", "/", "", p.rootProp, ""); err != nil {
			return fmt.Errorf("set propagation %s on /: %w", propagationString(p.rootProp), err)
		}
		if p.rootProp&unix.MS_REC == 0 || p.rootProp&unix.MS_SHARED != 0 {
			// pivot_root and MS_MOVE refuse a shared parent mount.
			if err := makeParentPrivate(p.rootfs); err != nil {
				return err
			}
		}
	}
	// The rootfs must be a mount point of its own for pivot_root.
	if err := unix.Mount(p.rootfs, p.rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mount rootfs %s onto itself: %w", p.rootfs, err)
	}
	root, err := openTree(p.rootfs, true)
	if err != nil {
		return fmt.Errorf("rootfs %s: %w", p.rootfs, err)
	}
	p.root = root
	for i := range p.mounts {
		if err := p.mount(&p.mounts[i]); err != nil {
			return err
		}
	}
	if p.setupDev {
		if err := p.createDevices(); err != nil {
			return err
		}
	}
	return nil
}

// makeParentPrivate makes the mount that holds dir private if it is shared.
func makeParentPrivate(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.ParentsFilter(dir))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	var parent *mountinfo.Info
	for _, m := range mounts {
		if parent == nil || len(m.Mountpoint) > len(parent.Mountpoint) {
			parent = m
		}
	}
	if parent == nil || !strings.Contains(parent.Optional, "shared:") {
		return nil
	}
	if err := unix.Mount("", parent.Mountpoint, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", parent.Mountpoint, err)
	}
	return nil
}

func (p *Plan) mount(m *mountEntry) error {
	if (m.kind == kindCgroup || m.fstype == "cgroup2") && p.beforeCgroup != nil {
		f := p.beforeCgroup
		p.beforeCgroup = nil
		if err := f(); err != nil {
			return err
		}
	}
	switch m.kind {
	case kindBind:
		return p.mountBind(m)
	case kindCgroup:
		return p.mountCgroup(m)
	}
	return p.mountFS(m)
}

// mountBind binds a host path into the rootfs, then remounts it for the flags a bind
// cannot take at once (the kernel ignores "ro" and friends on the first MS_BIND).
func (p *Plan) mountBind(m *mountEntry) error {
	if m.opts.flags&unix.MS_REMOUNT != 0 {
		// Change the flags of a bind that already exists at the destination.
		return p.finishMount(m, m.opts.flags, true)
	}
	src, err := unix.Open(m.source, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bind-mount %s to %s: source: %w", m.source, m.dest, err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("bind-mount %s to %s: source: %w", m.source, m.dest, err)
	}
	dst, err := p.root.ensure(m.dest, st.Mode&unix.S_IFMT != unix.S_IFDIR)
	if err != nil {
		return fmt.Errorf("bind-mount %s to %s: destination: %w", m.source, m.dest, err)
	}
	defer unix.Close(dst)
	if err := p.checkDest(m, dst); err != nil {
		return err
	}
	if err := unix.Mount(procFD(src), p.root.fdPath(dst, m.dest), "", m.opts.flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
		return fmt.Errorf("bind-mount %s to %s: %w", m.source, m.dest, err)
	}
	return p.finishMount(m, m.opts.flags, true)
}

// mountFS mounts a fresh filesystem (tmpfs, proc, sysfs, devpts, mqueue, ...).
func (p *Plan) mountFS(m *mountEntry) error {
	dst, err := p.root.ensure(m.dest, false)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("mount %s to %s: destination is not a directory", m.fstype, m.dest)
		}
		return fmt.Errorf("mount %s to %s: destination: %w", m.fstype, m.dest, err)
	}
	defer unix.Close(dst)
	if err := p.checkDest(m, dst); err != nil {
		return err
	}
	flags := m.opts.flags &^ (unix.MS_BIND | unix.MS_REC)
	err = unix.Mount(m.source, p.root.fdPath(dst, m.dest), m.fstype, flags, strings.Join(m.opts.data, ","))
	if errors.Is(err, unix.EPERM) && p.userNS && flags&unix.MS_REMOUNT == 0 {
		// A user namespace may not mount a fresh sysfs without its own network
		// namespace, nor mqueue without its own IPC namespace: show the host's.
		host := map[string]string{"sysfs": "/sys", "mqueue": "/dev/mqueue"}[m.fstype]
		if host != "" {
			return p.bindInstead(m, host, dst)
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s to %s: %w", m.fstype, m.dest, err)
	}
	return p.finishMount(m, 0, false)
}

// bindInstead rbinds host over dst in place of the filesystem m asked for, and applies
// m's flags to the whole tree (the host's /sys has submounts).
func (p *Plan) bindInstead(m *mountEntry, host string, dst int) error {
	src, err := unix.Open(host, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("mount %s to %s: fall back to a bind of %s: %w", m.fstype, m.dest, host, err)
	}
	defer unix.Close(src)
	if err := unix.Mount(procFD(src), p.root.fdPath(dst, m.dest), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("mount %s to %s: fall back to a bind of %s: %w", m.fstype, m.dest, host, err)
	}
	bind := *m
	bind.opts.attrSet |= flagsToAttr(m.opts.flags)
	return p.finishMount(&bind, m.opts.flags|unix.MS_BIND, true)
}

// finishMount applies what follows a mount at m.dest: for a bind, the remount for its
// flags (want); then propagation changes and recursive attributes.
func (p *Plan) finishMount(m *mountEntry, want uintptr, bind bool) error {
	if !bind && len(m.opts.prop) == 0 && m.opts.attrSet == 0 && m.opts.attrClr == 0 {
		return nil
	}
	// The descriptor used for mounting still names the directory underneath; look
	// the destination up again to reach the new mount.
	fd, err := p.root.open(m.dest, unix.O_PATH)
	if err != nil {
		return fmt.Errorf("reopen %s after mounting: %w", m.dest, err)
	}
	defer unix.Close(fd)
	target := p.root.fdPath(fd, m.dest)
	if bind {
		if err := remountBind(fd, target, want, m.opts.clear); err != nil {
			return fmt.Errorf("remount %s (%s): %w", m.dest, flagString(want&^(unix.MS_BIND|unix.MS_REC|unix.MS_REMOUNT)), err)
		}
	}
	for _, prop := range m.opts.prop {
		if err := unix.Mount("", target, "", prop, ""); err != nil {
			return fmt.Errorf("set propagation %s on %s: %w", propagationString(prop), m.dest, err)
		}
	}
	if m.opts.attrSet != 0 || m.opts.attrClr != 0 {
		attr := &unix.MountAttr{Attr_set: m.opts.attrSet, Attr_clr: m.opts.attrClr}
		if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("set recursive attributes +%s/-%s on %s: %w", attrString(m.opts.attrSet), attrString(m.opts.attrClr), m.dest, err)
		}
	}
	return nil
}

// remountBind gives the bind mount at fd the per-mount flags in want (MS_RDONLY,
// MS_NOSUID, ...). Flags the mount already has are kept unless clear names them: a
// bind inherits its source's flags, and inside a user namespace those are locked —
// dropping one, even by not repeating it, fails with EPERM. Nothing is done when the
// result equals what the mount already has.
func remountBind(fd int, target string, want, clear uintptr) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return err
	}
	have := statfsFlags(st.Flags)
	want &^= unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT
	keep := have &^ clear
	if want&atimeFlags != 0 {
		keep &^= atimeFlags
	}
	flags := keep | want
	if flags&atimeFlags == 0 {
		// statfs shows no atime flag for strictatime; a remount without one would
		// switch the mount to relatime.
		flags |= unix.MS_STRICTATIME
	}
	if have&atimeFlags == 0 {
		have |= unix.MS_STRICTATIME
	}
	if flags == have {
		return nil
	}
	return unix.Mount("", target, "", flags|unix.MS_BIND|unix.MS_REMOUNT, "")
}

// statfsFlags turns statfs f_flags into the MS_* per-mount flags they report.
func statfsFlags(f int64) uintptr {
	var ms uintptr
	for _, m := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY},
		{unix.ST_NOSUID, unix.MS_NOSUID},
		{unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if f&m.st != 0 {
			ms |= m.ms
		}
	}
	return ms
}

// flagsToAttr turns per-mount MS_* flags into the MOUNT_ATTR_* that set them.
func flagsToAttr(f uintptr) uint64 {
	var a uint64
	if f&unix.MS_RDONLY != 0 {
		a |= unix.MOUNT_ATTR_RDONLY
	}
	if f&unix.MS_NOSUID != 0 {
		a |= unix.MOUNT_ATTR_NOSUID
	}
	if f&unix.MS_NODEV != 0 {
		a |= unix.MOUNT_ATTR_NODEV
	}
	if f&unix.MS_NOEXEC != 0 {
		a |= unix.MOUNT_ATTR_NOEXEC
	}
	return a
}

// lxcfsProcFiles are the only /proc entries a mount may cover (LXCFS-style
// emulation); anything else under /proc would let a spec hide the kernel's view.
var lxcfsProcFiles = map[string]bool{
	"/proc/cpuinfo": true, "/proc/diskstats": true, "/proc/meminfo": true,
	"/proc/stat": true, "/proc/swaps": true, "/proc/uptime": true,
	"/proc/loadavg": true, "/proc/slabinfo": true,
	"/proc/sys/kernel/ns_last_pid": true, "/proc/sys/crypto/fips_enabled": true,
}

// checkDest refuses a destination that, once resolved, is somewhere a mount must not
// go: /proc gets only proc, nothing goes inside /proc but the LXCFS files, and no
// symlink may steer a mount into /proc or /sys.
func (p *Plan) checkDest(m *mountEntry, fd int) error {
	at, err := p.root.where(fd)
	if err != nil {
		return fmt.Errorf("mount %s to %s: %w", m.fstype, m.dest, err)
	}
	if at != m.dest && (within(at, "/proc") || within(at, "/sys")) {
		return fmt.Errorf("mount %s to %s: destination resolves through a symlink to %s", m.fstype, m.dest, at)
	}
	switch {
	case at == "/proc":
		if m.fstype != "proc" {
			return fmt.Errorf("mount %s to %s: only proc may be mounted on /proc", m.fstype, m.dest)
		}
	case within(at, "/proc"):
		if m.kind != kindBind || !lxcfsProcFiles[at] {
			return fmt.Errorf("mount %s to %s: destination is inside /proc", m.fstype, m.dest)
		}
	}
	return nil
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}

func procFD(fd int) string {
	return fmt.Sprintf("/proc/self/fd/%d", fd)
}

// mkdirIn makes directory name in dir if missing and opens it O_PATH, refusing symlinks.
func mkdirIn(dir int, name string) (int, error) {
	if err := unix.Mkdirat(dir, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, err
	}
	return openat2(dir, name, unix.O_PATH|unix.O_DIRECTORY, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS)
}
