package archive

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noOpenat2 is set when the kernel lacks openat2(2) (before 5.6); tests set
// it to exercise the fallback.
var noOpenat2 atomic.Bool

// OpenDirInRoot opens the directory name (a clean relative path, "" or "."
// for the root itself) under the directory rootfd as the container will see
// it: ".." stops at the root and symbolic links resolve inside it, so nothing
// outside rootfd can be reached. The result is an O_RDONLY|O_DIRECTORY
// descriptor. Volumes use it to fill themselves from an image's tree.
func OpenDirInRoot(rootfd int, name string) (int, error) { return openDirInRoot(rootfd, name) }

// Readlink reads the target of the symbolic link name in the directory dirfd
// (name "" for dirfd itself, an O_PATH descriptor of the link).
func Readlink(dirfd int, name string) (string, error) { return readlinkAt(dirfd, name) }

// openDirInRoot opens the directory name (a clean relative path, "" for the
// root itself) under the directory rootfd as if rootfd were "/": ".." stops at
// the root and symbolic links, absolute ones included, resolve inside it, the
// way the container will see them. Nothing outside rootfd can be reached.
// The result is an O_RDONLY|O_DIRECTORY descriptor.
func openDirInRoot(rootfd int, name string) (int, error) {
	if name == "" {
		name = "."
	}
	if !noOpenat2.Load() {
		how := unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		}
		for range 16 {
			fd, err := unix.Openat2(rootfd, name, &how)
			if err == unix.EINTR || err == unix.EAGAIN { // EAGAIN: a rename raced the lookup
				continue
			}
			if err == unix.ENOSYS {
				noOpenat2.Store(true)
				return walkInRoot(rootfd, name)
			}
			return fd, err
		}
		return -1, unix.EAGAIN
	}
	return walkInRoot(rootfd, name)
}

// walkInRoot is openDirInRoot for kernels without openat2: one component at a
// time with O_NOFOLLOW, expanding symbolic links itself.
func walkInRoot(rootfd int, name string) (int, error) {
	root, err := unix.Openat(rootfd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	stack := []int{root} // stack[i] is the directory i levels below the root
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	todo := strings.Split(name, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				unix.Close(stack[len(stack)-1])
				stack = stack[:len(stack)-1]
			}
			continue
		}
		fd, err := unix.Openat(stack[len(stack)-1], c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			stack = append(stack, fd)
		case unix.S_IFLNK:
			target, err := readlinkAt(fd, "")
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if links++; links > 40 {
				return -1, unix.ELOOP
			}
			if strings.HasPrefix(target, "/") {
				for _, fd := range stack[1:] {
					unix.Close(fd)
				}
				stack = stack[:1]
			}
			todo = append(strings.Split(target, "/"), todo...)
		default:
			unix.Close(fd)
			return -1, unix.ENOTDIR
		}
	}
	return unix.Openat(stack[len(stack)-1], ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
}

func readlinkAt(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// errEscape is returned for entry names and hardlink targets that climb out
// of the layer with "..".
var errEscape = errors.New("path escapes the layer root")

// cleanName turns a name from a tar header into a clean path relative to the
// layer root ("" for the root itself), or fails with errEscape.
func cleanName(name string) (string, error) {
	p := path.Clean(strings.TrimLeft(name, "/"))
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%q: %w", name, errEscape)
	}
	if p == "." {
		return "", nil
	}
	return p, nil
}

// splitName splits a clean relative path into its parent ("" at the top) and
// its last element.
func splitName(p string) (string, string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// removeAllAt removes name in dirfd and, if it is a directory, everything in
// it, never following a symbolic link. A missing name is not an error.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || err == unix.ENOENT {
		return nil
	}
	if err != unix.EISDIR && err != unix.EPERM {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	names, err := readDirNames(fd)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(fd, n); err != nil {
				break
			}
		}
	}
	unix.Close(fd)
	if err != nil {
		return err
	}
	err = unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	if err == unix.ENOENT {
		return nil
	}
	return err
}

// readDirNames lists the directory dirfd (without "." and ".."), unsorted. It
// reads through its own descriptor, so dirfd's offset is untouched.
func readDirNames(dirfd int) ([]string, error) {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	var names []string
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
}
