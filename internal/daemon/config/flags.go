package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/spf13/pflag"
)

// flagForKey names the flag of each key whose flag is not spelled like the key.
var flagForKey = map[string]string{
	"hosts":                 "host",
	"insecure-registries":   "insecure-registry",
	"registry-mirrors":      "registry-mirror",
	"default-ulimits":       "default-ulimit",
	"labels":                "label",
	"log-opts":              "log-opt",
	"default-address-pools": "default-address-pool",
}

// FlagName returns the command-line flag that sets the daemon.json key.
func FlagName(key string) string {
	if f, ok := flagForKey[key]; ok {
		return f
	}
	return key
}

// Flags are berthd's command-line flags, bound to a flag set by [AddFlags].
type Flags struct {
	set    *pflag.FlagSet
	values Config
	// ConfigFile is the daemon.json to read (--config-file).
	ConfigFile string
}

// AddFlags defines a flag for every setting, with dockerd's names, and
// --config-file, on set. After set is parsed, [Flags.Load] gives the configuration.
func AddFlags(set *pflag.FlagSet) *Flags {
	f := &Flags{set: set, values: Default()}
	v := &f.values
	set.StringVar(&f.ConfigFile, "config-file", DefaultConfigFile, "Daemon configuration file")
	set.StringVar(&v.DataRoot, "data-root", v.DataRoot, "Root directory of persistent state")
	set.StringVar(&v.ExecRoot, "exec-root", v.ExecRoot, "Root directory of execution state")
	set.StringArrayVarP(&v.Hosts, "host", "H", v.Hosts, "Daemon socket to listen on (unix:///path; repeatable)")
	set.StringVarP(&v.Pidfile, "pidfile", "p", v.Pidfile, "Path to use for the daemon PID file")
	set.BoolVarP(&v.Debug, "debug", "D", v.Debug, "Enable debug mode")
	set.StringVarP(&v.LogLevel, "log-level", "l", v.LogLevel, `Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")`)
	set.StringArrayVar(&v.InsecureRegistries, "insecure-registry", nil, "Registry reached over plain HTTP or unverified TLS (host[:port] or CIDR; repeatable)")
	set.StringArrayVar(&v.RegistryMirrors, "registry-mirror", nil, "Preferred registry mirror for docker.io (repeatable)")
	set.IntVar(&v.MaxConcurrentDownloads, "max-concurrent-downloads", v.MaxConcurrentDownloads, "Maximum concurrent downloads for each pull")
	set.IntVar(&v.MaxConcurrentUploads, "max-concurrent-uploads", v.MaxConcurrentUploads, "Maximum concurrent uploads for each push")
	set.StringVarP(&v.StorageDriver, "storage-driver", "s", v.StorageDriver, "Storage driver to use")
	set.Var(&ulimitsValue{&v.DefaultUlimits}, "default-ulimit", "Default ulimit for containers (name=soft[:hard]; repeatable)")
	set.BoolVar(&v.NoNewPrivileges, "no-new-privileges", v.NoNewPrivileges, "Set no-new-privileges by default for new containers")
	set.StringVar(&v.LogDriver, "log-driver", v.LogDriver, `Default driver for container logs ("json-file", "local" or "none")`)
	set.StringToStringVar(&v.LogOpts, "log-opt", nil, "Default log driver options for containers (key=value; repeatable)")
	set.BoolVar(&v.Init, "init", v.Init, "Run an init in the containers to forward signals and reap processes")
	set.StringVar(&v.CgroupParent, "cgroup-parent", v.CgroupParent, `Parent cgroup for all containers (default "/berth")`)
	set.StringVarP(&v.Bridge, "bridge", "b", v.Bridge, "The default network's bridge interface (made when missing)")
	set.StringVar(&v.BIP, "bip", v.BIP, "The default bridge's address and prefix length (default: the first free pool subnet)")
	set.BoolVar(&v.ICC, "icc", v.ICC, "Enable inter-container communication on the default bridge")
	set.IntVar(&v.MTU, "mtu", v.MTU, "MTU of the default bridge")
	set.Var(&poolsValue{&v.DefaultAddressPools}, "default-address-pool", "Default address pools for networks (base=CIDR,size=N; repeatable)")
	set.StringVar(&v.FirewallTable, "firewall-table", v.FirewallTable, "berth's nftables table")
	set.BoolVar(&v.RespectHostFirewall, "respect-host-firewall", v.RespectHostFirewall, "Judge published-port traffic by the same forward rules as any other")
	set.BoolVar(&v.IPv6, "ipv6", v.IPv6, "Enable IPv6 on the default bridge (needs --fixed-cidr-v6)")
	set.StringVar(&v.FixedCIDRv6, "fixed-cidr-v6", v.FixedCIDRv6, "IPv6 subnet of the default bridge")
	set.StringVarP(&v.Group, "group", "G", v.Group, `Group for the unix sockets (default "`+DefaultSocketGroup+`" if it exists, else root)`)
	set.StringArrayVar(&v.Labels, "label", nil, "Set key=value labels on the daemon (repeatable)")
	set.IntVar(&v.ShutdownTimeout, "shutdown-timeout", v.ShutdownTimeout, "Seconds a clean shutdown waits for work in flight")
	return f
}

// Load returns the validated configuration: each setting from its flag when the
// flag was given, else from the configuration file, else the default. A missing
// configuration file is no error unless --config-file named it.
func (f *Flags) Load() (*Config, error) {
	file, err := ReadFile(f.ConfigFile)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) || f.set.Changed("config-file") {
			return nil, err
		}
		file = &File{Path: f.ConfigFile}
	}
	c, err := merge(file, &f.values, f.set)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// merge lays the file's keys over the flag values, except where the flag was
// given; a setting given both ways is an error listing every such setting.
func merge(file *File, flags *Config, set *pflag.FlagSet) (*Config, error) {
	c := cloneConfig(flags)
	out := reflect.ValueOf(c).Elem()
	in := reflect.ValueOf(&file.Config).Elem()
	fields := fieldsByKey()
	var conflicts []string
	for _, key := range Keys() {
		raw, inFile := file.Keys[key]
		if !inFile {
			continue
		}
		if name := FlagName(key); set.Changed(name) {
			conflicts = append(conflicts, fmt.Sprintf("%s: (from flag: %s, from file: %s)",
				key, set.Lookup(name).Value.String(), describeRaw(raw)))
			continue
		}
		out.FieldByIndex(fields[key]).Set(in.FieldByIndex(fields[key]))
	}
	if len(conflicts) > 0 {
		return nil, fmt.Errorf("the following directives are specified both as a flag and in the configuration file: %s",
			strings.Join(conflicts, ", "))
	}
	return c, nil
}

// describeRaw prints a JSON value as dockerd does in its conflict message: lists
// as [a b], strings bare.
func describeRaw(raw []byte) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return fmt.Sprint(v)
}

// cloneConfig copies c deeply enough that normalising the copy leaves c alone.
func cloneConfig(c *Config) *Config {
	out := *c
	out.Hosts = slices.Clone(c.Hosts)
	out.InsecureRegistries = slices.Clone(c.InsecureRegistries)
	out.RegistryMirrors = slices.Clone(c.RegistryMirrors)
	out.Labels = slices.Clone(c.Labels)
	out.LogOpts = maps.Clone(c.LogOpts)
	out.DefaultAddressPools = slices.Clone(c.DefaultAddressPools)
	if c.DefaultUlimits != nil {
		out.DefaultUlimits = map[string]*units.Ulimit{}
		for k, u := range c.DefaultUlimits {
			cp := *u
			out.DefaultUlimits[k] = &cp
		}
	}
	return &out
}

// poolsValue is the --default-address-pool flag, repeatable.
type poolsValue struct{ p *[]AddressPool }

func (v *poolsValue) Set(s string) error {
	p, err := ParseAddressPool(s)
	if err != nil {
		return err
	}
	*v.p = append(*v.p, p)
	return nil
}

func (v *poolsValue) String() string {
	var out []string
	for _, p := range *v.p {
		out = append(out, fmt.Sprintf("base=%s,size=%d", p.Base, p.Size))
	}
	return strings.Join(out, " ")
}

func (v *poolsValue) Type() string { return "pool" }

// ulimitsValue is the --default-ulimit flag: name=soft[:hard], repeatable, the
// last one for a name winning.
type ulimitsValue struct{ m *map[string]*units.Ulimit }

func (u *ulimitsValue) Set(s string) error {
	l, err := units.ParseUlimit(s)
	if err != nil {
		return err
	}
	if *u.m == nil {
		*u.m = map[string]*units.Ulimit{}
	}
	(*u.m)[l.Name] = l
	return nil
}

func (u *ulimitsValue) String() string {
	if len(*u.m) == 0 {
		return ""
	}
	var parts []string
	for _, l := range *u.m {
		parts = append(parts, l.String())
	}
	slices.Sort(parts)
	return "[" + strings.Join(parts, " ") + "]"
}

func (u *ulimitsValue) Type() string { return "ulimit" }
