package daemon

import (
	"context"
	"fmt"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	eventtypes "github.com/moby/moby/api/types/events"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-engine/berth/internal/volume"
)

// The volume verbs of the Engine API (docker volume create/ls/inspect/rm/
// prune), over the volume store (internal/volume). Containers create and
// reference volumes through parseMounts; these methods are what a user does
// with them directly. Each change is published as Docker publishes it: create
// when a volume is made (not when an existing one is returned), destroy for
// each volume removed, and one prune event, with the bytes reclaimed, after a
// prune.

// Volumes returns the volumes that match filters (docker volume ls --filter:
// name, label, label!, driver, dangling), sorted by name, and the warnings of
// drivers that could not be listed (never any: local is the only driver).
func (d *Daemon) Volumes(ctx context.Context, filters map[string][]string) ([]volumetypes.Volume, []string, error) {
	vols, err := d.volumes.List(ctx, volume.Filters(filters))
	if err != nil {
		return nil, nil, err
	}
	out := make([]volumetypes.Volume, 0, len(vols))
	for _, v := range vols {
		out = append(out, apiVolume(v))
	}
	return out, nil, nil
}

// VolumeCreate creates the volume req describes (an anonymous one when it
// has no name) or, when the name exists, returns that volume, as Docker does.
// Cluster volumes (req.ClusterVolumeSpec) are the API layer's to refuse.
func (d *Daemon) VolumeCreate(ctx context.Context, req volumetypes.CreateRequest) (*volumetypes.Volume, error) {
	v, created, err := d.volumes.Create(ctx, req.Name, req.Driver, req.DriverOpts, req.Labels)
	if err != nil {
		return nil, err
	}
	if created {
		d.volumeEvent(v.Name, eventtypes.ActionCreate)
	}
	av := apiVolume(v)
	return &av, nil
}

// VolumeInspect describes the volume name; a missing one is NotFound "get
// NAME: no such volume".
func (d *Daemon) VolumeInspect(ctx context.Context, name string) (*volumetypes.Volume, error) {
	v, err := d.volumes.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	av := apiVolume(v)
	return &av, nil
}

// VolumeRemove removes the volume name and its content. A volume a container
// uses is refused (Conflict "remove NAME: volume is in use - [IDs]"), force
// or not, as Docker does; force only makes a missing volume no error.
func (d *Daemon) VolumeRemove(ctx context.Context, name string, force bool) error {
	_, getErr := d.volumes.Get(ctx, name)
	err := d.volumes.Remove(ctx, name, force)
	// A removal can fail after the volume is forgotten (its directory could
	// not be deleted): it is gone for the user all the same.
	if getErr == nil {
		if _, after := d.volumes.Get(ctx, name); cerrdefs.IsNotFound(after) {
			d.volumeEvent(name, eventtypes.ActionDestroy)
		}
	}
	return err
}

// VolumesPrune removes the volumes no container uses that filters select:
// anonymous ones only, unless filters has all=true; label and label! narrow
// the choice. Volumes with mount options are never pruned (their data is not
// on this host), as Docker's.
func (d *Daemon) VolumesPrune(ctx context.Context, filters map[string][]string) (*volumetypes.PruneReport, error) {
	rep, err := d.volumes.Prune(ctx, volume.Filters(filters))
	if err != nil {
		return nil, err
	}
	for _, name := range rep.Deleted {
		d.volumeEvent(name, eventtypes.ActionDestroy)
	}
	d.events.Publish(eventtypes.VolumeEventType, eventtypes.ActionPrune, eventtypes.Actor{
		Attributes: map[string]string{"reclaimed": strconv.FormatUint(rep.SpaceReclaimed, 10)},
	})
	return &volumetypes.PruneReport{VolumesDeleted: rep.Deleted, SpaceReclaimed: rep.SpaceReclaimed}, nil
}

// volumesDiskUsage lists the volumes whose content is on this host, each with
// its UsageData (bytes and the number of containers using it), for docker
// system df. Volumes with mount options are left out, as Docker leaves them
// out: what they hold is another file system's.
func (d *Daemon) volumesDiskUsage(ctx context.Context) ([]volumetypes.Volume, error) {
	vols, err := d.volumes.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := make([]volumetypes.Volume, 0, len(vols))
	for _, v := range vols {
		u, err := d.volumes.Usage(ctx, v.Name)
		if cerrdefs.IsNotFound(err) {
			continue // removed since the list
		}
		if err != nil {
			return nil, fmt.Errorf("disk usage of volumes: %w", err)
		}
		if u.Size < 0 {
			continue // mount options: not measured here
		}
		av := apiVolume(v)
		av.UsageData = &volumetypes.UsageData{Size: u.Size, RefCount: u.RefCount}
		out = append(out, av)
	}
	return out, nil
}

// apiVolume is v as the Engine API shows it. Labels and Options are what
// the volume was created with, nil included (null in JSON, as Docker shows a
// volume created without them); the local driver reports no Status.
func apiVolume(v volume.Volume) volumetypes.Volume {
	return volumetypes.Volume{
		Name:       v.Name,
		Driver:     v.Driver,
		Mountpoint: v.Mountpoint,
		// Docker writes the daemon's local time, to the second.
		CreatedAt: v.CreatedAt.In(time.Local).Format(time.RFC3339),
		Labels:    v.Labels,
		Options:   v.Options,
		Scope:     v.Scope,
	}
}

// volumePlugins names the volume drivers, for docker info's Plugins.
func volumePlugins() []string { return []string{volume.DriverLocal} }
