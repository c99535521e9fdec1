package daemon

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/archive"
	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/oci"
	"github.com/berth-engine/berth/internal/snapshot"
)

// layerDirs are the two trees a container's changes are read from.
type layerDirs struct {
	// upper is the container's own layer: overlay's upper directory (changes
	// only, overlay's whiteouts), or with the copying snapshotter its full tree.
	upper string
	// lower is the image's root file system; "" for an image without layers,
	// or when not asked for.
	lower   string
	overlay bool
}

// stubPaths are paths of a container's root file system the runtime makes
// as mount points when the image lacks them, and the directories above them.
type stubPaths struct {
	paths   map[string]bool
	parents map[string]bool
}

func newStubPaths(paths ...string) stubPaths {
	m := stubPaths{paths: map[string]bool{}, parents: map[string]bool{}}
	for _, p := range paths {
		m.paths[p] = true
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			m.parents[d] = true
		}
	}
	return m
}

// runtimeStubs are the mount points every container gets (see package
// oci): what Docker keeps in its init layer.
var runtimeStubs = newStubPaths("/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", oci.InitPath)

// viewKeyPrefix starts the key of the view snapshots of images that diff
// and commit make; viewOwner then names the berthd process that made it.
const viewKeyPrefix = "fsview-"

var viewOwner = sync.OnceValue(func() string { return randomID(6) })

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// withLayer finds container s's layer and, when withLower (or for the copying
// snapshotter, whose layer is a full tree), the image's tree under it, and
// runs fn with them. The caller holds the container's lifecycle lock.
func (d *Daemon) withLayer(ctx context.Context, s *ctr.Container, withLower bool, fn func(layerDirs) error) error {
	mounts, err := d.snaps.Mounts(ctx, s.SnapshotKey)
	if err != nil {
		return fmt.Errorf("container %s: root file system: %w", s.ID, err)
	}
	var l layerDirs
	if len(mounts) == 1 {
		m := mounts[0]
		switch {
		case m.Type == "overlay":
			for _, o := range m.Options {
				if dir, ok := strings.CutPrefix(o, "upperdir="); ok {
					l.upper, l.overlay = dir, true
				}
			}
		case (m.Type == "bind" || m.Type == "rbind") && !m.ReadOnly():
			l.upper = m.Source
		}
	}
	if l.upper == "" {
		return fmt.Errorf("container %s: its layer's mounts %v name no directory to read: %w", s.ID, mounts, cerrdefs.ErrNotImplemented)
	}
	if l.overlay && !withLower {
		return fn(l)
	}
	info, err := d.snaps.Stat(ctx, s.SnapshotKey)
	if err != nil {
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	if info.Parent == "" {
		return fn(l)
	}
	d.removeStaleViews(ctx)
	key := viewKeyPrefix + viewOwner() + "-" + randomID(6)
	vm, err := d.snaps.View(ctx, key, info.Parent)
	if err != nil {
		return fmt.Errorf("container %s: view of its image: %w", s.ID, err)
	}
	defer func() {
		if err := d.snaps.Remove(context.WithoutCancel(ctx), key); err != nil {
			d.log.Warn("remove image view", "key", key, "err", err)
		}
	}()
	if len(vm) == 1 && (vm[0].Type == "bind" || vm[0].Type == "rbind") {
		l.lower = vm[0].Source // a single layer, or a full tree: no need to mount
		return fn(l)
	}
	target := filepath.Join(d.bundleDir(s.ID), key)
	if err := os.MkdirAll(target, 0o700); err != nil {
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	defer os.Remove(target)
	return mount.InSlaveNamespace(func() error {
		if err := mount.All(vm, target); err != nil {
			return fmt.Errorf("container %s: mount its image: %w", s.ID, err)
		}
		defer unix.Unmount(target, unix.MNT_DETACH)
		l.lower = target
		return fn(l)
	})
}

// removeStaleViews removes the view snapshots a berthd that is gone left
// behind (they would keep their image's layers from being collected).
func (d *Daemon) removeStaleViews(ctx context.Context) {
	mine := viewKeyPrefix + viewOwner() + "-"
	var stale []string
	d.snaps.Walk(ctx, func(_ context.Context, i snapshot.Info) error {
		if i.Kind == snapshot.KindView && strings.HasPrefix(i.Name, viewKeyPrefix) && !strings.HasPrefix(i.Name, mine) {
			stale = append(stale, i.Name)
		}
		return nil
	})
	for _, k := range stale {
		if err := d.snaps.Remove(ctx, k); err != nil && !cerrdefs.IsNotFound(err) {
			d.log.Warn("remove a stale image view", "key", k, "err", err)
		}
	}
}

// layerTar writes the container's changes as a layer tar (archive.Diff),
// without the runtime's mount points mp and the directories that only held
// them.
func layerTar(ctx context.Context, l layerDirs, mp stubPaths, w io.Writer) error {
	pr, pw := io.Pipe()
	go func() {
		lower := l.lower
		if l.overlay {
			lower = "" // the upper directory is the diff
		}
		pw.CloseWithError(archive.Diff(ctx, lower, l.upper, pw))
	}()
	err := filterLayer(pr, mp, w)
	pr.CloseWithError(err)
	return err
}

// filterLayer copies the layer tar r to w without the entries of mount points
// mp, nor the directories above them (mp.parents) unless something else
// changed in them.
func filterLayer(r io.Reader, mp stubPaths, w io.Writer) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	var pending []*tar.Header // directories above mount points, not written yet
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		p := path.Clean("/" + h.Name)
		for len(pending) > 0 && !strings.HasPrefix(p, path.Clean("/"+pending[len(pending)-1].Name)+"/") {
			pending = pending[:len(pending)-1]
		}
		victim := p
		if dir, base := path.Split(p); strings.HasPrefix(base, ".wh.") && base != ".wh..wh..opq" {
			victim = path.Join(dir, strings.TrimPrefix(base, ".wh."))
		}
		if mp.paths[victim] {
			continue
		}
		if h.Typeflag == tar.TypeDir && mp.parents[p] {
			pending = append(pending, h)
			continue
		}
		for _, ph := range pending {
			if err := tw.WriteHeader(ph); err != nil {
				return err
			}
		}
		pending = pending[:0]
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

// changes lists the changes of layer l as docker diff shows them.
func changes(l layerDirs, mp stubPaths) ([]container.FilesystemChange, error) {
	ufd, err := unix.Open(l.upper, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open layer: %w", err)
	}
	defer unix.Close(ufd)
	lfd := -1
	if l.lower != "" {
		if lfd, err = unix.Open(l.lower, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("open image tree: %w", err)
		}
		defer unix.Close(lfd)
	}
	w := &changeWalker{overlay: l.overlay, mp: mp}
	if err := w.dir(ufd, lfd, "/", false); err != nil {
		return nil, err
	}
	return w.out, nil
}

// changeWalker compares a layer with the image below it, directory by
// directory, in byte order. With overlay, the layer holds only what changed:
// an entry that also exists in the image is changed (C) unless both are
// directories, which are C only when their mode or owner differ; an entry
// only in the layer is added (A), with everything in it; a whiteout is a
// deletion (D), and an opaque directory deletes what the image had in it
// and the layer has not. Without overlay both are full trees and entries
// are compared by type, mode, owner, device, and for non-directories size,
// modification time and link target. Either way a directory holding changes
// is C itself, listed before them, and mount points the runtime made are
// left out.
type changeWalker struct {
	overlay bool
	mp      stubPaths
	out     []container.FilesystemChange
}

func (w *changeWalker) add(p string, k container.ChangeType) {
	w.out = append(w.out, container.FilesystemChange{Path: p, Kind: k})
}

// dir records the changes in directory p: ufd is the layer's, lfd the
// image's (-1 when the image has none there). opaque: the layer's directory
// hides the image's entries.
func (w *changeWalker) dir(ufd, lfd int, p string, opaque bool) error {
	unames, err := sortedNames(ufd)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	var lnames []string
	if lfd >= 0 && (!w.overlay || opaque) {
		if lnames, err = sortedNames(lfd); err != nil {
			return fmt.Errorf("%s (image): %w", p, err)
		}
	}
	for len(unames) > 0 || len(lnames) > 0 {
		var n string
		inU := false
		switch {
		case len(unames) == 0 || len(lnames) > 0 && lnames[0] < unames[0]:
			n, lnames = lnames[0], lnames[1:]
		case len(lnames) == 0 || unames[0] < lnames[0]:
			n, inU, unames = unames[0], true, unames[1:]
		default:
			n, inU, unames, lnames = unames[0], true, unames[1:], lnames[1:]
		}
		cp := path.Join(p, n)
		if w.mp.paths[cp] {
			continue
		}
		if !inU {
			w.add(cp, container.ChangeDelete)
			continue
		}
		if err := w.entry(ufd, lfd, n, cp, opaque); err != nil {
			return err
		}
	}
	return nil
}

// entry records the changes of n, present in the layer's directory ufd;
// hidden: ufd is opaque, or below an opaque directory, so nothing of the
// image's shows in n.
func (w *changeWalker) entry(ufd, lfd int, n, cp string, hidden bool) error {
	var ust, lst unix.Stat_t
	if err := unix.Fstatat(ufd, n, &ust, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("%s: %w", cp, err)
	}
	if w.overlay && ust.Mode&unix.S_IFMT == unix.S_IFCHR && ust.Rdev == 0 {
		w.add(cp, container.ChangeDelete)
		return nil
	}
	inL := false
	if lfd >= 0 {
		switch err := unix.Fstatat(lfd, n, &lst, unix.AT_SYMLINK_NOFOLLOW); err {
		case nil:
			inL = true
		case unix.ENOENT:
		default:
			return fmt.Errorf("%s (image): %w", cp, err)
		}
	}
	uDir := ust.Mode&unix.S_IFMT == unix.S_IFDIR
	lDir := inL && lst.Mode&unix.S_IFMT == unix.S_IFDIR
	var kind *container.ChangeType
	set := func(k container.ChangeType) { kind = &k }
	switch {
	case !inL:
		set(container.ChangeAdd)
	case uDir && lDir:
		if ust.Mode != lst.Mode || ust.Uid != lst.Uid || ust.Gid != lst.Gid {
			set(container.ChangeModify)
		}
	case w.overlay:
		set(container.ChangeModify) // copied up or replaced
	default:
		same, err := sameNonDir(ufd, lfd, n, &ust, &lst)
		if err != nil {
			return fmt.Errorf("%s: %w", cp, err)
		}
		if !same {
			set(container.ChangeModify)
		}
	}
	if !uDir {
		if kind != nil {
			w.add(cp, *kind)
		}
		return nil
	}
	// A directory: its changes, then itself before them if it changed, or
	// if anything in it did (a directory only holding mount points the
	// runtime made is no change).
	mark := len(w.out)
	cu, err := unix.Openat(ufd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", cp, err)
	}
	defer unix.Close(cu)
	cl, opaque := -1, hidden
	if lDir {
		if cl, err = unix.Openat(lfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("%s (image): %w", cp, err)
		}
		defer unix.Close(cl)
		if w.overlay && !opaque {
			if opaque, err = overlayOpaque(cu); err != nil {
				return fmt.Errorf("%s: %w", cp, err)
			}
			if opaque {
				set(container.ChangeModify)
			}
		}
	}
	if err := w.dir(cu, cl, cp, opaque); err != nil {
		return err
	}
	inside := len(w.out) > mark
	switch {
	case kind != nil && (inside || !w.mp.parents[cp]):
		w.out = slices.Insert(w.out, mark, container.FilesystemChange{Path: cp, Kind: *kind})
	case kind == nil && inside:
		w.out = slices.Insert(w.out, mark, container.FilesystemChange{Path: cp, Kind: container.ChangeModify})
	}
	return nil
}

// sameNonDir tells whether n is unchanged from the image (lfd) to the
// layer (ufd), neither being a pair of directories.
func sameNonDir(ufd, lfd int, n string, u, l *unix.Stat_t) (bool, error) {
	if u.Mode != l.Mode || u.Uid != l.Uid || u.Gid != l.Gid || u.Rdev != l.Rdev || u.Size != l.Size || u.Mtim != l.Mtim {
		return false, nil
	}
	if u.Mode&unix.S_IFMT != unix.S_IFLNK {
		return true, nil
	}
	ut, err := readlinkAt(ufd, n)
	if err != nil {
		return false, err
	}
	lt, err := readlinkAt(lfd, n)
	return ut == lt, err
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

// overlayOpaque tells whether the layer directory fd is opaque to overlayfs.
func overlayOpaque(fd int) (bool, error) {
	buf := make([]byte, 1)
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		n, err := unix.Fgetxattr(fd, attr, buf)
		switch err {
		case nil:
			if n == 1 && buf[0] == 'y' {
				return true, nil
			}
		case unix.ENODATA, unix.ENOTSUP, unix.ERANGE:
		default:
			return false, err
		}
	}
	return false, nil
}

// sortedNames lists the directory fd in byte order, through a descriptor of
// its own.
func sortedNames(fd int) ([]string, error) {
	f, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	dir := os.NewFile(uintptr(f), "dir")
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}
