package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/writeback"
)

// Apply unpacks the uncompressed layer tar r into dir, translating whiteouts
// as opts.Mode says, and returns the layer's size as Docker reports it: the
// bytes of regular file content it wrote plus the length of each symbolic
// link's target (what a walk summing the files' sizes finds). It reads r to its very
// end, past the tar trailer, so a digest computed over r covers the whole
// stream. Ownership, permissions (set-id bits included), modification times,
// extended attributes, symbolic and hard links, devices and FIFOs are kept;
// directories get their times after their contents are written. Apply does not
// sync: the caller syncs the file system before it relies on the result.
func Apply(ctx context.Context, dir string, r io.Reader, opts ApplyOptions) (int64, error) {
	// A layer is applied to a snapshot's directory, never to a machine's root: a
	// mistaken caller must not get to whiteout /etc.
	if clean := filepath.Clean(dir); dir == "" || clean == "/" {
		return 0, fmt.Errorf("archive: refusing to apply a layer onto %q", dir)
	}
	rootfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	a := &applier{
		root:    rootfd,
		opts:    opts,
		created: map[string]struct{}{},
		buf:     make([]byte, 1<<20),
		cacheFd: -1,
		euid:    os.Geteuid(),
	}
	defer a.close()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return a.size, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return a.size, fmt.Errorf("read layer: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return a.size, fmt.Errorf("apply layer entry %q: %w", hdr.Name, err)
		}
	}
	if err := a.setDirTimes(); err != nil {
		return a.size, err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return a.size, fmt.Errorf("read layer: %w", err)
	}
	return a.size, nil
}

type dirTimes struct {
	name         string
	atime, mtime time.Time
}

type applier struct {
	root int
	opts ApplyOptions
	euid int
	size int64
	buf  []byte
	// created holds every path this layer wrote and their ancestors: the
	// entries its own whiteouts must not hide.
	created map[string]struct{}
	dirs    []dirTimes
	// The directory of the previous entry, kept open because entries come
	// grouped by directory. Removing anything clears cacheValid; the
	// descriptor stays open until the next lookup, as the current entry may
	// still be using it.
	cacheName  string
	cacheFd    int
	cacheValid bool
}

func (a *applier) close() {
	if a.cacheFd >= 0 {
		unix.Close(a.cacheFd)
	}
	unix.Close(a.root)
}

func pathErr(op, name string, err error) error {
	return &os.PathError{Op: op, Path: name, Err: err}
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	if name == "" {
		return nil // the root itself keeps the target directory's own metadata
	}
	parent, base := splitName(name)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return a.whiteout(hdr, parent, base)
	}
	pfd, err := a.parentDir(parent)
	if err != nil {
		return pathErr("open parent", parent, err)
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		err = a.mkdir(pfd, base, hdr)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		err = a.file(pfd, base, hdr, r)
	case tar.TypeSymlink:
		err = a.replace(pfd, base, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) })
		if err == nil {
			a.size += int64(len(hdr.Linkname))
			err = a.meta(pfd, base, hdr)
		}
	case tar.TypeLink:
		err = a.hardlink(pfd, base, hdr)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		ifmt := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		err = a.replace(pfd, base, func() error { return unix.Mknodat(pfd, base, ifmt, int(dev)) })
		if err == nil {
			err = a.meta(pfd, base, hdr)
		}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	if err != nil {
		return err
	}
	a.markCreated(name)
	return nil
}

func (a *applier) markCreated(name string) {
	for name != "" {
		if _, ok := a.created[name]; ok {
			return
		}
		a.created[name] = struct{}{}
		name, _ = splitName(name)
	}
}

// parentDir returns a descriptor of the directory name, creating it and its
// missing ancestors (0755, owned by root, or by the caller if it is not root)
// as needed. The descriptor belongs to
// the cache: the caller must not close it.
func (a *applier) parentDir(name string) (int, error) {
	if a.cacheValid && a.cacheName == name {
		return a.cacheFd, nil
	}
	fd, err := a.mkdirAll(name)
	if err != nil {
		return -1, err
	}
	if a.cacheFd >= 0 {
		unix.Close(a.cacheFd)
	}
	a.cacheFd, a.cacheName, a.cacheValid = fd, name, true
	return fd, nil
}

func (a *applier) mkdirAll(name string) (int, error) {
	fd, err := openDirInRoot(a.root, name)
	if err != unix.ENOENT {
		return fd, err
	}
	parent, base := splitName(name)
	pfd, err := a.mkdirAll(parent)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	switch err := unix.Mkdirat(pfd, base, 0o755); err {
	case nil:
		if a.opts.IDMap != nil || a.euid == 0 {
			// Unprivileged, the caller keeps them: it could not give them away.
			uid, gid, err := a.owner(0, 0)
			if err == nil {
				err = unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
			}
			if err != nil {
				return -1, err
			}
		}
		if err := unix.Fchmodat(pfd, base, 0o755, 0); err != nil {
			return -1, err
		}
	case unix.EEXIST: // a dangling symbolic link: the open below fails again
	default:
		return -1, err
	}
	return openDirInRoot(a.root, name)
}

// replace runs create, and if something is in the way, removes it (all of it,
// if it is a directory) and runs create again.
func (a *applier) replace(pfd int, base string, create func() error) error {
	err := create()
	if err != unix.EEXIST {
		return err
	}
	a.cacheValid = false
	if err := removeAllAt(pfd, base); err != nil {
		return pathErr("remove", base, err)
	}
	return create()
}

func (a *applier) mkdir(pfd int, base string, hdr *tar.Header) error {
	err := unix.Mkdirat(pfd, base, 0o700)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return pathErr("stat", base, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = nil // merge with the directory already there
		} else {
			err = a.replace(pfd, base, func() error { return unix.Mkdirat(pfd, base, 0o700) })
		}
	}
	if err != nil {
		return pathErr("mkdir", base, err)
	}
	if err := a.meta(pfd, base, hdr); err != nil {
		return err
	}
	return nil
}

func (a *applier) file(pfd int, base string, hdr *tar.Header, r io.Reader) error {
	fd := -1
	err := a.replace(pfd, base, func() error {
		var err error
		fd, err = unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return pathErr("create", base, err)
	}
	n, err := a.copyTo(fd, r)
	a.size += n
	if err != nil {
		unix.Close(fd)
		return err
	}
	if err := unix.Close(fd); err != nil {
		return pathErr("close", base, err)
	}
	return a.meta(pfd, base, hdr)
}

func (a *applier) copyTo(fd int, r io.Reader) (int64, error) {
	var total int64
	// Large files start on their way to the disk while they are written; the
	// caller's syncfs then has less to wait for.
	wb := writeback.New(uintptr(fd), 0)
	for {
		n, rerr := r.Read(a.buf)
		for b := a.buf[:n]; len(b) > 0; {
			w, err := unix.Write(fd, b)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return total, fmt.Errorf("write: %w", err)
			}
			b = b[w:]
			total += int64(w)
			wb.Wrote(w)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, fmt.Errorf("read layer: %w", rerr)
		}
	}
}

func (a *applier) hardlink(pfd int, base string, hdr *tar.Header) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	if target == "" {
		return fmt.Errorf("hardlink to the layer root")
	}
	tparent, tbase := splitName(target)
	tfd, err := openDirInRoot(a.root, tparent)
	if err != nil {
		return pathErr("open hardlink target", target, err)
	}
	defer unix.Close(tfd)
	// Without AT_SYMLINK_FOLLOW, a symbolic link target is linked itself,
	// never the file it points at.
	err = a.replace(pfd, base, func() error { return unix.Linkat(tfd, tbase, pfd, base, 0) })
	if err != nil {
		return pathErr("link", target, err)
	}
	return nil
}

func (a *applier) owner(uid, gid int) (int, int, error) {
	if a.opts.IDMap == nil {
		return uid, gid, nil
	}
	u, g, err := a.opts.IDMap(uid, gid)
	if err != nil {
		return 0, 0, fmt.Errorf("map owner %d:%d: %w", uid, gid, err)
	}
	return u, g, nil
}

// meta gives base (just created in pfd, never a hardlink) the header's owner,
// permissions, extended attributes and times; a directory's times wait until
// the end of the layer.
func (a *applier) meta(pfd int, base string, hdr *tar.Header) error {
	uid, gid, err := a.owner(hdr.Uid, hdr.Gid)
	if err != nil {
		return err
	}
	if err := unix.Fchownat(pfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathErr("chown", base, err)
	}
	if hdr.Typeflag != tar.TypeSymlink {
		// After chown, which clears set-id bits.
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode&0o7777), 0); err != nil {
			return pathErr("chmod", base, err)
		}
	}
	if err := setXattrs(pfd, base, hdr); err != nil {
		return err
	}
	atime, mtime := hdr.AccessTime, hdr.ModTime
	if atime.IsZero() {
		atime = mtime
	}
	if hdr.Typeflag == tar.TypeDir {
		name, _ := cleanName(hdr.Name)
		a.dirs = append(a.dirs, dirTimes{name: name, atime: atime, mtime: mtime})
		return nil
	}
	return setTimes(pfd, base, atime, mtime)
}

// overlayPrivate tells the extended attributes overlayfs keeps for itself: a
// layer must not bring them (a forged redirect or metacopy would let it reach
// into other layers), and Diff does not record them.
func overlayPrivate(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.")
}

func setXattrs(pfd int, base string, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattr)
		if !ok || overlayPrivate(name) {
			continue
		}
		err := unix.Lsetxattr(procPath(pfd, base), name, []byte(v), 0)
		if err == unix.ENOTSUP {
			continue // the file system has no extended attributes of this kind
		}
		if err != nil {
			return pathErr("setxattr "+name, base, err)
		}
	}
	return nil
}

// procPath names base in the directory pfd for the calls that take only a
// path (lsetxattr): the kernel resolves the descriptor, so the path cannot
// lead anywhere else.
func procPath(pfd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
}

var epoch = time.Unix(0, 0)

func timespec(t time.Time) unix.Timespec {
	if t.Before(epoch) {
		t = epoch
	}
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

func setTimes(pfd int, base string, atime, mtime time.Time) error {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return pathErr("utimes", base, err)
	}
	return nil
}

func (a *applier) setDirTimes() error {
	for _, d := range a.dirs {
		parent, base := splitName(d.name)
		pfd, err := openDirInRoot(a.root, parent)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			continue // removed later in the layer
		}
		if err != nil {
			return pathErr("open", parent, err)
		}
		err = setTimes(pfd, base, d.atime, d.mtime)
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return err
		}
	}
	return nil
}

// whiteout handles an entry named .wh.*: in parent, either the opaque marker
// or the removal of one name.
func (a *applier) whiteout(hdr *tar.Header, parent, base string) error {
	if base == opaqueMarker {
		return a.opaque(parent)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	victim := strings.TrimPrefix(base, whiteoutPrefix)
	if victim == "" || victim == "." || victim == ".." {
		return fmt.Errorf("invalid whiteout")
	}
	full := victim
	if parent != "" {
		full = parent + "/" + victim
	}
	if _, ok := a.created[full]; ok {
		// A whiteout hides only lower layers. If this layer made a directory
		// there, what the lower layers had in it still goes.
		return a.opaque(full)
	}
	if a.opts.Mode == Overlay {
		pfd, err := a.parentDir(parent)
		if err != nil {
			return pathErr("open parent", parent, err)
		}
		uid, gid, err := a.owner(hdr.Uid, hdr.Gid)
		if err != nil {
			return err
		}
		err = a.replace(pfd, victim, func() error { return unix.Mknodat(pfd, victim, unix.S_IFCHR, 0) })
		if err == nil {
			err = unix.Fchownat(pfd, victim, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
		}
		if err != nil {
			return pathErr("make whiteout", full, err)
		}
		return setTimes(pfd, victim, hdr.ModTime, hdr.ModTime)
	}
	pfd, err := openDirInRoot(a.root, parent)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil // nothing there to remove
	}
	if err != nil {
		return pathErr("open parent", parent, err)
	}
	defer unix.Close(pfd)
	a.cacheValid = false
	if err := removeAllAt(pfd, victim); err != nil {
		return pathErr("remove", full, err)
	}
	return nil
}

// opaque makes dir hide what the lower layers hold in it. A non-directory
// there (which a whiteout of a file this layer wrote leads to) is left alone.
func (a *applier) opaque(dir string) error {
	if a.opts.Mode == Overlay {
		fd, err := a.parentDir(dir)
		if err == unix.ENOTDIR {
			return nil
		}
		if err != nil {
			return pathErr("open", dir, err)
		}
		if err := unix.Fsetxattr(fd, overlayOpaque, []byte("y"), 0); err != nil {
			return pathErr("setxattr "+overlayOpaque, dir, err)
		}
		a.markCreated(dir)
		return nil
	}
	fd, err := openDirInRoot(a.root, dir)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil
	}
	if err != nil {
		return pathErr("open", dir, err)
	}
	defer unix.Close(fd)
	a.cacheValid = false
	return a.removeLower(fd, dir)
}

// removeLower removes from the directory fd (named dir) everything this layer
// did not write, descending into the directories it did.
func (a *applier) removeLower(fd int, dir string) error {
	names, err := readDirNames(fd)
	if err != nil {
		return pathErr("readdir", dir, err)
	}
	for _, n := range names {
		p := n
		if dir != "" {
			p = dir + "/" + n
		}
		if _, ok := a.created[p]; !ok {
			if err := removeAllAt(fd, n); err != nil {
				return pathErr("remove", p, err)
			}
			continue
		}
		cfd, err := unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOTDIR || err == unix.ELOOP {
			continue
		}
		if err != nil {
			return pathErr("open", p, err)
		}
		err = a.removeLower(cfd, p)
		unix.Close(cfd)
		if err != nil {
			return err
		}
	}
	return nil
}
