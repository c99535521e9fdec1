package daemon

import (
	"context"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-engine/berth/internal/daemon/sysinfo"
)

// Defaults reported until the parts they describe say otherwise.
const (
	// runtimeName is the OCI runtime containers run with.
	runtimeName = "berth-runtime"
	// runcAlias is the runtime's name as Docker's clients and compose files
	// know it (docker run --runtime runc, HostConfig.Runtime "runc" by
	// default): berth-runtime takes runc's command line, so it answers to
	// runc's name, and goes by it unless asked for by its own.
	runcAlias = "runc"
	// indexServer is Docker Hub's index address, as docker info prints it.
	indexServer = "https://index.docker.io/v1/"
)

// SystemInfo returns the figures of `docker info`.
func (d *Daemon) SystemInfo(ctx context.Context) (*system.Info, error) {
	host := sysinfo.ReadHost()
	cg := sysinfo.ReadCgroups()
	counts := d.Counts(ctx)
	driver := d.driver
	security := []string{"name=seccomp,profile=builtin"}
	if cg.Version == "2" {
		// Containers get a private cgroup namespace by default on v2, as with dockerd.
		security = append(security, "name=cgroupns")
	}
	if d.cfg.NoNewPrivileges {
		security = append(security, "name=no-new-privileges")
	}
	info := &system.Info{
		ID:                 d.id,
		Containers:         counts.Containers,
		ContainersRunning:  counts.Running,
		ContainersPaused:   counts.Paused,
		ContainersStopped:  counts.Stopped,
		Images:             counts.Images,
		Driver:             driver,
		DriverStatus:       [][2]string{{"Backing Filesystem", sysinfo.BackingFilesystem(d.cfg.DataRoot)}},
		Plugins:            system.PluginsInfo{Volume: volumePlugins(), Network: []string{}, Log: []string{}},
		MemoryLimit:        cg.MemoryLimit,
		SwapLimit:          cg.SwapLimit,
		CPUCfsPeriod:       cg.CPUCfsPeriod,
		CPUCfsQuota:        cg.CPUCfsQuota,
		CPUShares:          cg.CPUShares,
		CPUSet:             cg.CPUSet,
		PidsLimit:          cg.PidsLimit,
		OomKillDisable:     cg.OomKillDisable,
		IPv4Forwarding:     sysinfo.IPv4Forwarding(),
		Debug:              d.cfg.Debug,
		NFd:                openFiles(),
		NGoroutines:        runtime.NumGoroutine(),
		SystemTime:         time.Now().Format(time.RFC3339Nano),
		LoggingDriver:      d.defaultLogDriver(),
		CgroupDriver:       "cgroupfs",
		CgroupVersion:      cg.Version,
		NEventsListener:    d.events.Subscribers(),
		KernelVersion:      host.KernelVersion,
		OperatingSystem:    host.OperatingSystem,
		OSVersion:          host.OSVersion,
		OSType:             "linux",
		Architecture:       host.Architecture,
		IndexServerAddress: indexServer,
		RegistryConfig:     d.registryConfig(),
		NCPU:               host.NCPU,
		MemTotal:           host.MemTotal,
		DockerRootDir:      d.cfg.DataRoot,
		HTTPProxy:          proxyEnv("HTTP_PROXY"),
		HTTPSProxy:         proxyEnv("HTTPS_PROXY"),
		NoProxy:            firstEnv("NO_PROXY", "no_proxy"),
		Name:               host.Hostname,
		Labels:             append([]string{}, d.cfg.Labels...),
		ServerVersion:      d.build.Version,
		Runtimes: map[string]system.RuntimeWithStatus{
			runtimeName: {Runtime: system.Runtime{Path: runtimeName}},
			runcAlias:   {Runtime: system.Runtime{Path: runtimeName}},
		},
		DefaultRuntime:  runcAlias,
		Swarm:           swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
		SecurityOptions: security,
		CDISpecDirs:     []string{},
		Warnings:        cg.Warnings(),
	}
	return info, nil
}

// registryConfig describes the registries as docker info shows them: Docker
// Hub with its mirrors, every insecure registry, and the insecure address
// ranges (loopback always, as with dockerd).
func (d *Daemon) registryConfig() *registry.ServiceConfig {
	mirrors := append([]string{}, d.cfg.RegistryMirrors...)
	rc := &registry.ServiceConfig{
		IndexConfigs: map[string]*registry.IndexInfo{
			"docker.io": {Name: "docker.io", Mirrors: mirrors, Secure: true, Official: true},
		},
		Mirrors: mirrors,
	}
	for _, r := range d.cfg.InsecureRegistries {
		if p, err := netip.ParsePrefix(r); err == nil {
			rc.InsecureRegistryCIDRs = append(rc.InsecureRegistryCIDRs, p.Masked())
			continue
		}
		rc.IndexConfigs[r] = &registry.IndexInfo{Name: r, Mirrors: []string{}, Secure: false}
	}
	rc.InsecureRegistryCIDRs = append(rc.InsecureRegistryCIDRs,
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("127.0.0.0/8"))
	return rc
}

// SystemVersion returns the engine's part of `docker version`; the API layer
// adds the API versions it serves.
func (d *Daemon) SystemVersion(ctx context.Context) system.VersionResponse {
	host := sysinfo.ReadHost()
	return system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "berth"},
		Version:       d.build.Version,
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GitCommit:     d.build.GitCommit,
		GoVersion:     runtime.Version(),
		KernelVersion: host.KernelVersion,
		BuildTime:     d.build.BuildTime,
	}
}

// DiskUsageOptions choose what SystemDiskUsage reports.
type DiskUsageOptions struct {
	Images, Containers, Volumes, BuildCache bool
}

// DiskUsage is what the objects of each kind hold on disk. A kind that was not
// asked for is nil.
type DiskUsage struct {
	// LayersSize is the bytes held by all image layers.
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

// SystemDiskUsage returns the disk usage of the kinds asked for, as docker
// system df shows it: images with the containers that use them and the size
// of their layers other images share, the layers' total counted once,
// containers with the size of their own layer, volumes with their usage.
func (d *Daemon) SystemDiskUsage(ctx context.Context, opts DiskUsageOptions) (*DiskUsage, error) {
	du := &DiskUsage{}
	var containers []container.Summary
	if opts.Images || opts.Containers {
		var err error
		if containers, err = d.Containers(ctx, ContainerListOptions{All: true, Size: opts.Containers}); err != nil {
			return nil, err
		}
	}
	if opts.Images {
		images, layersSize, err := d.imagesDiskUsage(ctx, containers)
		if err != nil {
			return nil, err
		}
		du.Images, du.LayersSize = images, layersSize
	}
	if opts.Containers {
		du.Containers = containers
	}
	if opts.Volumes {
		vols, err := d.volumesDiskUsage(ctx)
		if err != nil {
			return nil, err
		}
		du.Volumes = vols
	}
	if opts.BuildCache {
		du.BuildCache = []build.CacheRecord{}
	}
	return du, nil
}

// openFiles counts this process's open file descriptors.
func openFiles() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(entries)
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// proxyEnv returns the proxy named by the environment variable (upper or lower
// case) with any password masked, as dockerd shows it.
func proxyEnv(name string) string {
	v := firstEnv(name, strings.ToLower(name))
	u, err := url.Parse(v)
	if err != nil || u.User == nil {
		return v
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
