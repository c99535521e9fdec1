package daemon

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	apimount "github.com/moby/moby/api/types/mount"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/archive"
	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/mount"
)

// fsView is a container's file system as docker cp sees it (see
// containerfs.go), valid while the function given to withView runs, on that
// function's thread.
type fsView struct {
	s    *ctr.Container
	root int // O_PATH descriptor of the view's root directory
}

// viewMount is one mount bound into a view.
type viewMount struct {
	dst, src  string
	rw        bool
	recursive bool
}

// running tells whether the container's root file system is mounted at
// rootfsDir (in berthd's namespace) because it runs. The caller holds its
// lifecycle lock.
func running(s *ctr.Container) bool {
	return s.State.Status == ctr.Running || s.State.Status == ctr.Paused
}

// withView builds the view of container s, with its mounts when withMounts,
// and runs fn in it. The caller holds the container's lifecycle lock.
func (d *Daemon) withView(ctx context.Context, s *ctr.Container, withMounts bool, fn func(*fsView) error) error {
	up := running(s)
	var rootMounts []mount.Mount
	if !up {
		var err error
		if rootMounts, err = d.snaps.Mounts(ctx, s.SnapshotKey); err != nil {
			return fmt.Errorf("container %s: root file system: %w", s.ID, err)
		}
	}
	var binds []viewMount
	if withMounts {
		var release func()
		var err error
		binds, release, err = d.viewMounts(ctx, s, up)
		if err != nil {
			return err
		}
		defer release()
	}
	target := d.rootfsDir(s.ID)
	if err := os.MkdirAll(target, 0o711); err != nil {
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	return mount.InSlaveNamespace(func() error {
		if !up {
			if err := mount.All(rootMounts, target); err != nil {
				return fmt.Errorf("container %s: mount root file system: %w", s.ID, err)
			}
			// Unmounted before the thread goes, so that a start right after
			// finds the layer free.
			defer unix.Unmount(target, unix.MNT_DETACH)
		}
		root, err := unix.Open(target, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("container %s: open root file system: %w", s.ID, err)
		}
		defer unix.Close(root)
		for _, b := range binds {
			if err := bindInto(root, b); err != nil {
				return fmt.Errorf("container %s: mount %s at %s: %w", s.ID, b.src, b.dst, err)
			}
		}
		if s.HostConfig != nil && s.HostConfig.ReadonlyRootfs {
			if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
				return fmt.Errorf("container %s: make the root read-only: %w", s.ID, err)
			}
		}
		return fn(&fsView{s: s, root: root})
	})
}

// viewMounts lists the mounts a view binds, parents first: the container's
// volumes and binds, and the files berthd manages (unless a mount of the user
// covers them). The volumes of a container that does not run are mounted for
// the view (a volume with mount options is not mounted otherwise); release
// undoes that.
func (d *Daemon) viewMounts(ctx context.Context, s *ctr.Container, up bool) ([]viewMount, func(), error) {
	var out []viewMount
	var mounted []string
	release := func() {
		for _, name := range mounted {
			if err := d.volumes.Unmount(context.WithoutCancel(ctx), name, s.ID); err != nil {
				d.log.Warn("unmount volume after a file operation", "volume", name, "container", s.ID, "err", err)
			}
		}
	}
	taken := map[string]bool{}
	for _, m := range s.Mounts {
		src := m.Source
		switch m.Type {
		case string(apimount.TypeBind):
		case string(apimount.TypeVolume):
			if !up {
				dir, err := d.volumes.Mount(ctx, m.Name, s.ID)
				if err != nil {
					release()
					return nil, nil, err
				}
				mounted = append(mounted, m.Name)
				src = dir
			}
		default:
			continue // tmpfs: what is under it shows, as in Docker's view
		}
		out = append(out, viewMount{dst: m.Destination, src: src, rw: m.RW, recursive: !m.NonRecursive})
		taken[m.Destination] = true
	}
	ro := s.HostConfig != nil && s.HostConfig.ReadonlyRootfs
	for _, f := range []struct{ src, dst string }{
		{s.ResolvConfPath, "/etc/resolv.conf"},
		{s.HostnamePath, "/etc/hostname"},
		{s.HostsPath, "/etc/hosts"},
	} {
		if f.src != "" && !taken[f.dst] {
			out = append(out, viewMount{dst: f.dst, src: f.src, rw: !ro})
		}
	}
	slices.SortStableFunc(out, func(a, b viewMount) int {
		return strings.Count(path.Clean(a.dst), "/") - strings.Count(path.Clean(b.dst), "/")
	})
	return out, release, nil
}

// bindInto binds m.src over m.dst of the view rooted at rootfd, making the
// mount point (resolved inside the root, as the runtime does) if it is
// missing. The bind is private (nothing mounted under it reaches its source)
// and read-only unless m.rw.
func bindInto(rootfd int, m viewMount) error {
	st, err := os.Stat(m.src)
	if err != nil {
		return err
	}
	kind := createFile
	if st.IsDir() {
		kind = createDir
	}
	w, err := walkInRoot(rootfd, m.dst, true, kind)
	if err != nil {
		return err
	}
	defer unix.Close(w.fd)
	flags := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
	setFlags := unix.AT_EMPTY_PATH
	if m.recursive {
		flags |= unix.AT_RECURSIVE
		setFlags |= unix.AT_RECURSIVE
	}
	tree, err := unix.OpenTree(unix.AT_FDCWD, m.src, uint(flags))
	if err == unix.ENOSYS {
		return bindIntoOld(w.fd, m)
	}
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Propagation: unix.MS_PRIVATE}
	if !m.rw {
		attr.Attr_set = unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.MountSetattr(tree, "", uint(setFlags), &attr); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	if err := unix.MoveMount(tree, "", w.fd, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// bindIntoOld is bindInto for kernels before 5.12, with mount(2) on the
// descriptor's path.
func bindIntoOld(target int, m viewMount) error {
	flags := uintptr(unix.MS_BIND)
	if m.recursive {
		flags |= unix.MS_REC
	}
	if err := unix.Mount(m.src, procFD(target), "", flags, ""); err != nil {
		return err
	}
	// Remounts refuse the descriptor's path: use the one it stands for, in
	// this private namespace, where nothing else mounts.
	p, err := os.Readlink(procFD(target))
	if err != nil {
		return err
	}
	if err := unix.Mount("", p, "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if !m.rw {
		return unix.Mount("", p, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, "")
	}
	return nil
}

// viewEntry is a path of the view, open as an O_PATH descriptor, with its stat.
type viewEntry struct {
	fd int
	st unix.Stat_t
}

func (e *viewEntry) close() { unix.Close(e.fd) }

// stat describes path p as docker cp's HEAD does.
func (v *fsView) stat(p string) (*container.PathStat, error) {
	st, e, err := v.statEntry(p)
	if err != nil {
		return nil, err
	}
	e.close()
	return st, nil
}

// statEntry finds p (its last component not followed) and describes it: its
// name is the last component of p, and for a symbolic link LinkTarget is the
// path it leads to, resolved as far as it exists.
func (v *fsView) statEntry(p string) (*container.PathStat, *viewEntry, error) {
	abs := cpPath(p)
	w, err := walkInRoot(v.root, abs, false, createNone)
	if err != nil {
		return nil, nil, err
	}
	e := &viewEntry{fd: w.fd}
	if err := unix.Fstat(w.fd, &e.st); err != nil {
		e.close()
		return nil, nil, err
	}
	target := ""
	if e.st.Mode&unix.S_IFMT == unix.S_IFLNK {
		t, err := walkInRoot(v.root, abs, true, createNone)
		if err != nil && err != unix.ENOENT {
			e.close()
			return nil, nil, err
		}
		if t.fd >= 0 {
			unix.Close(t.fd)
		}
		target = t.path
	}
	return pathStat(path.Base(abs), &e.st, target), e, nil
}

// header is the tar header of an entry of the view named name (nil for a
// socket: tar has no such entry).
func (v *fsView) header(e *viewEntry, name string) (*tar.Header, error) {
	return archive.StatHeader(name, &e.st, func() (string, error) { return readlinkFD(e.fd) })
}

// writeTar writes the entry e as docker cp's GET sends it: a tar whose top
// entry is named name, a directory's contents below it.
func (v *fsView) writeTar(ctx context.Context, e *viewEntry, name string, w io.Writer) error {
	tw := tar.NewWriter(w)
	top := name
	if e.st.Mode&unix.S_IFMT == unix.S_IFDIR && top != "/" {
		top += "/"
	}
	h, err := v.header(e, top)
	if err != nil {
		return err
	}
	if h == nil {
		return tw.Close()
	}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	switch h.Typeflag {
	case tar.TypeReg:
		f, err := os.Open(procFD(e.fd))
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, h.Size); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case tar.TypeDir:
		if err := v.tarContents(ctx, e.fd, strings.TrimSuffix(top, "/")+"/", tw); err != nil {
			return err
		}
	}
	return tw.Close()
}

// tarContents writes the contents of the directory dirfd to tw, each name
// prefixed with prefix. archive.Tar walks the directory on this (the view's)
// thread; its entries are renamed on the way.
func (v *fsView) tarContents(ctx context.Context, dirfd int, prefix string, tw *tar.Writer) error {
	pr, pw := io.Pipe()
	renamed := make(chan error, 1)
	go func() {
		tr := tar.NewReader(pr)
		err := func() error {
			for {
				h, err := tr.Next()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				h.Name = prefix + h.Name
				if h.Typeflag == tar.TypeLink {
					h.Linkname = prefix + h.Linkname
				}
				if err := tw.WriteHeader(h); err != nil {
					return err
				}
				if _, err := io.Copy(tw, tr); err != nil {
					return err
				}
			}
		}()
		pr.CloseWithError(err)
		renamed <- err
	}()
	err := archive.Tar(ctx, procFD(dirfd), pw)
	pw.CloseWithError(err)
	if rerr := <-renamed; err == nil {
		err = rerr
	}
	return err
}

// export writes the view's whole tree as docker export does.
func (v *fsView) export(ctx context.Context, w io.Writer) error {
	return archive.Tar(ctx, procFD(v.root), w)
}

// errNotDir is Docker's refusal of a cp into a file.
var errNotDir = cerrdefs.ErrInvalidArgument.WithMessage("extraction point is not a directory")

// extract unpacks the tar r into the directory opts.Path, as docker cp's PUT.
func (v *fsView) extract(ctx context.Context, opts ArchivePutOptions, r io.Reader) error {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return cerrdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	defer dr.Close()
	w, err := walkInRoot(v.root, cpPath(opts.Path), true, createNone)
	if err == unix.ENOENT {
		return errCpDestMissing
	}
	if err != nil {
		return err
	}
	var st unix.Stat_t
	err = unix.Fstat(w.fd, &st)
	unix.Close(w.fd)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return errNotDir
	}
	if err := writable(v.s, w.path); err != nil {
		return err
	}
	aopts := archive.ApplyOptions{Mode: archive.Native}
	if !opts.CopyUIDGID {
		aopts.IDMap = func(int, int) (int, int, error) { return 0, 0, nil }
	}
	pr, pw := io.Pipe()
	rebased := make(chan error, 1)
	go func() {
		err := v.rebase(dr, strings.TrimPrefix(w.path, "/"), opts.NoOverwriteDirNonDir, pw)
		pw.CloseWithError(err)
		rebased <- err
	}()
	_, err = archive.Apply(ctx, procFD(v.root), pr, aopts)
	pr.CloseWithError(errExtractEnded)
	if rerr := <-rebased; rerr != nil && !errors.Is(rerr, errExtractEnded) {
		return rerr // the reason, rather than Apply's echo of it
	}
	return err
}

var (
	// errCpDestMissing is a cp destination that does not exist.
	errCpDestMissing = errors.New("the destination does not exist")
	// errExtractEnded stops the rebasing of an archive Apply no longer reads.
	errExtractEnded = errors.New("extraction ended")
)

// writable refuses a copy into p (resolved) when the mount that holds it is
// read-only, in Docker's words.
func writable(s *ctr.Container, p string) error {
	best := -1
	for i, m := range s.Mounts {
		if (p == m.Destination || strings.HasPrefix(p, strings.TrimSuffix(m.Destination, "/")+"/")) &&
			(best < 0 || len(m.Destination) > len(s.Mounts[best].Destination)) {
			best = i
		}
	}
	if best >= 0 {
		if s.Mounts[best].RW {
			return nil
		}
		return cerrdefs.ErrInvalidArgument.WithMessage("mounted volume is marked read-only")
	}
	if s.HostConfig != nil && s.HostConfig.ReadonlyRootfs {
		return cerrdefs.ErrInvalidArgument.WithMessage("container rootfs is marked read-only")
	}
	return nil
}

// rebase copies the tar r to w with every entry moved below dest (a path
// relative to the view's root), so that Apply, working from the root,
// resolves links as the container does. It refuses entries that climb out of
// dest, and with noOverwrite the replacement of a directory by a
// non-directory or the reverse; it drops the tar's own root entry (the
// destination keeps its metadata, as with Docker) and whiteouts (cp copies
// files; it does not delete).
func (v *fsView) rebase(r io.Reader, dest string, noOverwrite bool, w io.Writer) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	shown := "/" + dest
	escapes := func(p string) bool { return p == ".." || strings.HasPrefix(p, "../") }
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cerrdefs.ErrInvalidArgument.WithMessage("read the archive: " + err.Error())
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name := path.Clean(strings.TrimLeft(h.Name, "/"))
		switch {
		case name == ".":
			continue
		case escapes(name):
			return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%q is outside of %q", h.Name, shown))
		case strings.HasPrefix(path.Base(name), ".wh."):
			continue
		}
		switch h.Typeflag {
		case tar.TypeLink:
			target := path.Clean(strings.TrimLeft(h.Linkname, "/"))
			if escapes(target) || target == "." {
				return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid hardlink %q -> %q", h.Name, h.Linkname))
			}
			h.Linkname = path.Join(dest, target)
		case tar.TypeSymlink:
			if escapes(path.Join(path.Dir(name), h.Linkname)) {
				return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid symlink %q -> %q", h.Name, h.Linkname))
			}
		}
		full := path.Join(dest, name)
		if noOverwrite {
			if err := v.checkOverwrite(full, h.Typeflag == tar.TypeDir, shown); err != nil {
				return err
			}
		}
		h.Name = full
		h.Format = tar.FormatUnknown // the longer name may need another format
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// checkOverwrite refuses to put a directory where a non-directory is, or the
// reverse, as Docker's NoOverwriteDirNonDir does.
func (v *fsView) checkOverwrite(p string, dir bool, dest string) error {
	w, err := walkInRoot(v.root, p, false, createNone)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil
	}
	if err != nil {
		return err
	}
	var st unix.Stat_t
	err = unix.Fstat(w.fd, &st)
	unix.Close(w.fd)
	if err != nil {
		return err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	switch {
	case isDir && !dir:
		return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot overwrite directory %q with non-directory %q", "/"+p, dest))
	case !isDir && dir:
		return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot overwrite non-directory %q with directory %q", "/"+p, dest))
	}
	return nil
}
