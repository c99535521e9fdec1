package daemon

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/timestamp"
)

// ContainerRemove removes a container: its record, writable layer, managed
// files and logs, and with RemoveVolumes its anonymous volumes. A running
// container is refused unless Force, which kills it first. With RemoveLink,
// name is a link's (/PARENT/ALIAS) and only that link goes.
func (d *Daemon) ContainerRemove(ctx context.Context, name string, opts RemoveOptions) error {
	if opts.RemoveLink {
		return d.removeLink(name)
	}
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	st := c.Snapshot().State
	if st.Running() {
		if !opts.Force {
			// dockerd 20.10's words: Docker's SDK test suites look for them
			// (later dockers say "cannot remove container ...: container is running").
			if st.Status == ctr.Paused {
				return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot remove a paused container %s. Unpause and then stop the container before attempting removal or force remove", c.ID))
			}
			return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.ID))
		}
		if err := d.killAndWait(ctx, c); err != nil {
			return fmt.Errorf("cannot remove container %q: could not kill: %w", c.Snapshot().Name, err)
		}
	}
	return d.removeContainer(ctx, c, opts.RemoveVolumes)
}

// removeContainer removes a container that does not run.
func (d *Daemon) removeContainer(ctx context.Context, c *ctr.Container, volumes bool) error {
	prev, err := markRemoving(c)
	if err != nil {
		return err
	}
	if err := d.removeFiles(ctx, c, volumes); err != nil {
		unmarkRemoving(c, prev)
		return err
	}
	if err := d.containers.Delete(c); err != nil {
		unmarkRemoving(c, prev)
		return err
	}
	d.forgotten(c)
	return nil
}

// autoRemove removes a container that stopped with --rm in the other order: its record
// first, so that the clients waiting for its removal (`docker run --rm`) are answered
// without waiting for its files (a metadata commit to disk among them). A crash in
// between leaves a directory without a record, which the next start removes.
func (d *Daemon) autoRemove(c *ctr.Container) error {
	prev, err := markRemoving(c)
	if err != nil {
		return err
	}
	if err := d.containers.Forget(c); err != nil {
		unmarkRemoving(c, prev)
		return err
	}
	d.forgotten(c)
	ctx := context.Background()
	if err := d.removeFiles(ctx, c, true); err != nil {
		return err // its directory stays, without a record: removed at the next start
	}
	return d.containers.RemoveDir(c.ID)
}

// markRemoving moves a container that does not run to Removing, returning its status
// before.
func markRemoving(c *ctr.Container) (ctr.Status, error) {
	c.Lock()
	defer c.Unlock()
	if c.State.Status == ctr.Removing {
		return "", cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("removal of container %s is already in progress", c.ID))
	}
	if c.State.Running() {
		return "", cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot remove container %q: container is running", c.Name))
	}
	prev := c.State.Status
	c.State.Status = ctr.Removing
	return prev, nil
}

func unmarkRemoving(c *ctr.Container, prev ctr.Status) {
	c.Lock()
	c.State.Status = prev
	c.Unlock()
}

// removeFiles removes what a container holds outside its record: its root file
// system, bundle and with volumes its anonymous volumes.
func (d *Daemon) removeFiles(ctx context.Context, c *ctr.Container, volumes bool) error {
	d.unmountRootfs(c.ID)
	if err := d.images.RemoveRootfs(context.WithoutCancel(ctx), c.SnapshotKey); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("cannot remove container %q: %w", c.Name, err)
	}
	if err := os.RemoveAll(d.bundleDir(c.ID)); err != nil {
		return fmt.Errorf("cannot remove container %q: %w", c.Name, err)
	}
	d.releaseVolumes(context.WithoutCancel(ctx), c.ID, c.Snapshot().Mounts, volumes)
	return nil
}

// forgotten tells the daemon's parts and clients that a container is gone.
func (d *Daemon) forgotten(c *ctr.Container) {
	d.run.forget(c.ID)
	d.waiters.changed(c.ID, false, true)
	d.containerEvent(c.Snapshot(), eventtypes.ActionDestroy, nil)
}

// ContainerRename gives a container a new name.
func (d *Daemon) ContainerRename(ctx context.Context, name, newName string) error {
	if newName == "" {
		return cerrdefs.ErrInvalidArgument.WithMessage("Neither old nor new names may be empty")
	}
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	c.Lock()
	defer c.Unlock()
	old := c.Name
	if strings.TrimPrefix(newName, "/") == strings.TrimPrefix(old, "/") {
		return cerrdefs.ErrInvalidArgument.WithMessage("Renaming a container with the same name as its current name")
	}
	n, err := d.containers.ReserveName(newName, c.ID)
	if err != nil {
		return err
	}
	if err := d.containers.Rename(c, n); err != nil {
		d.containers.ReleaseName(n, c.ID)
		return err
	}
	d.events.Publish(eventtypes.ContainerEventType, eventtypes.ActionRename, containerActor(c, map[string]string{"oldName": old}))
	return nil
}

// ContainersPrune removes every stopped container the filters (until, label,
// label!) select, as docker container prune does.
func (d *Daemon) ContainersPrune(ctx context.Context, filters map[string][]string) (*container.PruneReport, error) {
	match, err := pruneFilter(filters)
	if err != nil {
		return nil, err
	}
	rep := &container.PruneReport{ContainersDeleted: []string{}}
	for _, c := range d.containers.List() {
		s := c.Snapshot()
		if s.State.Running() || s.State.Status == ctr.Removing || !match(s) {
			continue
		}
		size := d.layerSize(ctx, s)
		if err := d.removeContainer(ctx, c, false); err != nil {
			d.log.Warn("container prune", "id", s.ID, "err", err)
			continue
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, s.ID)
		rep.SpaceReclaimed += uint64(size)
	}
	d.events.Publish(eventtypes.ContainerEventType, eventtypes.ActionPrune, eventtypes.Actor{Attributes: map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)}})
	return rep, nil
}

// layerSize is the size of the container's own layer as Docker counts it: the
// contents of the files the container wrote (so 0 for one that wrote nothing;
// the empty mount points of /etc/hosts and the like count nothing).
func (d *Daemon) layerSize(ctx context.Context, c *ctr.Container) int64 {
	if u, ok := d.snaps.(snapshot.Usager); ok {
		if usage, err := u.Usage(ctx, c.SnapshotKey); err == nil {
			return usage.Files
		}
	}
	return 0
}

// pruneUntil checks prune's filters (until, label, label!) and returns until's point
// in time (zero when not given).
func pruneUntil(f map[string][]string) (time.Time, error) {
	var until time.Time
	for k, vs := range f {
		switch k {
		case "label", "label!":
		case "until":
			for _, v := range vs {
				t, err := timestamp.Parse(v, time.Now())
				if err != nil {
					return time.Time{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("failed to parse value %q of filter 'until': %v", v, err))
				}
				until = t
			}
		default:
			return time.Time{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	return until, nil
}

// pruneFilter is prune's --filter: until (a time or a duration ago), label and
// label! (key or key=value).
func pruneFilter(f map[string][]string) (func(*ctr.Container) bool, error) {
	until, err := pruneUntil(f)
	if err != nil {
		return nil, err
	}
	return func(c *ctr.Container) bool {
		if !until.IsZero() && !c.Created.Before(until) {
			return false
		}
		return labelsMatch(c.Config.Labels, f)
	}, nil
}
