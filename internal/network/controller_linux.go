package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/atomicfile"
	"github.com/berth-engine/berth/internal/network/dns"
	"github.com/berth-engine/berth/internal/network/firewall"
	"github.com/berth-engine/berth/internal/network/ipam"
	"github.com/berth-engine/berth/internal/network/link"
)

// Config is how berthd sets up networking.
type Config struct {
	// Root holds the networks' records and the address allocations.
	Root string
	// DefaultBridge is the default network's bridge interface ("berth0"; tests use
	// their own); DefaultBridgeCIDR its gateway address and prefix (Docker's --bip),
	// zero: the first free subnet of DefaultAddressPools.
	DefaultBridge     string
	DefaultBridgeCIDR netip.Prefix
	// DefaultBridgeIPv6 is the default bridge's IPv6 subnet (Docker's --ipv6 with
	// --fixed-cidr-v6); zero: IPv4 only.
	DefaultBridgeIPv6 netip.Prefix
	// DefaultAddressPools are where subnets of new networks come from (Docker's
	// default-address-pools); nil: Docker's defaults.
	DefaultAddressPools []ipam.AddressPool
	// FirewallTable is berth's nftables table ("berth"; tests use their own). Two
	// daemons on one host cannot share it, so it also names the daemon in the marks of
	// the bridges and veths it makes (see internal/network/link): a daemon that starts
	// deletes those of its links it no longer needs, never another daemon's.
	FirewallTable string
	// ICC is inter-container communication on the default bridge (--icc).
	ICC bool
	// RespectHostFirewall: see firewall.State.
	RespectHostFirewall bool
	// MTU of the default bridge (0: the kernel's default).
	MTU int
	// BridgePrefix starts the names of user networks' bridges ("br-"), VethPrefix the
	// host ends of containers' veths ("vb"); tests use their own so that their
	// leftovers are theirs to find.
	BridgePrefix, VethPrefix string
	Log                      *slog.Logger
}

// recordsSchema is bumped whenever networks.json changes incompatibly.
const recordsSchema = 1

type records struct {
	Schema   int        `json:"schema"`
	Networks []*Network `json:"networks"`
}

// Controller keeps berth's networks and the containers attached to them: their
// bridges, addresses, veths, published ports and names.
type Controller struct {
	cfg      Config
	log      *slog.Logger
	ipam     *ipam.Store
	fw       *firewall.Firewall
	resolver *dns.Resolver
	dir      *dns.Directory

	mu       sync.Mutex
	networks map[string]*Network      // by ID
	sandbox  map[string]*Sandbox      // by container ID: what is attached
	dnsL     map[string]*dns.Listener // by container ID
	ports    *portTable
}

// Open reads the networks and makes sure the predefined ones exist and their
// bridges are up. The daemon then calls Restore (with the containers still running,
// or none), which programs the firewall.
func Open(cfg Config) (_ *Controller, err error) {
	if cfg.DefaultBridge == "" {
		cfg.DefaultBridge = "berth0"
	}
	if cfg.FirewallTable == "" {
		cfg.FirewallTable = firewall.DefaultTable
	}
	if cfg.DefaultAddressPools == nil {
		cfg.DefaultAddressPools = ipam.DefaultAddressPools()
	}
	if cfg.BridgePrefix == "" {
		cfg.BridgePrefix = "br-"
	}
	if cfg.VethPrefix == "" {
		cfg.VethPrefix = "vb"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("network state: %w", err)
	}
	c := &Controller{cfg: cfg, log: cfg.Log, networks: map[string]*Network{}, sandbox: map[string]*Sandbox{}, dnsL: map[string]*dns.Listener{}, ports: newPortTable(), dir: dns.NewDirectory()}
	if c.ipam, err = ipam.Open(filepath.Join(cfg.Root, "ipam")); err != nil {
		return nil, err
	}
	if c.fw, err = firewall.New(firewall.Options{Table: cfg.FirewallTable}); err != nil {
		return nil, err
	}
	if c.resolver, err = dns.NewResolver(c.dir, dns.Options{Logger: cfg.Log}); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.resolver.Close()
		}
	}()
	if err := c.load(); err != nil {
		return nil, err
	}
	c.dropOrphanPools()
	if err := c.ensurePredefined(); err != nil {
		return nil, err
	}
	v6 := false
	for _, n := range c.networks {
		v6 = v6 || n.IPv6 != nil && n.EnableIPv6
	}
	if err := link.EnableForwarding(v6); err != nil {
		return nil, fmt.Errorf("enable IP forwarding: %w", err)
	}
	for _, n := range c.networks {
		if n.Driver == DriverBridge {
			if err := c.upBridge(n); err != nil {
				return nil, err
			}
		}
	}
	c.sweep(nil)
	return c, nil
}

// sweep deletes the links this daemon made that nothing needs any more: bridges no
// network has (a network removed while berthd was down or its bridge's deletion
// failed, networks.json restored from an older state, the default bridge renamed by
// --bridge), and, when held is not nil, host ends of veths no container holds (their
// endpoints' addresses are free again, see Restore). A bridge that still has ports (a
// running container's veth) stays, with a warning. Links of other daemons, of older
// berths and links berth did not make are never touched (link.Owned).
func (c *Controller) sweep(held map[string]bool) {
	made, err := link.Owned(c.cfg.FirewallTable)
	if err != nil {
		c.log.Warn("find leftover links", "err", err)
		return
	}
	if held != nil {
		for _, m := range made {
			if !m.Bridge && !held[m.Name] {
				if err := link.DetachVeth(m.Name); err != nil {
					c.log.Warn("remove a leftover veth", "interface", m.Name, "err", err)
				} else {
					c.log.Info("removed a leftover veth", "interface", m.Name)
				}
			}
		}
		// Ports deleted above no longer hold their bridges.
		if made, err = link.Owned(c.cfg.FirewallTable); err != nil {
			c.log.Warn("find leftover links", "err", err)
			return
		}
	}
	needed := map[string]bool{}
	for _, n := range c.networks {
		if n.Driver == DriverBridge {
			needed[n.Bridge] = true
		}
	}
	for _, m := range made {
		switch {
		case !m.Bridge || needed[m.Name]:
		case len(m.Ports) > 0:
			c.log.Warn("a bridge no network has still has ports; left in place", "bridge", m.Name, "ports", m.Ports)
		default:
			if err := link.DeleteBridge(m.Name); err != nil {
				c.log.Warn("remove a leftover bridge", "bridge", m.Name, "err", err)
			} else {
				c.log.Info("removed a leftover bridge", "bridge", m.Name)
			}
		}
	}
}

// Close stops the DNS server. Bridges, rules and containers' veths stay: containers
// keep running while berthd is away.
func (c *Controller) Close() error {
	return c.resolver.Close()
}

func (c *Controller) recordsPath() string { return filepath.Join(c.cfg.Root, "networks.json") }

func (c *Controller) load() error {
	b, err := os.ReadFile(c.recordsPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var r records
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", c.recordsPath(), err)
	}
	if r.Schema != recordsSchema {
		return fmt.Errorf("%s: schema %d, this berth reads %d", c.recordsPath(), r.Schema, recordsSchema)
	}
	for _, n := range r.Networks {
		c.networks[n.ID] = n
	}
	return nil
}

func (c *Controller) saveLocked() error {
	r := records{Schema: recordsSchema}
	for _, n := range c.networks {
		r.Networks = append(r.Networks, n)
	}
	sort.Slice(r.Networks, func(i, j int) bool { return r.Networks[i].Created.Before(r.Networks[j].Created) })
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(c.recordsPath(), b, 0o600)
}

// dropOrphanPools removes the address pools of networks that have no record (a crash
// in Create between taking the pools and saving the record, or networks.json restored
// from an older state), so their subnets are free again.
func (c *Controller) dropOrphanPools() {
	for key := range c.ipam.Pools() {
		id, _, _ := strings.Cut(key, "/")
		if c.networks[id] == nil {
			if err := c.ipam.RemovePool(key); err != nil {
				c.log.Warn("remove the address pool of a network that is gone", "pool", key, "err", err)
			}
		}
	}
}

// ensurePredefined adds bridge, host and none when missing.
func (c *Controller) ensurePredefined() error {
	have := map[string]bool{}
	for _, n := range c.networks {
		have[n.Name] = true
	}
	now := time.Now().UTC()
	changed := false
	for _, p := range []struct{ name, driver string }{{DefaultBridgeName, DriverBridge}, {HostName, DriverHost}, {NoneName, DriverNull}} {
		if have[p.name] {
			continue
		}
		n := &Network{ID: newID(), Name: p.name, Driver: p.driver, Created: now, Predefined: true, ICC: true, Masquerade: true}
		if p.driver == DriverBridge {
			n.Default, n.Bridge, n.ICC, n.MTU = true, c.cfg.DefaultBridge, c.cfg.ICC, c.cfg.MTU
			n.Options = map[string]string{optBridgeName: n.Bridge, optICC: strconv.FormatBool(n.ICC), optMasquerade: "true"}
			if err := c.planDefaultBridge(n); err != nil {
				return err
			}
		}
		c.networks[n.ID] = n
		changed = true
	}
	// The daemon's options win over what was recorded for the default bridge.
	for _, n := range c.networks {
		v6 := c.cfg.DefaultBridgeIPv6
		v6changed := v6.IsValid() != (n.IPv6 != nil) || n.IPv6 != nil && n.IPv6.Prefix != v6.Masked()
		if n.Default && (n.Bridge != c.cfg.DefaultBridge || n.ICC != c.cfg.ICC || v6changed || c.cfg.DefaultBridgeCIDR.IsValid() && n.IPv4.Prefix != c.cfg.DefaultBridgeCIDR.Masked()) {
			c.ipam.RemovePool(poolKey(n.ID, true))
			c.ipam.RemovePool(poolKey(n.ID, false))
			n.Bridge, n.ICC = c.cfg.DefaultBridge, c.cfg.ICC
			n.Options[optBridgeName], n.Options[optICC] = n.Bridge, strconv.FormatBool(n.ICC)
			if err := c.planDefaultBridge(n); err != nil {
				return err
			}
			changed = true
		}
	}
	for _, n := range c.networks {
		for i, s := range n.subnets() {
			key := poolKey(n.ID, i == 0 && n.IPv4 != nil)
			if _, err := c.ipam.Pool(key); err == nil {
				continue
			}
			if _, err := c.ipam.AddPool(key, ipam.Pool{Subnet: s.Prefix, Gateway: s.Gateway, IPRange: s.Range, Reserved: auxAddrs(s)}); err != nil {
				return fmt.Errorf("network %s: %w", n.Name, err)
			}
		}
	}
	if changed {
		return c.saveLocked()
	}
	return nil
}

// planDefaultBridge gives the default bridge its subnet: --bip, else the first free
// one of the pools.
func (c *Controller) planDefaultBridge(n *Network) error {
	n.IPv6, n.EnableIPv6 = nil, false
	if v6 := c.cfg.DefaultBridgeIPv6; v6.IsValid() {
		n.IPv6, n.EnableIPv6 = &Subnet{Prefix: v6.Masked(), Gateway: v6.Masked().Addr().Next()}, true
	}
	if cidr := c.cfg.DefaultBridgeCIDR; cidr.IsValid() {
		n.IPv4 = &Subnet{Prefix: cidr.Masked(), Gateway: cidr.Addr()}
		return nil
	}
	prefix, err := c.ipam.NextSubnet(c.cfg.DefaultAddressPools, hostRoutes())
	if err != nil {
		return fmt.Errorf("default bridge: %w", err)
	}
	n.IPv4 = &Subnet{Prefix: prefix, Gateway: prefix.Addr().Next()}
	return nil
}

func poolKey(networkID string, v4 bool) string {
	if v4 {
		return networkID + "/4"
	}
	return networkID + "/6"
}

func auxAddrs(s *Subnet) []netip.Addr {
	var out []netip.Addr
	for _, a := range s.Aux {
		out = append(out, a)
	}
	return out
}

// hostRoutes are the prefixes the host already routes, which a new network's subnet
// must not shadow.
func hostRoutes() []netip.Prefix {
	routes, err := link.Routes()
	if err != nil {
		return nil
	}
	return routes
}

// upBridge makes a bridge network's interface exist, up, with its gateways.
func (c *Controller) upBridge(n *Network) error {
	var addrs []netip.Prefix
	for _, s := range n.subnets() {
		addrs = append(addrs, netip.PrefixFrom(s.Gateway, s.Prefix.Bits()))
	}
	if err := link.EnsureBridge(n.Bridge, c.cfg.FirewallTable, addrs, n.MTU); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := firewall.EnableRouteLocalnet(n.Bridge); err != nil {
		return fmt.Errorf("network %s: %w", n.Name, err)
	}
	if !n.ICC {
		if err := firewall.EnableBridgeNetfilter(); err != nil {
			return fmt.Errorf("network %s: icc=false: %w", n.Name, err)
		}
	}
	return nil
}

// applyLocked programs the firewall with every bridge and every published port.
func (c *Controller) applyLocked() error {
	s := firewall.State{RespectHostFirewall: c.cfg.RespectHostFirewall}
	for _, n := range c.sortedLocked() {
		if n.Driver != DriverBridge {
			continue
		}
		fn := firewall.Network{Bridge: n.Bridge, Masquerade: n.Masquerade, Internal: n.Internal, DisableICC: !n.ICC}
		for _, sub := range n.subnets() {
			fn.Subnets = append(fn.Subnets, sub.Prefix)
		}
		s.Networks = append(s.Networks, fn)
	}
	for _, sb := range c.sandbox {
		for _, b := range sb.Bindings {
			s.Ports = append(s.Ports, b.mapping())
		}
	}
	if err := c.fw.Apply(s); err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	return nil
}

func (c *Controller) sortedLocked() []*Network {
	out := make([]*Network, 0, len(c.networks))
	for _, n := range c.networks {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Created.Before(out[j].Created) || out[i].Created.Equal(out[j].Created) && out[i].Name < out[j].Name
	})
	return out
}

// List returns copies of every network, oldest first.
func (c *Controller) List() []*Network {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Network
	for _, n := range c.sortedLocked() {
		out = append(out, n.clone())
	}
	return out
}

// Get finds a network by full ID, name, or unique ID prefix, as Docker does.
func (c *Controller) Get(ref string) (*Network, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.getLocked(ref)
	if err != nil {
		return nil, err
	}
	return n.clone(), nil
}

func (c *Controller) getLocked(ref string) (*Network, error) {
	if n, ok := c.networks[ref]; ok {
		return n, nil
	}
	for _, n := range c.networks {
		if n.Name == ref {
			return n, nil
		}
	}
	var found []*Network
	for id, n := range c.networks {
		if ref != "" && strings.HasPrefix(id, ref) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	case 1:
		return found[0], nil
	}
	return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s is ambiguous (%d matches found based on ID prefix)", ref, len(found)))
}

// Create makes a network: its record, its address pools, its bridge, its rules.
func (c *Controller) Create(req CreateRequest) (_ *Network, err error) {
	if err := validName(req.Name); err != nil {
		return nil, err
	}
	driver := req.Driver
	if driver == "" {
		driver = DriverBridge
	}
	if driver != DriverBridge {
		if driver == DriverHost || driver == DriverNull {
			return nil, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("only one instance of %q network is allowed", driver))
		}
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("could not find plugin %s in v1 plugin registry: plugin not found", driver))
	}
	icc, err := boolOption(req.Options, optICC, true)
	if err != nil {
		return nil, err
	}
	masq, err := boolOption(req.Options, optMasquerade, true)
	if err != nil {
		return nil, err
	}
	mtu := 0
	if v, ok := req.Options[optMTU]; ok {
		if mtu, err = strconv.Atoi(v); err != nil || mtu < 68 {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid MTU %q", v))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.networks {
		if n.Name == req.Name {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("network with name %s already exists", req.Name))
		}
	}
	n := &Network{
		ID: newID(), Name: req.Name, Driver: driver, Created: time.Now().UTC(),
		Internal: req.Internal, Attachable: req.Attachable, EnableIPv6: req.EnableIPv6,
		ICC: icc, Masquerade: masq, MTU: mtu, Labels: req.Labels, Options: req.Options, IPAMOptions: req.IPAMOptions,
	}
	n.Bridge = req.Options[optBridgeName]
	if n.Bridge == "" {
		n.Bridge = link.HostIfName(c.cfg.BridgePrefix, n.ID)
	}
	for _, other := range c.networks {
		if other.Bridge == n.Bridge {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("bridge %s is already used by network %s", n.Bridge, other.Name))
		}
	}
	// Address pools, released again if anything later fails.
	var keys []string
	defer func() {
		if err != nil {
			for _, k := range keys {
				c.ipam.RemovePool(k)
			}
		}
	}()
	subnets := req.Subnets
	if !slices.ContainsFunc(subnets, func(s SubnetRequest) bool { return s.Prefix.Addr().Is4() }) {
		prefix, err := c.ipam.NextSubnet(c.cfg.DefaultAddressPools, hostRoutes())
		if err != nil {
			return nil, errdefs.ErrUnavailable.WithMessage("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")
		}
		subnets = append([]SubnetRequest{{Prefix: prefix}}, subnets...)
	}
	for _, s := range subnets {
		v4 := s.Prefix.Addr().Is4()
		if v4 && n.IPv4 != nil || !v4 && n.IPv6 != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage("berth networks take one subnet per address family")
		}
		if !v4 && !req.EnableIPv6 {
			// Docker 20.10 records it and leaves it unused (no pool, no addresses):
			// clients such as docker-py's tests give one without EnableIPv6.
			n.IPv6 = &Subnet{Prefix: s.Prefix, Gateway: s.Gateway, Range: s.Range, Aux: s.Aux}
			continue
		}
		var aux []netip.Addr
		for _, a := range s.Aux {
			aux = append(aux, a)
		}
		key := poolKey(n.ID, v4)
		p, err := c.ipam.AddPool(key, ipam.Pool{Subnet: s.Prefix, Gateway: s.Gateway, IPRange: s.Range, Reserved: aux})
		if err != nil {
			return nil, err
		}
		keys = append(keys, key)
		sub := &Subnet{Prefix: p.Subnet, Gateway: p.Gateway, Range: s.Range, Aux: s.Aux}
		if v4 {
			n.IPv4 = sub
		} else {
			n.IPv6 = sub
		}
	}
	if n.IPv6 != nil && n.EnableIPv6 {
		// Its containers' IPv6 traffic leaves through the host, as IPv4's does.
		if err := link.EnableForwarding(true); err != nil {
			return nil, fmt.Errorf("enable IPv6 forwarding: %w", err)
		}
	}
	if err := c.upBridge(n); err != nil {
		link.DeleteBridge(n.Bridge)
		return nil, err
	}
	c.networks[n.ID] = n
	if err := c.applyLocked(); err != nil {
		delete(c.networks, n.ID)
		link.DeleteBridge(n.Bridge)
		return nil, err
	}
	if err := c.saveLocked(); err != nil {
		delete(c.networks, n.ID)
		c.applyLocked()
		link.DeleteBridge(n.Bridge)
		return nil, err
	}
	return n.clone(), nil
}

// Remove deletes a network nobody is attached to.
func (c *Controller) Remove(ref string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.getLocked(ref)
	if err != nil {
		return err
	}
	if n.Predefined {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("%s is a pre-defined network and cannot be removed", n.Name))
	}
	if users := c.usersLocked(n.ID); len(users) > 0 {
		return errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("error while removing network: network %s id %s has active endpoints", n.Name, n.ID))
	}
	delete(c.networks, n.ID)
	if err := c.saveLocked(); err != nil {
		c.networks[n.ID] = n
		return err
	}
	if err := c.applyLocked(); err != nil {
		c.log.Warn("firewall after removing a network", "network", n.Name, "err", err)
	}
	for _, v4 := range []bool{true, false} {
		c.ipam.RemovePool(poolKey(n.ID, v4))
	}
	if err := link.DeleteBridge(n.Bridge); err != nil {
		c.log.Warn("remove bridge", "bridge", n.Bridge, "err", err)
	}
	return nil
}

// usersLocked are the containers with an endpoint on network id.
func (c *Controller) usersLocked(id string) []string {
	var out []string
	for cid, sb := range c.sandbox {
		for _, ep := range sb.Endpoints {
			if ep.NetworkID == id {
				out = append(out, cid)
			}
		}
	}
	return out
}

// Endpoints are the endpoints on network ref (for network inspect).
func (c *Controller) Endpoints(ref string) ([]Endpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.getLocked(ref)
	if err != nil {
		return nil, err
	}
	var out []Endpoint
	for _, sb := range c.sandbox {
		for _, ep := range sb.Endpoints {
			if ep.NetworkID == n.ID {
				out = append(out, ep)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerName < out[j].ContainerName })
	return out, nil
}

// macOf parses a MAC address, "" being none.
func macOf(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	m, err := net.ParseMAC(s)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid MAC address %q", s))
	}
	return m, nil
}
