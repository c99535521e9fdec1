package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/oci"
	"github.com/berth-engine/berth/internal/volume"
)

// parseMounts turns a create's -v (Binds), --mount (Mounts) and the image's
// VOLUMEs into the container's mounts, as Docker resolves them: an absolute
// -v source is a bind (its directory made if missing), any other a named
// volume (created if missing), a lone path or an image VOLUME an anonymous
// volume; --mount refuses a missing bind source. Named volumes are created and
// referenced here; release undoes that on failure.
func (d *Daemon) parseMounts(ctx context.Context, id string, cfg *container.Config, hc *container.HostConfig) (ms []ctr.Mount, err error) {
	defer func() {
		if err != nil {
			d.releaseVolumes(context.WithoutCancel(ctx), id, ms, true)
			ms = nil
		}
	}()
	taken := func(dst string) bool {
		return slices.ContainsFunc(ms, func(m ctr.Mount) bool { return m.Destination == dst })
	}
	add := func(m ctr.Mount) error {
		m.Destination = filepath.Clean(m.Destination)
		if taken(m.Destination) {
			return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Duplicate mount point: %s", m.Destination))
		}
		if m.Type == string(mount.TypeVolume) {
			if err := d.useVolume(ctx, id, &m); err != nil {
				return err
			}
		}
		ms = append(ms, m)
		return nil
	}
	for _, b := range hc.Binds {
		m, err := parseBind(b)
		if err != nil {
			return ms, err
		}
		if m.Type == string(mount.TypeBind) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return ms, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error while creating mount source path '%s': %v", m.Source, err))
			}
		}
		if err := add(m); err != nil {
			return ms, err
		}
	}
	for _, am := range hc.Mounts {
		m, err := fromAPIMount(am)
		if err != nil {
			return ms, err
		}
		if err := add(m); err != nil {
			return ms, err
		}
	}
	for dst := range cfg.Volumes {
		if !filepath.IsAbs(dst) || taken(filepath.Clean(dst)) || slices.ContainsFunc(slices.Collect(mapKeys(hc.Tmpfs)), func(t string) bool { return filepath.Clean(t) == filepath.Clean(dst) }) {
			continue
		}
		if err := add(ctr.Mount{Type: string(mount.TypeVolume), Destination: dst, RW: true, Anonymous: true}); err != nil {
			return ms, err
		}
	}
	return ms, nil
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// useVolume creates the volume m names if missing (an anonymous one when it
// has no name) and records that container id uses it.
func (d *Daemon) useVolume(ctx context.Context, id string, m *ctr.Mount) error {
	labels := map[string]string{}
	if m.Name == "" {
		m.Anonymous = true
		labels[volume.LabelAnonymous] = ""
	}
	driver := m.Driver
	if driver == "" {
		driver = volume.DriverLocal
	}
	v, created, err := d.volumes.Create(ctx, m.Name, driver, m.DriverOpts, labels)
	if err != nil {
		return err
	}
	m.Name, m.Driver, m.Source = v.Name, v.Driver, v.Mountpoint
	if err := d.volumes.Acquire(ctx, v.Name, id); err != nil {
		return err
	}
	if created {
		d.volumeEvent(v.Name, eventtypes.ActionCreate)
	}
	return nil
}

// parseBind reads one -v: SRC:DST[:OPTS] or DST.
func parseBind(spec string) (ctr.Mount, error) {
	bad := func() (ctr.Mount, error) {
		return ctr.Mount{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid volume specification: '%s'", spec))
	}
	parts := strings.Split(spec, ":")
	var src, dst, opts string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, opts = parts[0], parts[1], parts[2]
	default:
		return bad()
	}
	if dst == "" {
		return bad()
	}
	if !filepath.IsAbs(dst) {
		return ctr.Mount{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid volume specification: '%s': invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", spec, dst))
	}
	m := ctr.Mount{Destination: dst, RW: true, Mode: opts}
	switch {
	case src == "":
		m.Type = string(mount.TypeVolume)
	case filepath.IsAbs(src):
		m.Type, m.Source = string(mount.TypeBind), filepath.Clean(src)
	default:
		if !validVolumeName(src) {
			return ctr.Mount{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", src, src))
		}
		m.Type, m.Name = string(mount.TypeVolume), src
	}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "":
		case "ro":
			m.RW = false
		case "rw":
			m.RW = true
		case "z", "Z":
			// SELinux relabelling: nothing to do without SELinux.
		case "nocopy":
			if m.Type != string(mount.TypeVolume) {
				return bad()
			}
			m.NoCopy = true
		case "shared", "rshared", "slave", "rslave", "private", "rprivate":
			if m.Type != string(mount.TypeBind) {
				return bad()
			}
			m.Propagation = o
		default:
			return bad()
		}
	}
	return m, nil
}

func validVolumeName(n string) bool {
	if len(n) < 2 {
		return false
	}
	for i, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i > 0 {
			ok = ok || c == '_' || c == '.' || c == '-'
		}
		if !ok {
			return false
		}
	}
	return true
}

// fromAPIMount reads one --mount.
func fromAPIMount(am mount.Mount) (ctr.Mount, error) {
	invalid := func(format string, args ...any) (ctr.Mount, error) {
		return ctr.Mount{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid mount config for type %q: ", am.Type) + fmt.Sprintf(format, args...))
	}
	if am.Target == "" {
		return invalid("field Target must not be empty")
	}
	if !filepath.IsAbs(am.Target) {
		return invalid("invalid mount path: '%s' mount path must be absolute", am.Target)
	}
	m := ctr.Mount{Type: string(am.Type), Destination: am.Target, RW: !am.ReadOnly}
	switch am.Type {
	case mount.TypeBind:
		if am.Source == "" {
			return invalid("field Source must not be empty")
		}
		if !filepath.IsAbs(am.Source) {
			return invalid("invalid mount path: '%s' mount path must be absolute", am.Source)
		}
		if _, err := os.Stat(am.Source); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				if am.BindOptions != nil && am.BindOptions.CreateMountpoint {
					if err := os.MkdirAll(am.Source, 0o755); err != nil {
						return invalid("%v", err)
					}
				} else {
					return invalid("bind source path does not exist: %s", am.Source)
				}
			} else {
				return invalid("%v", err)
			}
		}
		m.Source = filepath.Clean(am.Source)
		if am.BindOptions != nil {
			m.Propagation = string(am.BindOptions.Propagation)
			m.NonRecursive = am.BindOptions.NonRecursive
		}
	case mount.TypeVolume:
		if am.Source != "" && !validVolumeName(am.Source) {
			return invalid("invalid volume name %q", am.Source)
		}
		m.Name = am.Source
		if vo := am.VolumeOptions; vo != nil {
			m.NoCopy = vo.NoCopy
			if vo.DriverConfig != nil {
				m.Driver = vo.DriverConfig.Name
				m.DriverOpts = vo.DriverConfig.Options
			}
		}
	case mount.TypeTmpfs:
		if am.Source != "" {
			return invalid("field Source must not be specified")
		}
		var opts []string
		if to := am.TmpfsOptions; to != nil {
			if to.SizeBytes > 0 {
				opts = append(opts, fmt.Sprintf("size=%d", to.SizeBytes))
			}
			if to.Mode != 0 {
				opts = append(opts, fmt.Sprintf("mode=%o", to.Mode))
			}
		}
		m.Mode = strings.Join(opts, ",")
	default:
		return ctr.Mount{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("mount type unknown: %q", am.Type))
	}
	return m, nil
}

// resolveMounts makes the container's mounts ready for its spec: volumes
// mounted (a volume with mount options) and filled from the image on first
// use, binds and tmpfs as they are.
func (d *Daemon) resolveMounts(ctx context.Context, s *ctr.Container) ([]oci.Mount, error) {
	var out []oci.Mount
	for _, m := range s.Mounts {
		om := oci.Mount{Destination: m.Destination, ReadOnly: !m.RW, Propagation: mount.Propagation(m.Propagation), NonRecursive: m.NonRecursive}
		switch m.Type {
		case string(mount.TypeBind):
			om.Source = m.Source
		case string(mount.TypeVolume):
			dir, err := d.volumes.Mount(ctx, m.Name, s.ID)
			if err != nil {
				return nil, err
			}
			if !m.NoCopy {
				if _, err := d.volumes.Populate(ctx, m.Name, d.rootfsDir(s.ID), m.Destination); err != nil {
					return nil, err
				}
			}
			om.Source = dir
		case string(mount.TypeTmpfs):
			om.Tmpfs, om.TmpfsOptions = true, m.Mode
		}
		out = append(out, om)
	}
	return out, nil
}

// releaseMounts undoes resolveMounts when the container stops.
func (d *Daemon) releaseMounts(c *ctr.Container) {
	s := c.Snapshot()
	for _, m := range s.Mounts {
		if m.Type == string(mount.TypeVolume) {
			if err := d.volumes.Unmount(context.Background(), m.Name, s.ID); err != nil && !cerrdefs.IsNotFound(err) {
				d.log.Warn("unmount volume", "volume", m.Name, "container", s.ID, "err", err)
			}
		}
	}
}

// releaseVolumes drops container id's use of its volumes, removing the
// anonymous ones when removeAnonymous.
func (d *Daemon) releaseVolumes(ctx context.Context, id string, ms []ctr.Mount, removeAnonymous bool) {
	for _, m := range ms {
		if m.Type != string(mount.TypeVolume) || m.Name == "" {
			continue
		}
		if err := d.volumes.Release(ctx, m.Name, id); err != nil && !cerrdefs.IsNotFound(err) {
			d.log.Warn("release volume", "volume", m.Name, "container", id, "err", err)
			continue
		}
		if removeAnonymous && m.Anonymous {
			if err := d.volumes.Remove(ctx, m.Name, false); err == nil {
				d.volumeEvent(m.Name, eventtypes.ActionDestroy)
			}
		}
	}
}

// volumeEvent publishes a volume event as Docker's (the driver as attribute).
func (d *Daemon) volumeEvent(name string, action eventtypes.Action) {
	d.events.Publish(eventtypes.VolumeEventType, action, eventtypes.Actor{ID: name, Attributes: map[string]string{"driver": volume.DriverLocal}})
}

// volumeMountEvents publishes, for each volume s mounts, Docker's mount event
// (at start: container, destination, driver, propagation, read/write) or
// unmount event (at exit: container, driver).
func (d *Daemon) volumeMountEvents(s *ctr.Container, action eventtypes.Action) {
	for _, m := range s.Mounts {
		if m.Type != "volume" {
			continue
		}
		attrs := map[string]string{"driver": volume.DriverLocal, "container": s.ID}
		if action == eventtypes.ActionMount {
			attrs["destination"] = m.Destination
			attrs["propagation"] = m.Propagation
			attrs["read/write"] = strconv.FormatBool(m.RW)
		}
		d.events.Publish(eventtypes.VolumeEventType, action, eventtypes.Actor{ID: m.Name, Attributes: attrs})
	}
}
