package daemon

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	units "github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/storage"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/network"
)

// ContainerInspect describes a container in docker inspect's shape.
func (d *Daemon) ContainerInspect(ctx context.Context, name string, size bool) (*container.InspectResponse, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, err
	}
	s := c.Snapshot()
	r := &container.InspectResponse{
		ID:              s.ID,
		Created:         s.Created.Format(time.RFC3339Nano),
		Path:            s.Path,
		Args:            nonNil(s.Args),
		State:           inspectState(s.State),
		Image:           s.Image.String(),
		ResolvConfPath:  s.ResolvConfPath,
		HostnamePath:    s.HostnamePath,
		HostsPath:       s.HostsPath,
		LogPath:         s.LogPath,
		Name:            s.Name,
		RestartCount:    s.RestartCount,
		Driver:          s.Driver,
		Platform:        "linux",
		HostConfig:      s.HostConfig,
		GraphDriver:     &storage.DriverData{Name: s.Driver, Data: d.graphDriverData(ctx, s)},
		Mounts:          mountPoints(s.Mounts),
		Config:          s.Config,
		NetworkSettings: d.networkSettings(s),
	}
	if size {
		rw, root := d.containerSizes(ctx, s)
		r.SizeRw, r.SizeRootFs = &rw, &root
	}
	return r, nil
}

// graphDriverData names the directories of the container's root file system as
// docker inspect shows them for overlay2: the image's layers (LowerDir, topmost
// first), the writable layer (UpperDir), overlay's work directory (WorkDir) and
// where they are merged while the container runs (MergedDir). Empty for other
// snapshotters, or once the snapshot is gone.
func (d *Daemon) graphDriverData(ctx context.Context, s *ctr.Container) map[string]string {
	data := map[string]string{}
	mounts, err := d.snaps.Mounts(ctx, s.SnapshotKey)
	if err != nil || len(mounts) != 1 || mounts[0].Type != "overlay" {
		return data
	}
	keys := map[string]string{"lowerdir": "LowerDir", "upperdir": "UpperDir", "workdir": "WorkDir"}
	for _, o := range mounts[0].Options {
		k, v, ok := strings.Cut(o, "=")
		if name := keys[k]; ok && name != "" {
			data[name] = v
		}
	}
	data["MergedDir"] = d.rootfsDir(s.ID)
	return data
}

func inspectState(st ctr.State) *container.State {
	return &container.State{
		Status:     container.ContainerState(st.Status),
		Running:    st.Status == ctr.Running || st.Status == ctr.Paused,
		Paused:     st.Status == ctr.Paused,
		Restarting: st.Status == ctr.Restarting,
		OOMKilled:  st.OOMKilled,
		Dead:       st.Status == ctr.Dead,
		Pid:        st.Pid,
		ExitCode:   st.ExitCode,
		Error:      st.Error,
		StartedAt:  dockerTime(st.StartedAt),
		FinishedAt: dockerTime(st.FinishedAt),
		Health:     st.Health,
	}
}

// dockerTime formats a time as Docker's inspect does; the zero time too.
func dockerTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func mountPoints(ms []ctr.Mount) []container.MountPoint {
	out := []container.MountPoint{}
	for _, m := range ms {
		out = append(out, container.MountPoint{
			Type: mount.Type(m.Type), Name: m.Name, Source: m.Source, Destination: m.Destination,
			Driver: m.Driver, Mode: m.Mode, RW: m.RW, Propagation: mount.Propagation(m.Propagation),
		})
	}
	return out
}

// containerSizes are the bytes of the container's own layer and of its whole
// root file system (the image's layers with it), as docker ps -s shows them.
func (d *Daemon) containerSizes(ctx context.Context, c *ctr.Container) (rw, rootfs int64) {
	rw = d.layerSize(ctx, c)
	if img, err := d.images.Get(ctx, c.Image.String()); err == nil {
		rootfs = rw + img.Size
	}
	return rw, rootfs
}

// Containers lists containers as docker ps does: running ones, or all, newest
// first, filtered.
func (d *Daemon) Containers(ctx context.Context, opts ContainerListOptions) ([]container.Summary, error) {
	f, err := newContainerFilter(d, opts.Filters)
	if err != nil {
		return nil, err
	}
	out := []container.Summary{}
	all := d.containers.List()
	linkNames := d.linkNames(all)
	for i, c := range all {
		s := c.Snapshot()
		if !opts.All && opts.Limit <= 0 && !f.hasStatus && !s.State.Running() {
			continue
		}
		if !f.match(s, all[i+1:]) {
			continue
		}
		sum := d.summary(ctx, s, opts.Size)
		sum.Names = append(sum.Names, linkNames[s.ID]...)
		out = append(out, sum)
		if opts.Limit > 0 && len(out) == opts.Limit {
			break
		}
	}
	return out, nil
}

func (d *Daemon) summary(ctx context.Context, s *ctr.Container, size bool) container.Summary {
	// Arguments with a space in single quotes, as dockerd shows them.
	cmd := s.Path
	for _, a := range s.Args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		cmd += " " + a
	}
	sum := container.Summary{
		ID:      s.ID,
		Names:   []string{s.Name},
		Image:   s.ImageRef,
		ImageID: s.Image.String(),
		Command: cmd,
		Created: s.Created.Unix(),
		Ports:   portSummaries(s),
		Labels:  s.Config.Labels,
		State:   container.ContainerState(s.State.Status),
		Status:  statusText(s.State, time.Now()),
		Mounts:  mountPoints(s.Mounts),
	}
	if sum.Labels == nil {
		sum.Labels = map[string]string{}
	}
	sum.HostConfig.NetworkMode = string(s.HostConfig.NetworkMode)
	if sum.HostConfig.NetworkMode == "" {
		sum.HostConfig.NetworkMode = "none"
	}
	if ns := d.networkSettings(s); len(ns.Networks) > 0 {
		sum.NetworkSettings = &container.NetworkSettingsSummary{Networks: ns.Networks}
	}
	if size {
		sum.SizeRw, sum.SizeRootFs = d.containerSizes(ctx, s)
	}
	return sum
}

// statusText is docker ps's STATUS column.
func statusText(st ctr.State, now time.Time) string {
	ago := func(t time.Time) string { return units.HumanDuration(now.Sub(t)) }
	switch st.Status {
	case ctr.Running, ctr.Paused:
		s := "Up " + ago(st.StartedAt)
		if h := st.Health; h != nil {
			switch h.Status {
			case container.Starting:
				s += " (health: starting)"
			default:
				s += " (" + string(h.Status) + ")"
			}
		}
		if st.Status == ctr.Paused {
			s += " (Paused)"
		}
		return s
	case ctr.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, ago(st.FinishedAt))
	case ctr.Removing:
		return "Removal In Progress"
	case ctr.Dead:
		return "Dead"
	case ctr.Exited:
		if st.FinishedAt.IsZero() {
			return fmt.Sprintf("Exited (%d)", st.ExitCode)
		}
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, ago(st.FinishedAt))
	}
	return "Created"
}

// containerFilter is docker ps's --filter.
type containerFilter struct {
	d         *Daemon
	f         map[string][]string
	hasStatus bool
	before    *ctr.Container
	since     *ctr.Container
	names     []*regexp.Regexp           // name: regular expressions, as Docker's
	ports     map[string]map[string]bool // expose, publish: the ports named ("80/tcp")
}

var containerFilterKeys = []string{"ancestor", "before", "exited", "health", "id", "isolation", "is-task", "label", "name", "network", "publish", "expose", "since", "status", "volume"}

func newContainerFilter(d *Daemon, f map[string][]string) (*containerFilter, error) {
	cf := &containerFilter{d: d, f: f}
	for k, vs := range f {
		if !slices.Contains(containerFilterKeys, k) {
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
		for _, v := range vs {
			switch k {
			case "status":
				switch v {
				case "created", "restarting", "running", "removing", "paused", "exited", "dead":
				default:
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'status=%s'", v))
				}
				cf.hasStatus = true
			case "exited":
				if _, err := strconv.Atoi(v); err != nil {
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'exited=%s'", v))
				}
			case "health":
				switch v {
				case "starting", "healthy", "unhealthy", "none":
				default:
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unrecognised filter value for health: %s", v))
				}
			case "name":
				re, err := regexp.Compile(strings.TrimPrefix(v, "/"))
				if err != nil {
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'name=%s': %v", v, err))
				}
				cf.names = append(cf.names, re)
			case "expose", "publish":
				ports, err := portFilter(v)
				if err != nil {
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s=%s': %v", k, v, err))
				}
				if cf.ports == nil {
					cf.ports = map[string]map[string]bool{}
				}
				if cf.ports[k] == nil {
					cf.ports[k] = map[string]bool{}
				}
				maps.Copy(cf.ports[k], ports)
			case "is-task":
				if _, err := strconv.ParseBool(v); err != nil {
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'is-task=%s'", v))
				}
			case "before", "since":
				c, err := d.containers.Get(v)
				if err != nil {
					return nil, err
				}
				if k == "before" {
					cf.before = c.Snapshot()
				} else {
					cf.since = c.Snapshot()
				}
			}
		}
	}
	if len(f["exited"]) > 0 {
		cf.hasStatus = true
	}
	return cf, nil
}

// match tells whether s passes every filter; older are the containers created
// before s (for before/since).
func (cf *containerFilter) match(s *ctr.Container, older []*ctr.Container) bool {
	any := func(key string, ok func(v string) bool) bool {
		vs := cf.f[key]
		if len(vs) == 0 {
			return true
		}
		return slices.ContainsFunc(vs, ok)
	}
	name := strings.TrimPrefix(s.Name, "/")
	if len(cf.names) > 0 && !slices.ContainsFunc(cf.names, func(re *regexp.Regexp) bool { return re.MatchString(name) }) {
		return false
	}
	for key, want := range cf.ports {
		if !slices.ContainsFunc(portSummaries(s), func(p container.PortSummary) bool {
			return (key == "expose" || p.PublicPort != 0) && want[fmt.Sprintf("%d/%s", p.PrivatePort, p.Type)]
		}) {
			return false
		}
	}
	if !any("id", func(v string) bool { return strings.HasPrefix(s.ID, v) }) ||
		// Containers are never swarm tasks; isolation is always the default on Linux.
		!any("is-task", func(v string) bool { b, _ := strconv.ParseBool(v); return !b }) ||
		!any("isolation", func(v string) bool { return v == "default" || v == "process" }) ||
		!any("status", func(v string) bool { return v == string(s.State.Status) }) ||
		!any("exited", func(v string) bool {
			n, _ := strconv.Atoi(v)
			return s.State.Status == ctr.Exited && s.State.ExitCode == n
		}) ||
		!any("health", func(v string) bool {
			if s.State.Health == nil {
				return v == "none"
			}
			return v == string(s.State.Health.Status)
		}) ||
		!any("ancestor", func(v string) bool { return cf.d.isAncestor(v, s) }) ||
		!any("volume", func(v string) bool {
			return slices.ContainsFunc(s.Mounts, func(m ctr.Mount) bool { return m.Name == v || m.Destination == v })
		}) ||
		!any("network", func(v string) bool { return cf.onNetwork(s, v) }) {
		return false
	}
	for _, l := range cf.f["label"] {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := s.Config.Labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	if cf.before != nil && !s.Created.Before(cf.before.Created) {
		return false
	}
	if cf.since != nil && !s.Created.After(cf.since.Created) {
		return false
	}
	return true
}

// onNetwork tells whether the container is on the network named, or whose ID
// starts with v: its network mode, or any network it is connected to.
func (cf *containerFilter) onNetwork(s *ctr.Container, v string) bool {
	if v == string(s.HostConfig.NetworkMode) {
		return true
	}
	if s.Network == nil {
		return false
	}
	return slices.ContainsFunc(s.Network.Endpoints, func(ep network.Endpoint) bool {
		return ep.NetworkName == v || v != "" && strings.HasPrefix(ep.NetworkID, v)
	})
}

// portFilter reads an expose or publish filter's value, PORT[/PROTO] or
// START-END[/PROTO] (tcp when no protocol is given), into the ports it names
// ("80/tcp").
func portFilter(v string) (map[string]bool, error) {
	ports, proto, _ := strings.Cut(v, "/")
	if proto == "" {
		proto = "tcp"
	}
	lo, hi, isRange := strings.Cut(ports, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	end := start
	if err == nil && isRange {
		end, err = strconv.ParseUint(hi, 10, 16)
	}
	if err != nil || start == 0 || end < start {
		return nil, fmt.Errorf("invalid port %q", ports)
	}
	out := map[string]bool{}
	for p := start; p <= end; p++ {
		out[fmt.Sprintf("%d/%s", p, proto)] = true
	}
	return out, nil
}

// isAncestor tells whether the image ref (name or ID) is the image the
// container runs.
func (d *Daemon) isAncestor(ref string, s *ctr.Container) bool {
	if ref == s.ImageRef || familiarTagged(ref) == familiarTagged(s.ImageRef) {
		return true
	}
	img, err := d.images.Get(context.Background(), ref)
	return err == nil && img.ID == s.Image
}
