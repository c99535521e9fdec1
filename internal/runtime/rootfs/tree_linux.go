package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// tree is a directory that paths are resolved inside the way chroot(2) would resolve
// them: ".." stops at the top, and an absolute symlink starts again from the top, not
// from the host's "/". Every lookup is one openat2(2) with RESOLVE_IN_ROOT, done by
// the kernel, so no symlink in the container's image — however it is swapped while we
// work — can make a lookup leave the tree.
//
// Mounts then target "/proc/self/fd/N" of the O_PATH descriptor that lookup returned:
// the kernel mounts on exactly the inode that was checked, never on a path that is
// resolved a second time (the CVE-2021-30465 class of races).
type tree struct {
	fd   int    // O_PATH directory descriptor of the top
	path string // where the top is in the current mount namespace
	// procfd says "/proc/self/fd/N" leads to our descriptors. Before Enter it is the
	// host's /proc, which must be procfs. After Enter it is the container's /proc,
	// which may be missing: then mounts fall back to plain paths, which the kernel
	// resolves inside the container's root (nothing else is reachable any more).
	procfd bool
}

// resolveFlags confine a lookup to the tree; magic links such as /proc/self/root
// could otherwise jump out of it.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS

// openTree opens dir as a tree. requireProc fails when /proc is not procfs.
func openTree(dir string, requireProc bool) (*tree, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	t := &tree{fd: fd, path: dir}
	t.procfd = isProcfsRoot("/proc")
	if requireProc && !t.procfd {
		unix.Close(fd)
		return nil, errors.New("/proc is not a procfs mount: cannot address mount targets by descriptor")
	}
	return t, nil
}

func (t *tree) close() {
	if t != nil && t.fd >= 0 {
		unix.Close(t.fd)
		t.fd = -1
	}
}

// isProcfsRoot reports whether dir is the root of a procfs mount (not a plain
// directory in an image, nor a bind of some procfs subdirectory).
func isProcfsRoot(dir string) bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, dir, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.PROC_SUPER_MAGIC {
		return false
	}
	var sx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, &sx); err != nil {
		return false
	}
	if sx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && sx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return false
	}
	return true
}

// open resolves p (absolute, inside the tree) and opens it with flags.
func (t *tree) open(p string, flags int) (int, error) {
	return openat2(t.fd, strings.TrimPrefix(p, "/"), flags, resolveFlags)
}

// openat2 retries the spurious failures openat2 reports while a rename or mount races
// with a RESOLVE_IN_ROOT lookup (EAGAIN), and interrupted calls.
func openat2(dirfd int, p string, flags int, resolve uint64) (int, error) {
	if p == "" {
		p = "."
	}
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolve}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, p, how)
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < 64 {
			continue
		}
		return fd, err
	}
}

// fdPath is what mount(2) gets to address the descriptor fd that was opened for
// in-tree path p.
func (t *tree) fdPath(fd int, p string) string {
	if t.procfd {
		return "/proc/self/fd/" + strconv.Itoa(fd)
	}
	return path.Join(t.path, p)
}

// where returns the in-tree path fd has been resolved to.
func (t *tree) where(fd int) (string, error) {
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	if t.path == "/" {
		return real, nil
	}
	rel, ok := strings.CutPrefix(real, t.path)
	if !ok || (rel != "" && rel[0] != '/') {
		return "", fmt.Errorf("%s resolved outside the rootfs", real)
	}
	if rel == "" {
		rel = "/"
	}
	return rel, nil
}

// maxHops bounds how many dangling symlinks ensure follows, as the kernel's ELOOP does.
const maxHops = 40

// ensure makes p exist inside the tree — a directory, or an empty file when file is
// true — creating missing parent directories (mode 0755), and returns an O_PATH
// descriptor for it. It follows symlinks the way the container will see them,
// dangling ones included: a mount at /var/run/x with /var/run -> /run and no /run
// creates /run/x, inside the tree.
func (t *tree) ensure(p string, file bool) (int, error) {
	last := unix.O_PATH | unix.O_DIRECTORY
	if file {
		last = unix.O_PATH
	}
	for hops := 0; hops < maxHops; hops++ {
		fd, err := t.open(p, last)
		if !errors.Is(err, unix.ENOENT) {
			return fd, err
		}
		next, fd, err := t.create(p, file, last)
		if err != nil || next == "" {
			return fd, err
		}
		p = next // a dangling symlink: start again from its target
	}
	return -1, unix.ELOOP
}

// create walks p from the top, making what is missing. It returns either the
// descriptor of p, or, when a component is a dangling symlink, the path to try next.
func (t *tree) create(p string, file bool, last int) (next string, fd int, err error) {
	comps := strings.Split(strings.Trim(p, "/"), "/")
	dir, err := t.open("/", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return "", -1, err
	}
	defer func() { unix.Close(dir) }()
	for i, c := range comps {
		prefix := "/" + strings.Join(comps[:i+1], "/")
		isLast := i == len(comps)-1
		flags := unix.O_PATH | unix.O_DIRECTORY
		if isLast {
			flags = last
		}
		fd, err := t.open(prefix, flags)
		if errors.Is(err, unix.ENOENT) {
			if isLast && file {
				var nfd int
				nfd, err = unix.Openat(dir, c, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
				if err == nil {
					unix.Close(nfd)
				}
			} else {
				err = unix.Mkdirat(dir, c, 0o755)
			}
			if err == nil || errors.Is(err, unix.EEXIST) {
				fd, err = t.open(prefix, flags)
			}
			if errors.Is(err, unix.ENOENT) {
				// Still missing although something is there: a dangling symlink.
				target, lerr := readlinkat(dir, c)
				if lerr != nil {
					return "", -1, fmt.Errorf("%s: %w", prefix, err)
				}
				base, werr := t.where(dir)
				if werr != nil {
					return "", -1, werr
				}
				if !path.IsAbs(target) {
					target = path.Join(base, target)
				}
				return path.Join(append([]string{target}, comps[i+1:]...)...), -1, nil
			}
		}
		if err != nil {
			return "", -1, fmt.Errorf("%s: %w", prefix, err)
		}
		if isLast {
			return "", fd, nil
		}
		unix.Close(dir)
		dir = fd
	}
	return "", -1, unix.EINVAL // unreachable: p has at least one component
}

func readlinkat(dir int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dir, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
