package daemon

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/logs"
	"github.com/berth-engine/berth/internal/network"
	"github.com/berth-engine/berth/internal/oci"
	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/runtime/cgroup"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/signals"
	"github.com/berth-engine/berth/internal/volume"
)

// The container part of the data root:
//
//	<data-root>/containers/<id>/   the record (internal/container), its log,
//	                               hostname, hosts and resolv.conf
//	<exec-root>/containers/<id>/   the bundle berth-runtime runs (config.json,
//	                               the mounted root file system) and the shim's
//	                               socket and exit record

// openContainers opens the container store and removes what a crash left of
// creations it cut short.
func (d *Daemon) openContainers() error {
	var err error
	if d.containers, err = ctr.Open(filepath.Join(d.cfg.DataRoot, "containers")); err != nil {
		return err
	}
	if d.volumes, err = volume.Open(filepath.Join(d.cfg.DataRoot, "volumes")); err != nil {
		return err
	}
	d.waiters = newStateWaiters()
	d.host = oci.ProbeHost()
	d.pending = map[string][]*pendingAttach{}
	d.execs = map[string]*execRecord{}
	rt := runtime.New(filepath.Join(d.cfg.ExecRoot, "runtime"))
	d.run = &runner{
		bin:   findRuntime(),
		rt:    rt,
		group: shim.NewGroup(filepath.Join(d.cfg.ExecRoot, "shims"), shimCapacity, 0),
		shims: map[string]*shim.Client{},
		ops:   map[string]*sync.Mutex{},
	}
	if d.run.bin != "" {
		rt.Self = d.run.bin
		if d.run.initBin, err = prepareInit(d.run.bin, filepath.Join(d.cfg.DataRoot, "docker-init")); err != nil {
			d.log.Warn("--init will not be available", "err", err)
		}
	}
	for _, id := range d.containers.Leftovers() {
		d.log.Info("removing an unfinished container", "id", id)
		d.images.RemoveRootfs(context.Background(), id)
		d.containers.RemoveDir(id)
		os.RemoveAll(d.bundleDir(id))
	}
	return nil
}

// bundleDir is where container id's OCI bundle and shim state live.
func (d *Daemon) bundleDir(id string) string {
	return filepath.Join(d.cfg.ExecRoot, "containers", id)
}

// containerActor is a container event's actor: its ID, with its name, image and
// labels as attributes, as Docker sends them.
func containerActor(c *ctr.Container, extra map[string]string) eventtypes.Actor {
	attrs := map[string]string{"name": strings.TrimPrefix(c.Name, "/"), "image": c.ImageRef}
	if c.Config != nil {
		for k, v := range c.Config.Labels {
			attrs[k] = v
		}
	}
	for k, v := range extra {
		attrs[k] = v
	}
	return eventtypes.Actor{ID: c.ID, Attributes: attrs}
}

func (d *Daemon) containerEvent(c *ctr.Container, action eventtypes.Action, extra map[string]string) {
	d.events.Publish(eventtypes.ContainerEventType, action, containerActor(c, extra))
}

// ContainerCreate makes a container: its record, a fresh writable layer over
// its image and the files berthd manages for it. Nothing runs yet. On any
// failure nothing is left: no record, name, layer or file.
func (d *Daemon) ContainerCreate(ctx context.Context, opts ContainerCreateOptions) (_ container.CreateResponse, err error) {
	if opts.Config == nil {
		return container.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage("config cannot be empty in order to create a container")
	}
	if opts.Config.Image == "" {
		return container.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage("no image specified")
	}
	// A start usually follows (docker run): its cgroup join is ~20 ms away, about the
	// kernel's time to ready its lock for it (see cgroup.PrimeMigration).
	go cgroup.PrimeMigration()
	hc := opts.HostConfig
	if hc == nil {
		hc = &container.HostConfig{}
	}
	img, err := d.images.Get(ctx, opts.Config.Image)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return container.CreateResponse{}, cerrdefs.ErrNotFound.WithMessage("No such image: " + familiarTagged(opts.Config.Image))
		}
		return container.CreateResponse{}, err
	}
	if p := opts.Platform; p != nil && (p.OS != "" && p.OS != img.Config.OS || p.Architecture != "" && p.Architecture != img.Config.Architecture) {
		return container.CreateResponse{}, cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("image with reference %s was found but its platform (%s) does not match the specified platform (%s)",
			opts.Config.Image, platformString(img.Config.Platform), platformString(*p)))
	}
	cfg := *opts.Config
	hcCopy := *hc
	hc = &hcCopy
	if err := oci.MergeImage(&cfg, &img.Config.Config); err != nil {
		return container.CreateResponse{}, err
	}
	path, args, err := command(&cfg)
	if err != nil {
		return container.CreateResponse{}, err
	}
	if err := validateHostConfig(hc); err != nil {
		return container.CreateResponse{}, err
	}
	if cfg.StopSignal != "" {
		if _, err := signals.Parse(cfg.StopSignal); err != nil {
			return container.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage("Invalid signal: " + cfg.StopSignal)
		}
	}
	if d.net != nil && (hc.NetworkMode == "" || hc.NetworkMode.IsDefault()) {
		hc.NetworkMode = network.DefaultBridgeName // recorded as Docker records it
	}
	endpoints, err := d.checkNetworks(hc, &cfg, opts.NetworkingConfig)
	if err != nil {
		return container.CreateResponse{}, err
	}
	if hc.LogConfig.Type == "" {
		// The daemon's default, recorded as Docker records it.
		hc.LogConfig.Type = d.defaultLogDriver()
		if len(hc.LogConfig.Config) == 0 {
			hc.LogConfig.Config = maps.Clone(d.cfg.LogOpts)
		}
	}
	id := d.containers.NewID()
	defaults := d.ociDefaults()
	oci.Adapt(id, &cfg, hc, defaults, d.host)
	warnings, err := oci.Validate(&cfg, hc, defaults, d.host)
	if err != nil {
		return container.CreateResponse{}, err
	}
	name, err := d.containers.ReserveName(opts.Name, id)
	if err != nil {
		return container.CreateResponse{}, err
	}
	defer func() {
		if err != nil {
			d.containers.ReleaseName(name, id)
		}
	}()
	dir := d.containers.Dir(id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return container.CreateResponse{}, fmt.Errorf("container %s: %w", id, err)
	}
	defer func() {
		if err != nil {
			d.containers.RemoveDir(id)
		}
	}()
	mounts, err := d.parseMounts(ctx, id, &cfg, hc)
	if err != nil {
		return container.CreateResponse{}, err
	}
	defer func() {
		if err != nil {
			d.releaseVolumes(context.WithoutCancel(ctx), id, mounts, true)
		}
	}()
	if _, err := d.images.PrepareRootfs(ctx, img.ID.String(), id); err != nil {
		return container.CreateResponse{}, err
	}
	defer func() {
		if err != nil {
			d.images.RemoveRootfs(context.WithoutCancel(ctx), id)
		}
	}()
	c := &ctr.Container{
		ID:            id,
		Name:          name,
		Created:       time.Now().UTC(),
		Image:         img.ID,
		ImageRef:      opts.Config.Image,
		Path:          path,
		Args:          args,
		Config:        &cfg,
		HostConfig:    hc,
		State:         ctr.State{Status: ctr.Created},
		Driver:        d.driver,
		SnapshotKey:   id,
		Mounts:        mounts,
		LogPath:       filepath.Join(dir, logs.FileName(logDriver(hc), id)),
		NetworkConfig: endpoints,
	}
	if err := logs.ValidateOpts(logDriver(hc), hc.LogConfig.Config); err != nil {
		return container.CreateResponse{}, err
	}
	if _, err := logs.ParseOptions(logDriver(hc), hc.LogConfig.Config); err != nil {
		return container.CreateResponse{}, err
	}
	if _, err := logAttrs(c); err != nil {
		return container.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	if err := d.writeManagedFiles(c); err != nil {
		return container.CreateResponse{}, err
	}
	if err := d.containers.Add(c); err != nil {
		return container.CreateResponse{}, err
	}
	d.containerEvent(c, eventtypes.ActionCreate, nil)
	return container.CreateResponse{ID: id, Warnings: nonNil(warnings)}, nil
}

// familiarTagged spells an image reference as Docker's "No such image" does:
// familiar, with the default tag ("busybox:latest").
func familiarTagged(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(reference.TagNameOnly(named))
}

func platformString(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// command is the program a container runs: its entrypoint followed by its cmd
// (an entrypoint of [""] is none).
func command(c *container.Config) (string, []string, error) {
	var argv []string
	if !(len(c.Entrypoint) == 1 && c.Entrypoint[0] == "") {
		argv = slices.Clone(c.Entrypoint)
	}
	argv = append(argv, c.Cmd...)
	if len(argv) == 0 {
		return "", nil, cerrdefs.ErrInvalidArgument.WithMessage("no command specified")
	}
	return argv[0], argv[1:], nil
}

// validateHostConfig refuses what Docker refuses before a container exists,
// and fills in the default runtime.
func validateHostConfig(hc *container.HostConfig) error {
	switch hc.RestartPolicy.Name {
	case "", container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if hc.RestartPolicy.MaximumRetryCount != 0 {
			return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid restart policy: maximum retry count can only be used with 'on-failure'"))
		}
	case container.RestartPolicyOnFailure:
		if hc.RestartPolicy.MaximumRetryCount < 0 {
			return cerrdefs.ErrInvalidArgument.WithMessage("invalid restart policy: maximum retry count cannot be negative")
		}
	default:
		return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid restart policy: unknown policy '%s'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'", hc.RestartPolicy.Name))
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return cerrdefs.ErrInvalidArgument.WithMessage("can't create 'AutoRemove' container with restart policy")
	}
	switch hc.Runtime {
	case "":
		hc.Runtime = runcAlias // inspect shows the runtime; Docker's clients expect runc's name
	case runtimeName, runcAlias:
	default:
		return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown or invalid runtime name: %s", hc.Runtime))
	}
	return nil
}

// writeManagedFiles writes the hostname, hosts and resolv.conf files the
// container gets bind-mounted; joinNetworks rewrites hosts and resolv.conf at each
// start, once the container's addresses are known.
func (d *Daemon) writeManagedFiles(c *ctr.Container) error {
	dir := d.containers.Dir(c.ID)
	c.HostnamePath = filepath.Join(dir, "hostname")
	c.HostsPath = filepath.Join(dir, "hosts")
	c.ResolvConfPath = filepath.Join(dir, "resolv.conf")
	files := map[string]string{
		c.HostnamePath:   c.Config.Hostname + "\n",
		c.HostsPath:      string(hostsFile(c, nil, d.hostGateway())),
		c.ResolvConfPath: resolvConf(),
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return fmt.Errorf("container %s: %w", c.ID, err)
		}
	}
	return nil
}

// resolvConf is the host's resolv.conf without loopback name servers (the
// container cannot reach them), or Google's public servers when none is left,
// as Docker does.
func resolvConf() string {
	data, _ := os.ReadFile("/etc/resolv.conf")
	var out []string
	servers := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if strings.HasPrefix(f[1], "127.") || f[1] == "::1" {
				continue
			}
			servers++
		}
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	if servers == 0 {
		out = append(out, "nameserver 8.8.8.8", "nameserver 8.8.4.4")
	}
	return strings.Join(out, "\n") + "\n"
}

// imageInUse names, for the image service, a container made from the image
// id (a running one if there is one) and whether it runs.
func (d *Daemon) imageInUse(id string) (string, bool) {
	if d.containers == nil {
		return "", false
	}
	user := ""
	for _, c := range d.containers.List() {
		s := c.Snapshot()
		if s.Image.String() != id {
			continue
		}
		if s.State.Running() {
			return s.ID, true
		}
		user = s.ID
	}
	return user, false
}
