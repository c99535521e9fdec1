package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Tar writes everything under dir (not dir itself) to w as an uncompressed
// tar: a directory before its contents, names in byte order, so the same tree
// always gives the same bytes. Entries carry owner, permissions, modification
// time (in whole seconds, as Docker writes them), extended attributes (as PAX
// SCHILY.xattr records) and device numbers; a file with several links in the
// tree is written once and then as hardlinks to that first name. Sockets are
// left out. Symbolic links are never followed.
func Tar(ctx context.Context, dir string, w io.Writer) error {
	return writeTree(ctx, dir, w, false)
}

// Diff writes to w an uncompressed layer tar of the changes from lower to
// upper, with the ordering and header rules of Tar.
//
// With lower empty, upper is the upper directory of an overlayfs mount,
// unmounted: everything in it is a change, a 0:0 character device becomes a
// .wh.NAME whiteout and a directory with trusted.overlay.opaque=y (or
// user.overlay.opaque=y) gets a .wh..wh..opq marker. Overlay's own attributes
// are not recorded. An upper directory that relies on redirect_dir or metacopy
// is refused: mount with both off.
//
// With lower set, lower and upper are two complete trees, the native
// snapshotter's parent and its modified copy. Entries added to upper or whose
// type, permissions, owner, size, modification time, link target or
// extended attributes differ are written (whole, for a new directory); a
// directory holding a change is written before it even if it did not change
// itself; what is in lower but not in upper becomes a whiteout.
func Diff(ctx context.Context, lower, upper string, w io.Writer) error {
	if lower == "" {
		return writeTree(ctx, upper, w, true)
	}
	lfd, err := openDir(lower)
	if err != nil {
		return err
	}
	defer unix.Close(lfd)
	ufd, err := openDir(upper)
	if err != nil {
		return err
	}
	defer unix.Close(ufd)
	t := newTarWriter(ctx, w, false)
	if err := t.diffDir(lfd, ufd, ""); err != nil {
		return fmt.Errorf("diff %s %s: %w", lower, upper, err)
	}
	return t.tw.Close()
}

func openDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, pathErr("open", dir, err)
	}
	return fd, nil
}

func writeTree(ctx context.Context, dir string, w io.Writer, overlay bool) error {
	fd, err := openDir(dir)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	t := newTarWriter(ctx, w, overlay)
	if err := t.addTree(fd, ""); err != nil {
		return fmt.Errorf("tar %s: %w", dir, err)
	}
	return t.tw.Close()
}

type fileID struct{ dev, ino uint64 }

type tarWriter struct {
	ctx     context.Context
	tw      *tar.Writer
	overlay bool              // translate overlayfs whiteouts
	links   map[fileID]string // first name written for a multiply linked file
	buf     []byte
	// Directories entered but not written (Diff writes an unchanged
	// directory only if something in it changed): outermost first.
	pending []*tar.Header
}

func newTarWriter(ctx context.Context, w io.Writer, overlay bool) *tarWriter {
	return &tarWriter{ctx: ctx, tw: tar.NewWriter(w), overlay: overlay, links: map[fileID]string{}, buf: make([]byte, 1<<20)}
}

func (t *tarWriter) writeHeader(hdr *tar.Header) error {
	for _, p := range t.pending {
		if err := t.tw.WriteHeader(p); err != nil {
			return err
		}
	}
	t.pending = t.pending[:0]
	return t.tw.WriteHeader(hdr)
}

// sortedNames lists the directory fd in byte order.
func sortedNames(fd int) ([]string, error) {
	names, err := readDirNames(fd)
	slices.Sort(names)
	return names, err
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// addTree writes the contents of the directory fd, named name in the tar.
func (t *tarWriter) addTree(fd int, name string) error {
	names, err := sortedNames(fd)
	if err != nil {
		return pathErr("readdir", name, err)
	}
	for _, n := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("stat", join(name, n), err)
		}
		if err := t.addEntry(fd, n, join(name, n), &st, true); err != nil {
			return err
		}
	}
	return nil
}

// addEntry writes the entry base of the directory pfd under the tar name
// name, and with recurse, a directory's contents after it.
func (t *tarWriter) addEntry(pfd int, base, name string, st *unix.Stat_t, recurse bool) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	if t.overlay && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		return t.writeHeader(whiteoutHeader(name))
	}
	hdr, xattrs, err := t.header(pfd, base, name, st)
	if err != nil || hdr == nil {
		return err
	}
	opaque := false
	if t.overlay {
		for _, k := range []string{"trusted.overlay.redirect", "user.overlay.redirect", "trusted.overlay.metacopy", "user.overlay.metacopy"} {
			if _, ok := xattrs[k]; ok {
				return fmt.Errorf("%s: has %s: the overlay must be mounted with redirect_dir=off and metacopy=off", name, k)
			}
		}
		opaque = xattrs["trusted.overlay.opaque"] == "y" || xattrs["user.overlay.opaque"] == "y"
	}
	if err := t.writeHeader(hdr); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
		return t.copyFile(pfd, base, name, hdr.Size)
	case tar.TypeDir:
		if opaque {
			if err := t.writeHeader(whiteoutHeader(join(name, opaqueMarker))); err != nil {
				return err
			}
		}
		if !recurse {
			return nil
		}
		cfd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return pathErr("open", name, err)
		}
		defer unix.Close(cfd)
		return t.addTree(cfd, name)
	}
	return nil
}

// whiteoutHeader is the entry that removes name (or, named .wh..wh..opq,
// makes its directory opaque). Its metadata is fixed so that layers are
// reproducible.
func whiteoutHeader(name string) *tar.Header {
	dir, base := splitName(name)
	if base != opaqueMarker {
		name = join(dir, whiteoutPrefix+base)
	}
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
}

// StatHeader is the tar header of a file named name with the status st, as
// docker's archives have it: its type, permission bits, owner, modification
// time in whole seconds, a regular file's size, a device's numbers and a
// symlink's target (from readlink). Nil, with no error, for what a tar cannot
// hold (a socket). Directory names and hard links are the caller's.
func StatHeader(name string, st *unix.Stat_t, readlink func() (string, error)) (*tar.Header, error) {
	hdr := &tar.Header{
		Name:    name,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFLNK:
		target, err := readlink()
		if err != nil {
			return nil, err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, nil
	}
	return hdr, nil
}

// header describes base in pfd; nil for what a tar cannot hold (sockets).
// It also returns all the extended attributes, overlay's own included.
func (t *tarWriter) header(pfd int, base, name string, st *unix.Stat_t) (*tar.Header, map[string]string, error) {
	hdr, err := StatHeader(name, st, func() (string, error) { return readlinkAt(pfd, base) })
	if err != nil {
		return nil, nil, pathErr("readlink", name, err)
	}
	if hdr == nil {
		return nil, nil, nil
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		hdr.Name = name + "/"
	case tar.TypeReg:
		if st.Nlink > 1 {
			id := fileID{st.Dev, st.Ino}
			if first, ok := t.links[id]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				t.links[id] = name
			}
		}
	}
	xattrs, err := getXattrs(pfd, base)
	if err != nil {
		return nil, nil, pathErr("xattrs", name, err)
	}
	for k, v := range xattrs {
		if overlayPrivate(k) || k == "security.selinux" {
			continue // overlay's bookkeeping; the host's labels
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattr+k] = v
	}
	return hdr, xattrs, nil
}

func (t *tarWriter) copyFile(pfd int, base, name string, size int64) error {
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("open", name, err)
	}
	defer unix.Close(fd)
	for size > 0 {
		chunk := t.buf[:min(int64(len(t.buf)), size)]
		n, err := unix.Read(fd, chunk)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return pathErr("read", name, err)
		}
		if n == 0 {
			return fmt.Errorf("%s: file shrank while being archived", name)
		}
		if _, err := t.tw.Write(chunk[:n]); err != nil {
			return err
		}
		size -= int64(n)
	}
	return nil
}

// getXattrs reads the extended attributes of base in pfd without following
// a symbolic link.
func getXattrs(pfd int, base string) (map[string]string, error) {
	p := procPath(pfd, base)
	var list []byte
	for size := 256; ; size *= 4 {
		list = make([]byte, size)
		n, err := unix.Llistxattr(p, list)
		if err == unix.ERANGE {
			continue
		}
		if err == unix.ENOTSUP {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		list = list[:n]
		break
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, name := range strings.Split(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		for size := 256; ; size *= 4 {
			val := make([]byte, size)
			n, err := unix.Lgetxattr(p, name, val)
			if err == unix.ERANGE {
				continue
			}
			if err == unix.ENODATA {
				break // removed meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("getxattr %s: %w", name, err)
			}
			out[name] = string(val[:n])
			break
		}
	}
	return out, nil
}

// diffDir writes the changes from the directory lfd to the directory ufd,
// both named dir in the tar.
func (t *tarWriter) diffDir(lfd, ufd int, dir string) error {
	lnames, err := sortedNames(lfd)
	if err != nil {
		return pathErr("readdir lower", dir, err)
	}
	unames, err := sortedNames(ufd)
	if err != nil {
		return pathErr("readdir upper", dir, err)
	}
	for len(lnames) > 0 || len(unames) > 0 {
		var n string
		inL, inU := false, false
		switch {
		case len(unames) == 0 || len(lnames) > 0 && lnames[0] < unames[0]:
			n, inL, lnames = lnames[0], true, lnames[1:]
		case len(lnames) == 0 || unames[0] < lnames[0]:
			n, inU, unames = unames[0], true, unames[1:]
		default:
			n, inL, inU, lnames, unames = lnames[0], true, true, lnames[1:], unames[1:]
		}
		name := join(dir, n)
		if !inU {
			if err := t.writeHeader(whiteoutHeader(name)); err != nil {
				return err
			}
			continue
		}
		var ust unix.Stat_t
		if err := unix.Fstatat(ufd, n, &ust, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("stat", name, err)
		}
		if !inL {
			if err := t.addEntry(ufd, n, name, &ust, true); err != nil {
				return err
			}
			continue
		}
		var lst unix.Stat_t
		if err := unix.Fstatat(lfd, n, &lst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("stat lower", name, err)
		}
		bothDirs := lst.Mode&unix.S_IFMT == unix.S_IFDIR && ust.Mode&unix.S_IFMT == unix.S_IFDIR
		same, err := sameEntry(lfd, ufd, n, &lst, &ust)
		if err != nil {
			return pathErr("compare", name, err)
		}
		if !bothDirs {
			if !same {
				if err := t.addEntry(ufd, n, name, &ust, true); err != nil {
					return err
				}
			}
			continue
		}
		if same {
			hdr, _, err := t.header(ufd, n, name, &ust)
			if err != nil {
				return err
			}
			t.pending = append(t.pending, hdr)
		} else if err := t.addEntry(ufd, n, name, &ust, false); err != nil {
			return err
		}
		depth := len(t.pending)
		if err := t.diffSubdir(lfd, ufd, n, name); err != nil {
			return err
		}
		if same && len(t.pending) == depth {
			t.pending = t.pending[:depth-1] // nothing changed inside
		}
	}
	return nil
}

func (t *tarWriter) diffSubdir(lfd, ufd int, n, name string) error {
	lc, err := unix.Openat(lfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("open lower", name, err)
	}
	defer unix.Close(lc)
	uc, err := unix.Openat(ufd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pathErr("open", name, err)
	}
	defer unix.Close(uc)
	return t.diffDir(lc, uc, name)
}

// sameEntry tells whether n is unchanged from lfd to ufd. A directory's size
// and times say nothing about it (its contents are compared one by one).
func sameEntry(lfd, ufd int, n string, l, u *unix.Stat_t) (bool, error) {
	if l.Mode != u.Mode || l.Uid != u.Uid || l.Gid != u.Gid {
		return false, nil
	}
	if l.Mode&unix.S_IFMT != unix.S_IFDIR && (l.Size != u.Size || l.Mtim != u.Mtim || l.Rdev != u.Rdev) {
		return false, nil
	}
	if l.Mode&unix.S_IFMT == unix.S_IFLNK {
		lt, err := readlinkAt(lfd, n)
		if err != nil {
			return false, err
		}
		ut, err := readlinkAt(ufd, n)
		if err != nil || lt != ut {
			return false, err
		}
	}
	lx, err := getXattrs(lfd, n)
	if err != nil {
		return false, err
	}
	ux, err := getXattrs(ufd, n)
	if err != nil {
		return false, err
	}
	return maps.Equal(lx, ux), nil
}
