// Package config is berthd's configuration: the settings, their defaults, the
// daemon.json file that holds them and the command-line flags that override it.
//
// Every setting has one key in daemon.json (Docker's key name) and one flag
// (dockerd's flag name):
//
//	daemon.json key            flag
//	data-root                  --data-root
//	exec-root                  --exec-root
//	hosts                      -H, --host            (repeatable)
//	pidfile                    -p, --pidfile
//	debug                      -D, --debug
//	log-level                  -l, --log-level
//	insecure-registries        --insecure-registry   (repeatable)
//	registry-mirrors           --registry-mirror     (repeatable)
//	max-concurrent-downloads   --max-concurrent-downloads
//	max-concurrent-uploads     --max-concurrent-uploads
//	storage-driver             -s, --storage-driver
//	default-ulimits            --default-ulimit      (repeatable, name=soft[:hard])
//	no-new-privileges          --no-new-privileges
//	log-driver                 --log-driver
//	log-opts                   --log-opt             (repeatable, key=value)
//	init                       --init
//	cgroup-parent              --cgroup-parent
//	bridge                     -b, --bridge          (the default bridge berth makes: berth0)
//	bip                        --bip                 (its gateway address/prefix)
//	default-address-pools      --default-address-pool (repeatable, base=CIDR,size=N)
//	icc                        --icc
//	mtu                        --mtu
//	firewall-table             --firewall-table      (berth's nftables table: berth)
//	ipv6, fixed-cidr-v6        --ipv6, --fixed-cidr-v6 (IPv6 on the default bridge)
//	respect-host-firewall      --respect-host-firewall (berth's: see below)
//	group                      -G, --group
//	labels                     --label               (repeatable)
//	shutdown-timeout           --shutdown-timeout
//
// A setting comes from the flag when the flag is given, else from the file when
// the key is there, else from [Default]. Giving the same setting both ways is an
// error, as it is for dockerd, so nobody has to guess which one won. A key the
// daemon does not know is an error too: a typo must not be silently ignored.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/docker/go-units"

	"github.com/berth-engine/berth/internal/logs"
)

// Default file and directory locations.
const (
	DefaultConfigFile = "/etc/berth/daemon.json"
	DefaultDataRoot   = "/var/lib/berth"
	DefaultExecRoot   = "/run/berth"
	DefaultPidfile    = "/run/berth/berthd.pid"
	DefaultHost       = "unix:///run/berth/berth.sock"
)

// DefaultSocketGroup is the group given the API sockets when the configuration
// names none and the group exists; root's group is used otherwise.
const DefaultSocketGroup = "docker"

// MaxSocketPath is the longest path a unix socket can be bound at on Linux
// (sun_path is 108 bytes including the terminating NUL).
const MaxSocketPath = 107

// Config is the daemon's configuration. The JSON tags are daemon.json's keys.
type Config struct {
	// DataRoot holds the daemon's persistent state (images, containers, the engine ID).
	DataRoot string `json:"data-root,omitempty"`
	// ExecRoot holds state that means nothing after a reboot (runtime state, sockets).
	ExecRoot string `json:"exec-root,omitempty"`
	// Hosts are the addresses the API is served on; only unix:///path for now.
	Hosts []string `json:"hosts,omitempty"`
	// Pidfile is where the daemon writes its process ID.
	Pidfile string `json:"pidfile,omitempty"`
	// Debug turns on debug logging (it overrides LogLevel).
	Debug bool `json:"debug,omitempty"`
	// LogLevel is debug, info, warn, error or fatal.
	LogLevel string `json:"log-level,omitempty"`
	// InsecureRegistries are registries (host[:port] or a CIDR of addresses) reached
	// over plain HTTP or TLS without verification.
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	// RegistryMirrors are tried before docker.io, in order (normalised to end in "/").
	RegistryMirrors []string `json:"registry-mirrors,omitempty"`
	// MaxConcurrentDownloads bounds the layer downloads of each pull.
	MaxConcurrentDownloads int `json:"max-concurrent-downloads,omitempty"`
	// MaxConcurrentUploads bounds the layer uploads of each push.
	MaxConcurrentUploads int `json:"max-concurrent-uploads,omitempty"`
	// StorageDriver names the snapshotter; empty means chosen at start.
	StorageDriver string `json:"storage-driver,omitempty"`
	// DefaultUlimits are given to containers that set none, by name ("nofile").
	DefaultUlimits map[string]*units.Ulimit `json:"default-ulimits,omitempty"`
	// NoNewPrivileges sets no_new_privs in every container by default.
	NoNewPrivileges bool `json:"no-new-privileges,omitempty"`
	// LogDriver and LogOpts are the log driver of containers that choose none
	// (local, compact and bounded, when empty).
	LogDriver string            `json:"log-driver,omitempty"`
	LogOpts   map[string]string `json:"log-opts,omitempty"`
	// Init runs every container behind berth's pid 1 unless it says --init=false.
	Init bool `json:"init,omitempty"`
	// CgroupParent holds the cgroups of containers that name no parent
	// themselves ("/berth" when empty).
	CgroupParent string `json:"cgroup-parent,omitempty"`
	// Bridge is the default network's bridge interface, made when missing; BIP its
	// gateway address with the subnet's length (empty: the first free subnet of
	// DefaultAddressPools); ICC lets containers on it talk to each other; MTU is its
	// MTU (0: the kernel's).
	Bridge string `json:"bridge,omitempty"`
	BIP    string `json:"bip,omitempty"`
	ICC    bool   `json:"icc"`
	MTU    int    `json:"mtu,omitempty"`
	// DefaultAddressPools are where networks' subnets come from (Docker's defaults
	// when empty).
	DefaultAddressPools []AddressPool `json:"default-address-pools,omitempty"`
	// IPv6 gives the default bridge the IPv6 subnet FixedCIDRv6 as well.
	IPv6        bool   `json:"ipv6,omitempty"`
	FixedCIDRv6 string `json:"fixed-cidr-v6,omitempty"`
	// RespectHostFirewall stops berth's forward chain from accepting published-port
	// traffic ahead of its own drops (network isolation, icc=false), so that such
	// traffic is judged like any other forwarded packet (Docker's long-standing
	// firewall bypass, moby#22054; see internal/network/firewall).
	RespectHostFirewall bool `json:"respect-host-firewall,omitempty"`
	// FirewallTable is berth's nftables table (berth's own setting: tests and a
	// second daemon use their own).
	FirewallTable string `json:"firewall-table,omitempty"`
	// Group owns the unix sockets; empty means DefaultSocketGroup if it exists, else root.
	Group string `json:"group,omitempty"`
	// Labels are key=value metadata shown by info.
	Labels []string `json:"labels,omitempty"`
	// ShutdownTimeout is how many seconds a clean shutdown waits for work in flight.
	ShutdownTimeout int `json:"shutdown-timeout"`
}

// Default returns the configuration used when neither the file nor a flag sets a value.
func Default() Config {
	return Config{
		DataRoot:               DefaultDataRoot,
		ExecRoot:               DefaultExecRoot,
		Hosts:                  []string{DefaultHost},
		Pidfile:                DefaultPidfile,
		LogLevel:               "info",
		MaxConcurrentDownloads: 3,
		MaxConcurrentUploads:   5,
		ShutdownTimeout:        15,
		Bridge:                 "berth0",
		ICC:                    true,
		FirewallTable:          "berth",
	}
}

// AddressPool is one of default-address-pools: subnets of Size bits carved from Base.
type AddressPool struct {
	Base string `json:"base"`
	Size int    `json:"size"`
}

// ParseAddressPool reads --default-address-pool's "base=CIDR,size=N".
func ParseAddressPool(s string) (AddressPool, error) {
	var p AddressPool
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch strings.TrimSpace(k) {
		case "base":
			p.Base = v
		case "size":
			if _, err := fmt.Sscanf(v, "%d", &p.Size); err != nil {
				return p, fmt.Errorf("invalid default address pool %q: size %q is not a number", s, v)
			}
		default:
			return p, fmt.Errorf("invalid default address pool %q: unknown field %q (want base=CIDR,size=N)", s, k)
		}
	}
	return p, p.validate()
}

func (p AddressPool) validate() error {
	base, err := netip.ParsePrefix(p.Base)
	if err != nil {
		return fmt.Errorf("invalid default address pool base %q: %w", p.Base, err)
	}
	if p.Size < base.Bits() || p.Size > base.Addr().BitLen() {
		return fmt.Errorf("invalid default address pool %s size %d: it must be between %d and %d", p.Base, p.Size, base.Bits(), base.Addr().BitLen())
	}
	return nil
}

// logLevels are the accepted log levels, in increasing severity.
var logLevels = []string{"debug", "info", "warn", "error", "fatal"}

// SlogLevel returns the level to log at: debug when Debug is set, else LogLevel's.
// fatal logs errors only, as slog has no level above error.
func (c *Config) SlogLevel() slog.Level {
	if c.Debug {
		return slog.LevelDebug
	}
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error", "fatal":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// SocketPaths returns the filesystem paths of the unix sockets in Hosts. It is
// meant for a validated configuration.
func (c *Config) SocketPaths() []string {
	var paths []string
	for _, h := range c.Hosts {
		if p, ok := strings.CutPrefix(h, "unix://"); ok {
			paths = append(paths, p)
		}
	}
	return paths
}

// Validate checks every setting and normalises it in place: paths made absolute,
// "unix://" given the default socket path, mirrors ending in "/", insecure
// registries without a scheme. The error is one line naming the setting.
func (c *Config) Validate() error {
	if c.LogDriver != "" || len(c.LogOpts) > 0 {
		driver := c.LogDriver
		if driver == "" {
			driver = logs.DefaultDriver
		}
		err := logs.ValidateOpts(driver, c.LogOpts)
		if err == nil {
			_, err = logs.ParseOptions(driver, c.LogOpts)
		}
		if err != nil {
			return fmt.Errorf("failed to set up the default log driver: %w", err)
		}
	}
	for _, p := range []struct {
		key string
		val *string
	}{{"data-root", &c.DataRoot}, {"exec-root", &c.ExecRoot}, {"pidfile", &c.Pidfile}} {
		if *p.val == "" {
			return fmt.Errorf("%s must not be empty", p.key)
		}
		abs, err := filepath.Abs(*p.val)
		if err != nil {
			return fmt.Errorf("%s %q: %w", p.key, *p.val, err)
		}
		*p.val = abs
	}
	if len(c.Hosts) == 0 {
		return fmt.Errorf("hosts must name at least one address (for example %s)", DefaultHost)
	}
	for i, h := range c.Hosts {
		norm, err := normaliseHost(h)
		if err != nil {
			return err
		}
		c.Hosts[i] = norm
	}
	if c.BIP != "" {
		if _, err := netip.ParsePrefix(c.BIP); err != nil {
			return fmt.Errorf("invalid bip %q: want the bridge's address and prefix length, such as 172.18.0.1/16", c.BIP)
		}
	}
	for _, p := range c.DefaultAddressPools {
		if err := p.validate(); err != nil {
			return err
		}
	}
	if c.Bridge == "" || len(c.Bridge) > 15 || strings.ContainsAny(c.Bridge, "/ \t") {
		return fmt.Errorf("invalid bridge name %q: want an interface name of 1 to 15 characters", c.Bridge)
	}
	if c.IPv6 {
		p, err := netip.ParsePrefix(c.FixedCIDRv6)
		switch {
		case c.FixedCIDRv6 == "":
			return fmt.Errorf("fixed-cidr-v6 must be set when ipv6 is enabled on the default bridge")
		case err != nil || !p.Addr().Is6() || p.Addr().Is4In6():
			return fmt.Errorf("invalid fixed-cidr-v6 %q: want an IPv6 prefix such as fd00:1::/64", c.FixedCIDRv6)
		}
	}
	if c.FirewallTable == "" {
		return fmt.Errorf("firewall-table must not be empty")
	}
	if !slices.Contains(logLevels, c.LogLevel) {
		return fmt.Errorf("invalid log-level %q: want one of %s", c.LogLevel, strings.Join(logLevels, ", "))
	}
	for i, r := range c.InsecureRegistries {
		norm, err := normaliseInsecureRegistry(r)
		if err != nil {
			return err
		}
		c.InsecureRegistries[i] = norm
	}
	for i, m := range c.RegistryMirrors {
		norm, err := normaliseMirror(m)
		if err != nil {
			return err
		}
		c.RegistryMirrors[i] = norm
	}
	if c.MaxConcurrentDownloads < 1 {
		return fmt.Errorf("invalid max-concurrent-downloads %d: must be at least 1", c.MaxConcurrentDownloads)
	}
	if c.MaxConcurrentUploads < 1 {
		return fmt.Errorf("invalid max-concurrent-uploads %d: must be at least 1", c.MaxConcurrentUploads)
	}
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("invalid shutdown-timeout %d: must not be negative", c.ShutdownTimeout)
	}
	for name, u := range c.DefaultUlimits {
		if err := validateUlimit(name, u); err != nil {
			return err
		}
	}
	for _, l := range c.Labels {
		if k, _, ok := strings.Cut(l, "="); !ok || k == "" {
			return fmt.Errorf("invalid label %q: want key=value", l)
		}
	}
	return nil
}

// normaliseHost checks one API address. Only unix sockets are served for now;
// "unix://" alone means the default socket.
func normaliseHost(h string) (string, error) {
	path, ok := strings.CutPrefix(h, "unix://")
	if !ok {
		return "", fmt.Errorf("unsupported host %q: berthd serves unix sockets only (unix:///path)", h)
	}
	if path == "" {
		return DefaultHost, nil
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("invalid host %q: the socket path must be absolute", h)
	}
	path = filepath.Clean(path)
	if len(path) > MaxSocketPath {
		return "", fmt.Errorf("invalid host %q: socket path is %d bytes, at most %d fit", h, len(path), MaxSocketPath)
	}
	return "unix://" + path, nil
}

// normaliseInsecureRegistry accepts host[:port] or a CIDR, dropping an http:// or
// https:// prefix as dockerd does.
func normaliseInsecureRegistry(r string) (string, error) {
	lower := strings.ToLower(r)
	switch {
	case strings.HasPrefix(lower, "http://"):
		r = r[len("http://"):]
	case strings.HasPrefix(lower, "https://"):
		r = r[len("https://"):]
	case strings.Contains(r, "://"):
		return "", fmt.Errorf("insecure registry %s should not contain '://'", r)
	}
	r = strings.TrimSuffix(r, "/")
	if r == "" || strings.ContainsAny(r, "/ ") && !isCIDR(r) {
		return "", fmt.Errorf("invalid insecure registry %q: want host[:port] or a CIDR", r)
	}
	return r, nil
}

func isCIDR(s string) bool {
	_, _, err := net.ParseCIDR(s)
	return err == nil
}

// normaliseMirror accepts an http or https URL with no credentials, query or
// fragment, and returns it ending in "/".
func normaliseMirror(m string) (string, error) {
	u, err := url.Parse(m)
	if err != nil {
		return "", fmt.Errorf("invalid registry mirror %q: %w", m, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("invalid registry mirror %q: want an http:// or https:// URL", m)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("invalid registry mirror %q: want scheme://host[:port][/path] without credentials, query or fragment", m)
	}
	if !strings.HasSuffix(m, "/") {
		m += "/"
	}
	return m, nil
}

func validateUlimit(name string, u *units.Ulimit) error {
	if u == nil {
		return fmt.Errorf("default-ulimits %q: no limits given", name)
	}
	if u.Name == "" {
		u.Name = name
	}
	if u.Name != name {
		return fmt.Errorf("default-ulimits %q: its Name is %q", name, u.Name)
	}
	if _, err := u.GetRlimit(); err != nil {
		return fmt.Errorf("default-ulimits: %w", err)
	}
	if u.Soft > u.Hard {
		return fmt.Errorf("default-ulimits %q: soft limit %d is above hard limit %d", name, u.Soft, u.Hard)
	}
	return nil
}
