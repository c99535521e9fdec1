package daemon

// The container's file system through the API: docker cp (the archive
// routes), diff, export and commit.
//
// # Views
//
// cp works on the file system as the container sees it: its root file system
// with its volumes, binds and the files berthd manages (/etc/hosts,
// /etc/hostname, /etc/resolv.conf) mounted where the container has them.
// Those mounts live in the container's own mount namespace, out of berthd's
// reach, so each operation builds a view of its own, as Docker does: on an OS
// thread of its own it enters a new mount namespace (a slave of berthd's),
// finds the root file system there (mounted at <exec-root>/containers/<id>/rootfs
// while the container runs; mounted from its snapshot by the view when it
// does not), and binds each mount over it, read-only where the container has
// it read-only. tmpfs mounts are not in the view (what lies under them shows),
// nor are /proc, /sys and /dev. The namespace, and every mount in it, ends with
// the thread. The container's lifecycle lock is held meanwhile: it neither
// starts nor stops nor goes away under an operation.
//
// Paths are resolved inside the view's root as the container resolves them:
// ".." stops at the root, symbolic links (absolute ones from the root) are
// followed there, one component at a time from the descriptor of its parent,
// so nothing a process in the container does meanwhile leads outside.
//
// # The writable layer
//
// diff and commit read the container's writable layer where the snapshotter
// keeps it: overlay's upper directory (whiteouts are 0/0 character devices,
// opaque directories carry trusted.overlay.opaque=y), or, for the copying
// snapshotter, the container's full tree compared with the image's. The
// image's tree comes from a read-only view snapshot of the container's parent
// (key fsview-<process>-<random>, removed afterwards; views a killed berthd
// left are removed by the next one that needs one).
//
// The runtime makes mount points in the root file system when a container
// starts (/proc, /sys, /dev, the /etc files, /sbin/docker-init) if the image
// lacks them. Docker keeps those in a layer of their own below the
// container's; berth has them in the writable layer, and leaves them (and the
// directories made only to hold them) out of diff and commit. Mount points of
// the user's volumes and binds stay in, as Docker has them in the container's
// layer too.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/image"
)

// fileNotFound is Docker's answer when a cp path does not exist.
func fileNotFound(path, name string) error {
	return cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("Could not find the file %s in container %s", path, name))
}

// lockContainer finds the container name and takes its lifecycle lock; the
// caller calls the returned unlock.
func (d *Daemon) lockContainer(name string) (*ctr.Container, func(), error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, nil, err
	}
	op := d.run.opLock(c.ID)
	op.Lock()
	return c, op.Unlock, nil
}

// ContainerStatPath describes path in the container, as the HEAD of docker
// cp's archive route: its last component is not followed if it is a symbolic
// link (LinkTarget then says where the link leads, fully resolved inside the
// container).
func (d *Daemon) ContainerStatPath(ctx context.Context, name, path string) (*container.PathStat, error) {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var st *container.PathStat
	err = d.withView(ctx, c.Snapshot(), true, func(v *fsView) error {
		var serr error
		st, serr = v.stat(path)
		return serr
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fileNotFound(path, name)
	}
	return st, err
}

// ContainerArchivePath returns path in the container as a tar stream, as
// docker cp reads it: a directory as its own entry, named after its last
// component, with its contents below; anything else (a symbolic link too,
// not followed) as a single entry of that name. The stream is produced while
// it is read; closing it early stops it.
func (d *Daemon) ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, *container.PathStat, error) {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return nil, nil, err
	}
	s := c.Snapshot()
	type statResult struct {
		st  *container.PathStat
		err error
	}
	statc := make(chan statResult, 1)
	pr, pw := io.Pipe()
	done := make(chan struct{})
	// The view must outlive this call: it lives on its goroutine until the
	// tar is written or its reader goes away.
	go func() {
		defer close(done)
		defer unlock()
		sent := false
		err := d.withView(context.WithoutCancel(ctx), s, true, func(v *fsView) error {
			st, entry, err := v.statEntry(path)
			statc <- statResult{st, err}
			sent = true
			if err != nil {
				return err
			}
			defer entry.close()
			return v.writeTar(ctx, entry, st.Name, pw)
		})
		if !sent {
			statc <- statResult{nil, err}
		}
		pw.CloseWithError(err)
	}()
	res := <-statc
	if res.err != nil {
		pr.Close()
		<-done
		if errors.Is(res.err, fs.ErrNotExist) {
			return nil, nil, fileNotFound(path, name)
		}
		return nil, nil, res.err
	}
	d.containerEvent(s, eventtypes.ActionArchivePath, nil)
	return &waitingReader{PipeReader: pr, done: done}, res.st, nil
}

// waitingReader is a pipe whose Close also waits for its writer to finish.
type waitingReader struct {
	*io.PipeReader
	done chan struct{}
}

func (r *waitingReader) Close() error {
	err := r.PipeReader.Close()
	<-r.done
	return err
}

// ContainerExtractToDir unpacks the tar r (uncompressed, gzip or zstd) into
// the directory opts.Path of the container, as docker cp copies into it. The
// directory must exist (a symbolic link to one will do) and be writable: on a
// read-write volume or bind, or on the root file system of a container
// without --read-only. Entries may not climb out of it. Files are owned by
// root, or with CopyUIDGID by the owner the tar records; with
// NoOverwriteDirNonDir, neither a directory nor a non-directory is replaced
// by the other kind.
func (d *Daemon) ContainerExtractToDir(ctx context.Context, name string, opts ArchivePutOptions, r io.Reader) error {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return err
	}
	defer unlock()
	s := c.Snapshot()
	err = d.withView(ctx, s, true, func(v *fsView) error {
		return v.extract(ctx, opts, r)
	})
	if errors.Is(err, errCpDestMissing) {
		return fileNotFound(opts.Path, name)
	}
	if err != nil {
		return err
	}
	d.containerEvent(s, eventtypes.ActionExtractToDir, nil)
	return nil
}

// ContainerExport writes the container's whole root file system (the image's
// layers and its own, without its mounts) to w as a tar, as docker export.
func (d *Daemon) ContainerExport(ctx context.Context, name string, w io.Writer) error {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return err
	}
	defer unlock()
	s := c.Snapshot()
	if err := d.withView(ctx, s, false, func(v *fsView) error { return v.export(ctx, w) }); err != nil {
		return fmt.Errorf("export container %s: %w", s.ID, err)
	}
	d.containerEvent(s, eventtypes.ActionExport, nil)
	return nil
}

// ContainerChanges lists what the container changed in its image's file
// system, as docker diff: A for an added path, D for a deleted one, C for a
// changed one and for each directory holding a change, parents first, in
// byte order.
func (d *Daemon) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.Snapshot()
	var out []container.FilesystemChange
	err = d.withLayer(ctx, s, true, func(l layerDirs) error {
		out, err = changes(l, runtimeStubs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("changes of container %s: %w", s.ID, err)
	}
	if out == nil {
		out = []container.FilesystemChange{}
	}
	return out, nil
}

// ContainerCommit makes an image of the container: its image's layers plus
// one of the container's changes, its configuration merged with opts.Config
// and opts.Changes as Docker merges them, a history entry saying what the
// container ran. With opts.Pause a running container is frozen meanwhile. It
// returns the new image's ID.
func (d *Daemon) ContainerCommit(ctx context.Context, opts CommitOptions) (string, error) {
	ref := ""
	if opts.Repo != "" {
		var err error
		if ref, err = withTag(opts.Repo, opts.Tag); err != nil {
			return "", err
		}
	}
	c, unlock, err := d.lockContainer(opts.Container)
	if err != nil {
		return "", err
	}
	defer unlock()
	s := c.Snapshot()
	switch s.State.Status {
	case ctr.Dead:
		return "", cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot commit container %s which is Dead", s.ID))
	case ctr.Removing:
		return "", cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot commit container %s which is being removed", s.ID))
	}
	cfg, err := commitConfig(s, opts)
	if err != nil {
		return "", err
	}
	// A container that cannot be frozen (it exited as the commit began, say) is
	// committed as it is, as Docker does.
	paused := false
	if opts.Pause && s.State.Status == ctr.Running {
		if err := d.run.rt.Pause(s.ID); err != nil {
			if !gone(err) {
				d.log.Warn("commit without pausing", "id", s.ID, "err", err)
			}
		} else {
			paused = true
		}
	}
	if paused && d.swapStatus(c, ctr.Running, ctr.Paused) {
		d.containerEvent(s, eventtypes.ActionPause, nil)
		defer func() {
			if err := d.run.rt.Resume(s.ID); err != nil && !gone(err) {
				d.log.Warn("resume after commit", "id", s.ID, "err", err)
				return // still frozen: it stays paused
			}
			if d.swapStatus(c, ctr.Paused, ctr.Running) {
				d.containerEvent(s, eventtypes.ActionUnPause, nil)
			}
		}()
	} else if paused {
		d.run.rt.Resume(s.ID) // it exited as it was frozen: nothing to hold
	}

	// The layer is written by the view's thread while the image service reads it.
	pr, pw := io.Pipe()
	diffDone := make(chan struct{})
	go func() {
		defer close(diffDone)
		pw.CloseWithError(d.withLayer(ctx, s, false, func(l layerDirs) error {
			return layerTar(ctx, l, runtimeStubs, pw)
		}))
	}()
	img, err := d.images.Commit(ctx, image.CommitOptions{
		Parent:    s.Image.String(),
		Layer:     pr,
		Config:    cfg,
		Author:    opts.Author,
		Comment:   opts.Comment,
		CreatedBy: strings.Join(s.Config.Cmd, " "),
		Ref:       ref,
	})
	pr.CloseWithError(errors.New("commit ended"))
	<-diffDone
	if err != nil {
		return "", fmt.Errorf("commit container %s: %w", s.ID, err)
	}
	familiar := ""
	if ref != "" {
		familiar = familiarTagged(ref)
		d.events.Publish(eventtypes.ImageEventType, "tag", actor(familiar, nil))
	}
	d.containerEvent(s, eventtypes.ActionCommit, map[string]string{"comment": opts.Comment, "imageID": img.ID.String(), "imageRef": familiar})
	return img.ID.String(), nil
}
