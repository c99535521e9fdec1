package daemon

import (
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"
)

// Paths inside a container's root, resolved by descriptors.

// maxSymlinks bounds the symbolic links one resolution follows, as the
// kernel's own limit does.
const maxSymlinks = 40

// create says what walkInRoot makes of missing components.
type create int

const (
	createNone create = iota // a missing component is ENOENT
	createDir                // every missing component is made a directory (0755)
	createFile               // missing directories are made; the last component an empty file (0644)
)

// walked is where walkInRoot led.
type walked struct {
	// fd is an O_PATH descriptor of the path's target; -1 when it is missing.
	fd int
	// path is the absolute container path reached, symbolic links resolved;
	// when a component is missing, what is left is added lexically (as
	// Docker's FollowSymlinkInScope does for a dangling link).
	path string
}

// walkInRoot resolves p, a container path, below the directory rootfd as the
// container resolves it: ".." stops at the root and symbolic links are
// followed inside it, absolute ones from the root. Every component is opened
// O_NOFOLLOW from its parent's descriptor, so no change made meanwhile (by a
// process in the container) can lead the walk outside rootfd. The last
// component is followed when it is a link only if followLast, or if p ends in
// "/" or "/." (as lstat(2) does). Missing components fail with ENOENT (the
// result's path still says where they would be) unless mk says to make them.
func walkInRoot(rootfd int, p string, followLast bool, mk create) (walked, error) {
	if strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") {
		followLast = true
	}
	root, err := unix.Openat(rootfd, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return walked{fd: -1}, err
	}
	stack := []int{root} // stack[i] is the directory names[:i] leads to
	var names []string
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	result := func(fd int) walked { return walked{fd: fd, path: "/" + strings.Join(names, "/")} }
	todo := components(p)
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case ".":
			continue
		case "..":
			if n := len(stack); n > 1 {
				unix.Close(stack[n-1])
				stack, names = stack[:n-1], names[:n-2]
			}
			continue
		}
		last := len(todo) == 0
		dir := stack[len(stack)-1]
		fd, err := unix.Openat(dir, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT && mk != createNone {
			if err = makeEntry(dir, c, last && mk == createFile); err == nil {
				fd, err = unix.Openat(dir, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			}
		}
		if err != nil {
			if err == unix.ENOENT {
				w := walked{fd: -1, path: path.Join("/"+strings.Join(names, "/"), c, strings.Join(todo, "/"))}
				return w, err
			}
			return walked{fd: -1}, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return walked{fd: -1}, err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			if last && !followLast {
				names = append(names, c)
				return result(fd), nil
			}
			target, err := readlinkFD(fd)
			unix.Close(fd)
			if err != nil {
				return walked{fd: -1}, err
			}
			if links++; links > maxSymlinks {
				return walked{fd: -1}, unix.ELOOP
			}
			if strings.HasPrefix(target, "/") {
				for _, fd := range stack[1:] {
					unix.Close(fd)
				}
				stack, names = stack[:1], nil
			}
			todo = append(components(target), todo...)
		case unix.S_IFDIR:
			stack = append(stack, fd)
			names = append(names, c)
		default:
			if !last {
				unix.Close(fd)
				return walked{fd: -1}, unix.ENOTDIR
			}
			names = append(names, c)
			return result(fd), nil
		}
	}
	top := len(stack) - 1
	fd := stack[top]
	stack = stack[:top]
	return result(fd), nil
}

// components splits a path into its non-empty components.
func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// makeEntry makes name in the directory dirfd: an empty file, or a directory.
// One that appeared meanwhile is fine.
func makeEntry(dirfd int, name string, file bool) error {
	if file {
		fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			return unix.Close(fd)
		}
		if err == unix.EEXIST {
			return nil
		}
		return err
	}
	if err := unix.Mkdirat(dirfd, name, 0o755); err != nil && err != unix.EEXIST {
		return err
	}
	return nil
}

// readlinkFD reads the symbolic link an O_PATH descriptor holds.
func readlinkFD(fd int) (string, error) { return readlinkAt(fd, "") }

// procFD names a descriptor as a path, for the calls that take paths
// (reopening an O_PATH descriptor, archive.Tar and Apply).
func procFD(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// cpPath is the absolute container path docker cp means by p, keeping a
// trailing "/" or "/." (which make a link at the end be followed), as Docker
// keeps them.
func cpPath(p string) string {
	abs := path.Join("/", p)
	if path.Base(abs) != "." && path.Base(p) == "." {
		if !strings.HasSuffix(abs, "/") {
			abs += "/"
		}
		abs += "."
	}
	if !strings.HasSuffix(abs, "/") && strings.HasSuffix(p, "/") {
		abs += "/"
	}
	return abs
}

// fileMode turns a stat mode into Go's os.FileMode bits, as the PathStat
// header carries them.
func fileMode(st *unix.Stat_t) os.FileMode {
	m := os.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		m |= os.ModeDevice
	case unix.S_IFCHR:
		m |= os.ModeDevice | os.ModeCharDevice
	case unix.S_IFDIR:
		m |= os.ModeDir
	case unix.S_IFIFO:
		m |= os.ModeNamedPipe
	case unix.S_IFLNK:
		m |= os.ModeSymlink
	case unix.S_IFSOCK:
		m |= os.ModeSocket
	}
	if st.Mode&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}

// pathStat fills the PathStat of name from its stat.
func pathStat(name string, st *unix.Stat_t, linkTarget string) *container.PathStat {
	return &container.PathStat{
		Name:       name,
		Size:       st.Size,
		Mode:       fileMode(st),
		Mtime:      time.Unix(st.Mtim.Unix()),
		LinkTarget: linkTarget,
	}
}
