package volume

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/archive"
)

// CopyUp fills volumeDir, if it is empty, with a copy of the directory the
// container's root file system rootfs has at path, as Docker does when a
// volume is first mounted over content of the image: regular files, directories,
// symbolic links, device nodes and fifos (sockets are skipped), hard links
// kept as links, with their owners, modes (setuid, setgid and sticky bits
// included), extended attributes (of files and directories) and access and
// modification times. volumeDir's own owner, mode, attributes and times
// become those of the directory at path. It reports whether it copied: an
// already non-empty volume, or a path the image lacks or that is no directory,
// copies nothing.
//
// path is resolved inside rootfs as the container will see it: ".." stops at
// the root and symbolic links, absolute ones included, resolve inside rootfs.
// The tree is then walked by descriptors, one component at a time with
// O_NOFOLLOW, so no symbolic link in the image is ever followed, however it
// points: a link is copied as a link.
func CopyUp(volumeDir, rootfs, path string) (bool, error) {
	dst, err := unix.Open(volumeDir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, &os.PathError{Op: "open", Path: volumeDir, Err: err}
	}
	defer unix.Close(dst)
	names, err := readDirNames(dst)
	if err != nil {
		return false, fmt.Errorf("list %s: %w", volumeDir, err)
	}
	if len(names) > 0 {
		return false, nil
	}
	root, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, &os.PathError{Op: "open", Path: rootfs, Err: err}
	}
	defer unix.Close(root)
	src, err := archive.OpenDirInRoot(root, inRootPath(path))
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open %s in %s: %w", path, rootfs, err)
	}
	defer unix.Close(src)

	c := copier{dstRoot: dst, links: map[fileID]string{}}
	if err := c.copyDir(src, dst, ""); err != nil {
		return true, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(src, &st); err != nil {
		return true, err
	}
	if err := copyMeta(src, dst, &st); err != nil {
		return true, fmt.Errorf("%s: %w", volumeDir, err)
	}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, volumeDir, times(&st), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return true, &os.PathError{Op: "utimensat", Path: volumeDir, Err: err}
	}
	return true, nil
}

// inRootPath turns a container path into a clean path relative to the root
// ("." for the root itself); ".." cannot climb above it.
func inRootPath(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

// fileID names an inode, to keep hard links linked.
type fileID struct{ dev, ino uint64 }

type copier struct {
	dstRoot int
	links   map[fileID]string // inode -> its first copy, relative to dstRoot
}

// copyDir copies the entries of directory src into directory dst, which is
// rel below the destination root.
func (c *copier) copyDir(src, dst int, rel string) error {
	names, err := readDirNames(src)
	if err != nil {
		return fmt.Errorf("list %s: %w", display(rel), err)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := c.copyEntry(src, dst, rel, name); err != nil {
			return err
		}
	}
	return nil
}

// copyEntry copies src/name to dst/name, never following a symbolic link.
func (c *copier) copyEntry(src, dst int, rel, name string) error {
	relName := path.Join(rel, name)
	var st unix.Stat_t
	if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("stat %s: %w", display(relName), err)
	}
	typ := st.Mode & unix.S_IFMT
	if typ != unix.S_IFDIR && st.Nlink > 1 {
		id := fileID{st.Dev, st.Ino}
		if first, ok := c.links[id]; ok {
			if err := unix.Linkat(c.dstRoot, first, dst, name, 0); err != nil {
				return fmt.Errorf("link %s to %s: %w", display(relName), display(first), err)
			}
			return nil
		}
		c.links[id] = relName
	}
	var err error
	switch typ {
	case unix.S_IFDIR:
		err = c.copySubdir(src, dst, relName, name, &st)
	case unix.S_IFREG:
		err = copyFile(src, dst, name, &st)
	case unix.S_IFLNK:
		err = copySymlink(src, dst, name, &st)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		err = copyNode(dst, name, &st)
	default: // sockets belong to the process that made them
		return nil
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", display(relName), err)
	}
	return nil
}

func (c *copier) copySubdir(src, dst int, relName, name string, st *unix.Stat_t) error {
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return err
	}
	sfd, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(sfd)
	dfd, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := c.copyDir(sfd, dfd, relName); err != nil {
		return err
	}
	if err := copyMeta(sfd, dfd, st); err != nil {
		return err
	}
	// Last: creating the entries changed the directory's times.
	return unix.UtimesNanoAt(dst, name, times(st), unix.AT_SYMLINK_NOFOLLOW)
}

func copyFile(src, dst int, name string, st *unix.Stat_t) error {
	sfd, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	in := os.NewFile(uintptr(sfd), name)
	defer in.Close()
	dfd, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	out := os.NewFile(uintptr(dfd), name)
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil { // copy_file_range where it can
		return err
	}
	if err := copyMeta(sfd, dfd, st); err != nil {
		return err
	}
	return unix.UtimesNanoAt(dst, name, times(st), unix.AT_SYMLINK_NOFOLLOW)
}

func copySymlink(src, dst int, name string, st *unix.Stat_t) error {
	target, err := archive.Readlink(src, name)
	if err != nil {
		return err
	}
	if err := unix.Symlinkat(target, dst, name); err != nil {
		return err
	}
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	return unix.UtimesNanoAt(dst, name, times(st), unix.AT_SYMLINK_NOFOLLOW)
}

// copyNode recreates a device node or fifo (extended attributes of these are
// not copied: reading them needs an open, which a device would see).
func copyNode(dst int, name string, st *unix.Stat_t) error {
	if err := unix.Mknodat(dst, name, st.Mode&unix.S_IFMT|0o600, int(st.Rdev)); err != nil {
		return err
	}
	if err := unix.Fchownat(dst, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	// Fresh, and not a symbolic link: fchmodat cannot be misled here.
	if err := unix.Fchmodat(dst, name, st.Mode&0o7777, 0); err != nil {
		return err
	}
	return unix.UtimesNanoAt(dst, name, times(st), unix.AT_SYMLINK_NOFOLLOW)
}

// copyMeta gives the open file dst the owner, mode and extended attributes of
// src (stat st). The owner goes first: chown clears setuid and setgid bits and
// file capabilities, which the mode and the attributes then restore.
func copyMeta(src, dst int, st *unix.Stat_t) error {
	if err := unix.Fchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(dst, st.Mode&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return copyXattrs(src, dst)
}

// copyXattrs copies every extended attribute of src to dst. A source file
// system without them has none to copy; one the destination cannot store
// (ENOTSUP) is left out, as the destination cannot hold it at all.
func copyXattrs(src, dst int) error {
	names, err := listXattrs(src)
	if errors.Is(err, unix.ENOTSUP) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list extended attributes: %w", err)
	}
	for _, n := range names {
		v, err := getXattr(src, n)
		if errors.Is(err, unix.ENODATA) {
			continue // removed meanwhile
		}
		if err != nil {
			return fmt.Errorf("read extended attribute %s: %w", n, err)
		}
		if err := unix.Fsetxattr(dst, n, v, 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) {
				continue
			}
			return fmt.Errorf("set extended attribute %s: %w", n, err)
		}
	}
	return nil
}

func listXattrs(fd int) ([]string, error) {
	for size := 1024; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Flistxattr(fd, buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, n := range strings.Split(string(buf[:n]), "\x00") {
			if n != "" {
				names = append(names, n)
			}
		}
		return names, nil
	}
}

func getXattr(fd int, name string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Fgetxattr(fd, name, buf)
		if errors.Is(err, unix.ERANGE) && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

func times(st *unix.Stat_t) []unix.Timespec {
	return []unix.Timespec{st.Atim, st.Mtim}
}

// display names a path below the copy's root in messages.
func display(rel string) string {
	if rel == "" {
		return "the volume's root"
	}
	return rel
}

// readDirNames lists the directory fd (without "." and ".."), through a
// descriptor of its own so fd's offset is untouched.
func readDirNames(fd int) ([]string, error) {
	own, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(own), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}
