package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// devSymlinks are the runtime-spec's /dev symlinks; /dev/core is added when the host
// has /proc/kcore, as other runtimes do.
var devSymlinks = [][2]string{
	{"fd", "/proc/self/fd"},
	{"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"},
}

// createDevices makes the plan's device nodes and the /dev symlinks.
func (p *Plan) createDevices() error {
	for _, d := range p.devices {
		if err := p.createDevice(d); err != nil {
			return err
		}
	}
	dev, err := p.root.ensure("/dev", false)
	if err != nil {
		return fmt.Errorf("/dev: %w", err)
	}
	defer unix.Close(dev)
	links := devSymlinks
	if _, err := os.Stat("/proc/kcore"); err == nil {
		links = append(links[:len(links):len(links)], [2]string{"core", "/proc/kcore"})
	}
	for _, l := range links {
		// An image's own symlink (or file) at the same place is left alone.
		if err := unix.Symlinkat(l[1], dev, l[0]); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink /dev/%s -> %s: %w", l[0], l[1], err)
		}
	}
	if p.ptmx {
		// The container's ptys come from its own devpts instance.
		if err := unix.Unlinkat(dev, "ptmx", 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("replace /dev/ptmx: %w", err)
		}
		if err := unix.Symlinkat("pts/ptmx", dev, "ptmx"); err != nil {
			return fmt.Errorf("symlink /dev/ptmx -> pts/ptmx: %w", err)
		}
	}
	return nil
}

// createDevice makes one node with mknod(2). In a user namespace, where mknod of a
// device is never allowed, a character or block device is bind-mounted from the
// host's node at the same path instead; a fifo needs no privilege.
func (p *Plan) createDevice(d device) error {
	dir, err := p.root.ensure(path.Dir(d.path), false)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.path, err)
	}
	defer unix.Close(dir)
	name := path.Base(d.path)
	if p.userNS && d.typ != unix.S_IFIFO {
		return p.bindDevice(d, dir, name)
	}
	rdev := unix.Mkdev(d.major, d.minor)
	var st unix.Stat_t
	err = unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == d.typ && (d.typ == unix.S_IFIFO || st.Rdev == rdev):
		// Already the right node: only its mode and owner may need fixing.
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return fmt.Errorf("device %s: a directory is in the way", d.path)
	case err == nil:
		if err := unix.Unlinkat(dir, name, 0); err != nil {
			return fmt.Errorf("device %s: remove what is in the way: %w", d.path, err)
		}
		fallthrough
	case errors.Is(err, unix.ENOENT):
		if err := unix.Mknodat(dir, name, d.typ|d.mode, int(rdev)); err != nil {
			if errors.Is(err, unix.EPERM) {
				// Not a user namespace (the caller said so), so either CAP_MKNOD is
				// missing or the devices cgroup denies "m" for this device. Binding
				// the host's node instead would hide that, and the same cgroup
				// would refuse to open it anyway.
				return fmt.Errorf("device %s: mknod %s %d:%d: %w (does the devices cgroup allow it?)", d.path, devType(d.typ), d.major, d.minor, err)
			}
			return fmt.Errorf("device %s: mknod: %w", d.path, err)
		}
	default:
		return fmt.Errorf("device %s: %w", d.path, err)
	}
	// mknod honours the umask; set the exact mode, then the owner, without following
	// a symlink (the node is ours; nothing in the container runs yet).
	if err := unix.Fchmodat(dir, name, d.mode, 0); err != nil {
		return fmt.Errorf("device %s: chmod: %w", d.path, err)
	}
	if err := unix.Fchownat(dir, name, int(d.uid), int(d.gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("device %s: chown: %w", d.path, err)
	}
	return nil
}

// bindDevice bind-mounts the host's node at d.path onto an empty file at name in dir.
// The host's node must be the device the spec names.
func (p *Plan) bindDevice(d device, dir int, name string) error {
	src, err := unix.Open(d.path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("device %s: bind from the host: %w", d.path, err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return fmt.Errorf("device %s: bind from the host: %w", d.path, err)
	}
	if st.Mode&unix.S_IFMT != d.typ || st.Rdev != unix.Mkdev(d.major, d.minor) {
		return fmt.Errorf("device %s: the host's node is not %s %d:%d", d.path, devType(d.typ), d.major, d.minor)
	}
	dst, err := mountpointFile(dir, name)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.path, err)
	}
	defer unix.Close(dst)
	if err := unix.Mount(procFD(src), p.root.fdPath(dst, d.path), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount %s to %s: %w", d.path, d.path, err)
	}
	return nil
}

// mountpointFile makes name in dir an empty regular file to mount a file on — a
// symlink or node already there is replaced — and returns an O_PATH descriptor of it.
func mountpointFile(dir int, name string) (int, error) {
	var st unix.Stat_t
	err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return -1, errors.New("a directory is in the way")
	case err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG:
		if err := unix.Unlinkat(dir, name, 0); err != nil {
			return -1, fmt.Errorf("remove what is in the way: %w", err)
		}
	case err != nil && !errors.Is(err, unix.ENOENT):
		return -1, err
	}
	fd, err := unix.Openat(dir, name, unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.Close(fd)
	return openat2(dir, name, unix.O_PATH, unix.RESOLVE_BENEATH|unix.RESOLVE_NO_SYMLINKS)
}

// BindConsole bind-mounts the pty slave at ptyPath (a path as the caller sees it)
// onto /dev/console in the rootfs. It may be called after Setup, before or after Enter.
func (p *Plan) BindConsole(ptyPath string) error {
	if p.root == nil {
		return errors.New("rootfs: BindConsole before Setup")
	}
	src, err := unix.Open(ptyPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("console %s: %w", ptyPath, err)
	}
	defer unix.Close(src)
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return fmt.Errorf("console %s: not a character device", ptyPath)
	}
	dir, err := p.root.ensure("/dev", false)
	if err != nil {
		return fmt.Errorf("console: /dev: %w", err)
	}
	defer unix.Close(dir)
	dst, err := mountpointFile(dir, "console")
	if err != nil {
		return fmt.Errorf("console: /dev/console: %w", err)
	}
	defer unix.Close(dst)
	source := ptyPath
	if p.root.procfd {
		source = procFD(src)
	}
	if err := unix.Mount(source, p.root.fdPath(dst, "/dev/console"), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount %s to /dev/console: %w", ptyPath, err)
	}
	return nil
}
