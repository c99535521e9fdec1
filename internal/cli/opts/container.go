package opts

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/spf13/pflag"
)

// Container holds the flags `create` and `run` share (docker's "container
// options"), registered on a flag set by NewContainer and turned into a
// create request by Parse.
type Container struct {
	attach, env, envFile, labelFile, volumes, tmpfs, volumesFrom *List
	capAdd, capDrop, groupAdd, securityOpt, storageOpt, logOpts  *List
	devices, deviceCgroupRules, publish, expose                  *List
	networks, aliases, links, dns, dnsSearch, dnsOptions, hosts  *List
	labels                                                       *List
	sysctls, annotations                                         *Map
	ulimits                                                      Ulimits
	mounts                                                       Mounts

	memory, memoryReservation, shmSize MemBytes
	memorySwap                         MemSwapBytes
	cpus                               NanoCPUs

	hostname, domainname, user, workdir, entrypoint                   string
	restart, stopSignal, logDriver, cidfile, cgroupParent, runtime    string
	ipc, pid, uts, userns, cgroupns, isolation, volumeDriver          string
	cpusetCpus, cpusetMems, macAddress, ipv4, ipv6, healthCmd         string
	stdin, tty, privileged, readOnly, rm, init, oomKillDisable        bool
	publishAll, noHealthcheck                                         bool
	stopTimeout, oomScoreAdj, healthRetries                           int
	cpuShares, cpuPeriod, cpuQuota, cpuRtPeriod, cpuRtRuntime         int64
	pidsLimit, swappiness                                             int64
	blkioWeight                                                       uint16
	healthInterval, healthTimeout, healthStartPeriod, healthStartIntv time.Duration
}

// Config is a parsed create request.
type Config struct {
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
}

// NewContainer registers the container flags on fs. lookup reads the
// client's environment for bare -e NAME values and env files.
func NewContainer(fs *pflag.FlagSet, lookup Lookup) *Container {
	c := &Container{
		attach: NewList(ValidateAttach), env: NewList(EnvValidator(lookup)), envFile: NewList(nil),
		labels: NewList(ValidateLabel), labelFile: NewList(nil), volumes: NewList(nil), tmpfs: NewList(nil),
		volumesFrom: NewList(nil), capAdd: NewList(nil), capDrop: NewList(nil), groupAdd: NewList(nil),
		securityOpt: NewList(nil), storageOpt: NewList(nil), logOpts: NewList(nil), devices: NewList(nil),
		deviceCgroupRules: NewList(ValidateDeviceCgroupRule), publish: NewList(nil), expose: NewList(nil),
		networks: NewList(nil), aliases: NewList(nil), links: NewList(nil), dns: NewList(ValidateIPAddress),
		dnsSearch: NewList(nil), dnsOptions: NewList(nil), hosts: NewList(ValidateExtraHost),
		sysctls: NewMap(ValidateSysctl), annotations: NewMap(nil),
	}
	// General
	fs.VarP(c.attach, "attach", "a", "Attach to STDIN, STDOUT or STDERR")
	fs.VarP(c.env, "env", "e", "Set environment variables")
	fs.Var(c.envFile, "env-file", "Read in a file of environment variables")
	fs.StringVar(&c.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.Var(c.groupAdd, "group-add", "Add additional groups to join")
	fs.StringVarP(&c.hostname, "hostname", "h", "", "Container host name")
	fs.StringVar(&c.domainname, "domainname", "", "Container NIS domain name")
	fs.BoolVarP(&c.stdin, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.VarP(c.labels, "label", "l", "Set meta data on a container")
	fs.Var(c.labelFile, "label-file", "Read in a line delimited file of labels")
	fs.BoolVar(&c.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVar(&c.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.StringVar(&c.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&c.stopTimeout, "stop-timeout", 0, "Timeout (in seconds) to stop a container")
	fs.Var(c.sysctls, "sysctl", "Sysctl options")
	fs.BoolVarP(&c.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.Var(&c.ulimits, "ulimit", "Ulimit options")
	fs.StringVarP(&c.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVarP(&c.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.BoolVar(&c.rm, "rm", false, "Automatically remove the container and its associated anonymous volumes when it exits")
	fs.Var(c.annotations, "annotation", "Add an annotation to the container (passed through to the OCI runtime)")
	// Security
	fs.Var(c.capAdd, "cap-add", "Add Linux capabilities")
	fs.Var(c.capDrop, "cap-drop", "Drop Linux capabilities")
	fs.BoolVar(&c.privileged, "privileged", false, "Give extended privileges to this container")
	fs.Var(c.securityOpt, "security-opt", "Security Options")
	fs.StringVar(&c.userns, "userns", "", "User namespace to use")
	fs.StringVar(&c.cgroupns, "cgroupns", "", "Cgroup namespace to use (host|private)\n'host':    Run the container in the host's cgroup namespace\n'private': Run the container in its own private cgroup namespace\n'':        Use the cgroup namespace as configured by the\n           default-cgroupns-mode option on the daemon (default)")
	// Network
	fs.Var(c.hosts, "add-host", "Add a custom host-to-IP mapping (host:ip)")
	fs.Var(c.dns, "dns", "Set custom DNS servers")
	fs.Var(c.dnsOptions, "dns-option", "Set DNS options")
	fs.Var(c.dnsOptions, "dns-opt", "Set DNS options")
	fs.MarkHidden("dns-opt")
	fs.Var(c.dnsSearch, "dns-search", "Set custom DNS search domains")
	fs.Var(c.expose, "expose", "Expose a port or a range of ports")
	fs.StringVar(&c.ipv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&c.ipv6, "ip6", "", "IPv6 address (e.g., 2001:db8::33)")
	fs.Var(c.links, "link", "Add link to another container")
	fs.StringVar(&c.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.VarP(c.publish, "publish", "p", "Publish a container's port(s) to the host")
	fs.BoolVarP(&c.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.Var(c.networks, "network", "Connect a container to a network")
	fs.Var(c.networks, "net", "Connect a container to a network")
	fs.MarkHidden("net")
	fs.Var(c.aliases, "network-alias", "Add network-scoped alias for the container")
	fs.Var(c.aliases, "net-alias", "Add network-scoped alias for the container")
	fs.MarkHidden("net-alias")
	// Logging and storage
	fs.StringVar(&c.logDriver, "log-driver", "", "Logging driver for the container")
	fs.Var(c.logOpts, "log-opt", "Log driver options")
	fs.StringVar(&c.volumeDriver, "volume-driver", "", "Optional volume driver for the container")
	fs.Var(c.storageOpt, "storage-opt", "Storage driver options for the container")
	fs.Var(c.tmpfs, "tmpfs", "Mount a tmpfs directory")
	fs.Var(c.volumesFrom, "volumes-from", "Mount volumes from the specified container(s)")
	fs.VarP(c.volumes, "volume", "v", "Bind mount a volume")
	fs.Var(&c.mounts, "mount", "Attach a filesystem mount to the container")
	// Health
	fs.StringVar(&c.healthCmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&c.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fs.IntVar(&c.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.DurationVar(&c.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.DurationVar(&c.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.DurationVar(&c.healthStartIntv, "health-start-interval", 0, "Time between running the check during the start period (ms|s|m|h) (default 0s)")
	fs.BoolVar(&c.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	// Resources
	fs.Uint16Var(&c.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	fs.StringVar(&c.cidfile, "cidfile", "", "Write the container ID to the file")
	fs.StringVar(&c.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&c.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&c.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&c.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.Int64Var(&c.cpuRtPeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	fs.Int64Var(&c.cpuRtRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	fs.Int64VarP(&c.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Var(&c.cpus, "cpus", "Number of CPUs")
	fs.Var(c.devices, "device", "Add a host device to the container")
	fs.Var(c.deviceCgroupRules, "device-cgroup-rule", "Add a rule to the cgroup allowed devices list")
	fs.VarP(&c.memory, "memory", "m", "Memory limit")
	fs.Var(&c.memoryReservation, "memory-reservation", "Memory soft limit")
	fs.Var(&c.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.Int64Var(&c.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	fs.BoolVar(&c.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	fs.IntVar(&c.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fs.Int64Var(&c.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	// Low-level execution
	fs.StringVar(&c.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fs.StringVar(&c.ipc, "ipc", "", "IPC mode to use")
	fs.StringVar(&c.isolation, "isolation", "", "Container isolation technology")
	fs.StringVar(&c.pid, "pid", "", "PID namespace to use")
	fs.Var(&c.shmSize, "shm-size", "Size of /dev/shm")
	fs.StringVar(&c.uts, "uts", "", "UTS namespace to use")
	fs.StringVar(&c.runtime, "runtime", "", "Runtime to use for this container")
	fs.BoolVar(&c.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	return c
}

// Attach returns the streams named by -a (lower case, in order).
func (c *Container) Attach() []string { return c.attach.Values() }

// AutoRemove reports whether --rm was given.
func (c *Container) AutoRemove() bool { return c.rm }

// Parse builds the create request for image and its command args from the
// flags of fs (which NewContainer filled). lookup reads the client's
// environment, for env files.
func (c *Container) Parse(fs *pflag.FlagSet, image string, args []string, lookup Lookup) (*Config, error) {
	attachStdin := c.attach.Contains("stdin") || c.stdin
	attachStdout, attachStderr := c.attach.Contains("stdout"), c.attach.Contains("stderr")
	if c.attach.Len() == 0 {
		attachStdout, attachStderr = true, true
	}
	if c.macAddress != "" {
		if _, err := net.ParseMAC(strings.TrimSpace(c.macAddress)); err != nil {
			return nil, fmt.Errorf("%s is not a valid mac address", c.macAddress)
		}
	}
	if c.swappiness != -1 && (c.swappiness < 0 || c.swappiness > 100) {
		return nil, fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", c.swappiness)
	}

	// -v: a spec with a source is a bind (or named volume) for HostConfig;
	// one without is an anonymous volume of Config.
	var binds []string
	var volumes map[string]struct{}
	for _, spec := range c.volumes.Values() {
		v, err := ParseVolume(spec)
		if err != nil {
			return nil, err
		}
		if v.Source == "" {
			if volumes == nil {
				volumes = map[string]struct{}{}
			}
			volumes[spec] = struct{}{}
			continue
		}
		if v.Bind && !filepath.IsAbs(v.Source) && strings.HasPrefix(v.Source, ".") {
			if abs, err := filepath.Abs(v.Source); err == nil {
				spec = abs + strings.TrimPrefix(spec, v.Source)
			}
		}
		binds = append(binds, spec)
	}

	var tmpfs map[string]string
	for _, t := range c.tmpfs.Values() {
		if tmpfs == nil {
			tmpfs = map[string]string{}
		}
		k, v, _ := strings.Cut(t, ":")
		tmpfs[k] = v
	}

	var entrypoint []string
	if c.entrypoint != "" {
		entrypoint = []string{c.entrypoint}
	} else if fs.Changed("entrypoint") {
		entrypoint = []string{""} // --entrypoint= resets the image's
	}
	if len(args) == 0 {
		args = nil
	}

	ports, bindings, err := ParsePorts(c.publish.Values(), c.expose.Values())
	if err != nil {
		return nil, err
	}

	devices := []container.DeviceMapping{}
	for _, d := range c.devices.Values() {
		m, err := ParseDevice(d)
		if err != nil {
			return nil, err
		}
		devices = append(devices, m)
	}

	env, err := readKV(c.envFile.Values(), c.env.Values(), lookup)
	if err != nil {
		return nil, err
	}
	labels, err := readKV(c.labelFile.Values(), c.labels.Values(), nil)
	if err != nil {
		return nil, err
	}

	pid, uts, userns, cgroupns := container.PidMode(c.pid), container.UTSMode(c.uts), container.UsernsMode(c.userns), container.CgroupnsMode(c.cgroupns)
	switch {
	case !pid.Valid():
		return nil, errors.New("--pid: invalid PID mode")
	case !uts.Valid():
		return nil, errors.New("--uts: invalid UTS mode")
	case !userns.Valid():
		return nil, errors.New("--userns: invalid USER mode")
	case !cgroupns.Valid():
		return nil, errors.New("--cgroupns: invalid CGROUP mode")
	}

	restart, err := ParseRestartPolicy(c.restart)
	if err != nil {
		return nil, err
	}
	logOpts := KVMap(c.logOpts.Values())
	if c.logDriver == "none" && c.logOpts.Len() > 0 {
		return nil, fmt.Errorf("invalid logging opts for driver %s", c.logDriver)
	}
	securityOpts, unmask, err := ParseSecurityOpts(c.securityOpt.Values())
	if err != nil {
		return nil, err
	}
	var maskedPaths, readonlyPaths []string
	if unmask {
		maskedPaths, readonlyPaths = []string{}, []string{}
	}
	storageOpts := map[string]string{}
	for _, o := range c.storageOpt.Values() {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return nil, errors.New("invalid storage option")
		}
		storageOpts[k] = v
	}

	health, err := c.healthcheck()
	if err != nil {
		return nil, err
	}

	config := &container.Config{
		Hostname:     c.hostname,
		Domainname:   c.domainname,
		ExposedPorts: ports,
		User:         c.user,
		Tty:          c.tty,
		OpenStdin:    c.stdin,
		AttachStdin:  attachStdin,
		AttachStdout: attachStdout,
		AttachStderr: attachStderr,
		Env:          orEmpty(env),
		Cmd:          args,
		Image:        image,
		Volumes:      volumes,
		Entrypoint:   entrypoint,
		WorkingDir:   c.workdir,
		Labels:       KVMap(labels),
		StopSignal:   c.stopSignal,
		Healthcheck:  health,
	}
	if fs.Changed("stop-timeout") {
		t := c.stopTimeout
		config.StopTimeout = &t
	}
	// With stdin attached and kept open, it closes when the client detaches.
	if config.OpenStdin && config.AttachStdin {
		config.StdinOnce = true
	}

	swappiness, oomKillDisable, pidsLimit := c.swappiness, c.oomKillDisable, c.pidsLimit
	dns := []netip.Addr{}
	for _, s := range c.dns.Values() {
		a, _ := netip.ParseAddr(s) // checked as the flag was parsed
		dns = append(dns, a)
	}
	host := &container.HostConfig{
		Binds:           binds,
		ContainerIDFile: c.cidfile,
		OomScoreAdj:     c.oomScoreAdj,
		AutoRemove:      c.rm,
		Privileged:      c.privileged,
		PortBindings:    bindings,
		Links:           c.links.Values(),
		PublishAllPorts: c.publishAll,
		DNS:             dns,
		DNSSearch:       orEmpty(c.dnsSearch.Values()),
		DNSOptions:      orEmpty(c.dnsOptions.Values()),
		ExtraHosts:      c.hosts.Values(),
		VolumesFrom:     c.volumesFrom.Values(),
		IpcMode:         container.IpcMode(c.ipc),
		NetworkMode:     container.NetworkMode(c.networkMode()),
		PidMode:         pid,
		UTSMode:         uts,
		UsernsMode:      userns,
		CgroupnsMode:    cgroupns,
		CapAdd:          c.capAdd.Values(),
		CapDrop:         c.capDrop.Values(),
		GroupAdd:        c.groupAdd.Values(),
		RestartPolicy:   restart,
		SecurityOpt:     securityOpts,
		StorageOpt:      storageOpts,
		ReadonlyRootfs:  c.readOnly,
		LogConfig:       container.LogConfig{Type: c.logDriver, Config: logOpts},
		VolumeDriver:    c.volumeDriver,
		Isolation:       container.Isolation(c.isolation),
		ShmSize:         int64(c.shmSize),
		Tmpfs:           tmpfs,
		Sysctls:         c.sysctls.Values(),
		Runtime:         c.runtime,
		Mounts:          c.mounts.Values(),
		MaskedPaths:     maskedPaths,
		ReadonlyPaths:   readonlyPaths,
		Annotations:     c.annotations.Values(),
		Resources: container.Resources{
			CgroupParent:       c.cgroupParent,
			Memory:             int64(c.memory),
			MemoryReservation:  int64(c.memoryReservation),
			MemorySwap:         int64(c.memorySwap),
			MemorySwappiness:   &swappiness,
			OomKillDisable:     &oomKillDisable,
			NanoCPUs:           int64(c.cpus),
			CPUShares:          c.cpuShares,
			CPUPeriod:          c.cpuPeriod,
			CPUQuota:           c.cpuQuota,
			CPURealtimePeriod:  c.cpuRtPeriod,
			CPURealtimeRuntime: c.cpuRtRuntime,
			CpusetCpus:         c.cpusetCpus,
			CpusetMems:         c.cpusetMems,
			PidsLimit:          &pidsLimit,
			BlkioWeight:        c.blkioWeight,
			Ulimits:            c.ulimits.Values(),
			DeviceCgroupRules:  c.deviceCgroupRules.Values(),
			Devices:            devices,
		},
	}
	if c.rm && !host.RestartPolicy.IsNone() {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	if fs.Changed("init") {
		init := c.init
		host.Init = &init
	}
	endpoints, err := c.endpoints()
	if err != nil {
		return nil, err
	}
	return &Config{Config: config, HostConfig: host, NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: endpoints}}, nil
}

// healthcheck is the container's HEALTHCHECK from the --health-* flags
// (nil to keep the image's), or NONE for --no-healthcheck.
func (c *Container) healthcheck() (*container.HealthConfig, error) {
	have := c.healthCmd != "" || c.healthInterval != 0 || c.healthTimeout != 0 ||
		c.healthStartPeriod != 0 || c.healthRetries != 0 || c.healthStartIntv != 0
	if c.noHealthcheck {
		if have {
			return nil, errors.New("--no-healthcheck conflicts with --health-* options")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	}
	if !have {
		return nil, nil
	}
	switch {
	case c.healthInterval < 0:
		return nil, errors.New("--health-interval cannot be negative")
	case c.healthTimeout < 0:
		return nil, errors.New("--health-timeout cannot be negative")
	case c.healthRetries < 0:
		return nil, errors.New("--health-retries cannot be negative")
	case c.healthStartPeriod < 0:
		return nil, errors.New("--health-start-period cannot be negative")
	case c.healthStartIntv < 0:
		return nil, errors.New("--health-start-interval cannot be negative")
	}
	h := &container.HealthConfig{
		Interval: c.healthInterval, Timeout: c.healthTimeout, StartPeriod: c.healthStartPeriod,
		StartInterval: c.healthStartIntv, Retries: c.healthRetries,
	}
	if c.healthCmd != "" {
		h.Test = []string{"CMD-SHELL", c.healthCmd}
	}
	return h, nil
}

// networkMode is the first --network, or "default".
func (c *Container) networkMode() string {
	if n := c.networks.Values(); len(n) > 0 {
		return n[0]
	}
	return network.NetworkDefault
}

// endpoints are the create request's endpoint settings: one for the
// default network when no --network is given; none for a single network
// without per-endpoint options (the daemon makes it); else one per network,
// the first carrying --network-alias, --ip, --ip6, --mac-address and
// (on a user-defined network) --link.
func (c *Container) endpoints() (map[string]*network.EndpointSettings, error) {
	nets := c.networks.Values()
	if len(nets) == 0 {
		nets = []string{network.NetworkDefault}
	}
	out := map[string]*network.EndpointSettings{}
	userDefined, builtin := false, false
	for i, name := range nets {
		if strings.TrimSpace(name) == "" {
			return nil, errors.New("no name set for network")
		}
		mode := container.NetworkMode(name)
		if mode.IsUserDefined() {
			userDefined = true
		} else {
			builtin = true
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("network %q is specified multiple times", name)
		}
		ep := &network.EndpointSettings{}
		if i == 0 {
			if c.aliases.Len() > 0 {
				if !mode.IsUserDefined() {
					return nil, errors.New("network-scoped aliases are only supported for user-defined networks")
				}
				ep.Aliases = c.aliases.Values()
			}
			if mode.IsUserDefined() && c.links.Len() > 0 {
				ep.Links = c.links.Values()
			}
			if c.ipv4 != "" || c.ipv6 != "" {
				ep.IPAMConfig = &network.EndpointIPAMConfig{}
				if c.ipv4 != "" {
					a, err := netip.ParseAddr(c.ipv4)
					if err != nil {
						return nil, fmt.Errorf("invalid IPv4 address: %s", c.ipv4)
					}
					ep.IPAMConfig.IPv4Address = a
				}
				if c.ipv6 != "" {
					a, err := netip.ParseAddr(c.ipv6)
					if err != nil {
						return nil, fmt.Errorf("invalid IPv6 address: %s", c.ipv6)
					}
					ep.IPAMConfig.IPv6Address = a
				}
			}
			if c.macAddress != "" {
				hw, _ := net.ParseMAC(strings.TrimSpace(c.macAddress))
				ep.MacAddress = network.HardwareAddr(hw)
			}
		}
		if i == 0 && len(c.networks.Values()) == 1 && ep.IPAMConfig == nil && len(ep.Aliases) == 0 &&
			len(ep.Links) == 0 && len(ep.MacAddress) == 0 {
			continue
		}
		out[name] = ep
	}
	if userDefined && builtin {
		return nil, errors.New("conflicting options: cannot attach both user-defined and non-user-defined network-modes")
	}
	return out, nil
}

// readKV reads files of NAME=value lines, then appends the values given on
// the command line (which so win over the files').
func readKV(files, values []string, lookup Lookup) ([]string, error) {
	var out []string
	for _, f := range files {
		lines, err := ReadKVFile(f, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	return append(out, values...), nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
