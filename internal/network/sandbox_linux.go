package network

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/network/dns"
	"github.com/berth-engine/berth/internal/network/firewall"
	"github.com/berth-engine/berth/internal/network/link"
)

// Join gives a container its endpoints, published ports and names. All or nothing:
// on failure nothing of it stays (veths, addresses, ports, rules).
func (c *Controller) Join(r JoinRequest) (_ *Sandbox, err error) {
	if len(r.Endpoints) == 0 {
		return nil, errdefs.ErrInvalidArgument.WithMessage("join: no network")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sandbox[r.ContainerID]; ok {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is attached already", r.ContainerID))
	}
	sb := &Sandbox{ContainerID: r.ContainerID, Name: r.Name, Hostname: r.Hostname, NetNS: r.NetNS, DNS: r.DNS}
	defer func() {
		if err != nil {
			c.undoLocked(sb)
		}
	}()
	for i, req := range r.Endpoints {
		ep, err := c.attachLocked(sb, req, i == 0)
		if err != nil {
			return nil, err
		}
		sb.Endpoints = append(sb.Endpoints, *ep)
	}
	if len(r.Ports) > 0 {
		gw := sb.Endpoints[0]
		bs, err := c.ports.allocate(r.ContainerID, r.Ports, gw.IPv4.Addr(), gw.IPv6.Addr())
		if err != nil {
			return nil, err
		}
		sb.Bindings = bs
		var ms []firewall.PortMapping
		for _, b := range bs {
			ms = append(ms, b.mapping())
		}
		if err := c.fw.AddPorts(ms...); err != nil {
			return nil, fmt.Errorf("publish ports: %w", err)
		}
	}
	if err := c.nameLocked(sb); err != nil {
		return nil, err
	}
	c.sandbox[sb.ContainerID] = sb
	return sb.clone(), nil
}

// attachLocked makes one endpoint: addresses, veth into the namespace.
func (c *Controller) attachLocked(sb *Sandbox, req EndpointRequest, gateway bool) (_ *Endpoint, err error) {
	n, err := c.getLocked(req.Network)
	if err != nil {
		return nil, err
	}
	if n.Driver != DriverBridge {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container cannot be connected to network %s with other networks: it is a %s network", n.Name, n.Driver))
	}
	for _, ep := range sb.Endpoints {
		if ep.NetworkID == n.ID {
			return nil, errdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", sb.Name, n.Name))
		}
	}
	if n.Default && len(req.Aliases) > 0 {
		return nil, errdefs.ErrInvalidArgument.WithMessage("network-scoped alias is supported only for containers in user defined networks")
	}
	if n.Default && (req.IPv4.IsValid() || req.IPv6.IsValid()) {
		return nil, errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported on user defined networks only")
	}
	if req.IPv6.IsValid() && n.IPv6 == nil {
		// With an IPv6 subnet that is not in use (no EnableIPv6) the address is
		// ignored, as Docker does; without any, Docker refuses it.
		return nil, errdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported only when connecting to networks with user configured subnets")
	}
	mac, err := macOf(req.MAC)
	if err != nil {
		return nil, err
	}
	ep := &Endpoint{ID: newID(), NetworkID: n.ID, NetworkName: n.Name, ContainerID: sb.ContainerID, ContainerName: sb.Name,
		IfName: "eth" + strconv.Itoa(len(sb.Endpoints)), Aliases: req.Aliases, Links: maps.Clone(req.Links)}
	var got []netip.Addr
	defer func() {
		if err != nil {
			for _, a := range got {
				c.ipam.Release(poolKey(n.ID, a.Is4()), a)
			}
		}
	}()
	var addrs []netip.Prefix
	var gws []netip.Addr
	for _, s := range n.subnets() {
		v4 := s.Prefix.Addr().Is4()
		want := req.IPv6
		if v4 {
			want = req.IPv4
		}
		a, err := c.ipam.Request(poolKey(n.ID, v4), want)
		if err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		got = append(got, a)
		p := netip.PrefixFrom(a, s.Prefix.Bits())
		addrs = append(addrs, p)
		if v4 {
			ep.IPv4, ep.Gateway4 = p, s.Gateway
		} else {
			ep.IPv6, ep.Gateway6 = p, s.Gateway
		}
		if gateway && !n.Internal {
			gws = append(gws, s.Gateway)
		}
	}
	hostIf, gotMAC, err := link.AttachVeth(link.VethOptions{
		Bridge: n.Bridge, HostPrefix: c.cfg.VethPrefix, Owner: c.cfg.FirewallTable, EndpointID: ep.ID, NetNS: sb.NetNS,
		IfName: ep.IfName, MAC: mac, Addrs: addrs, Gateways: gws, MTU: n.MTU,
	})
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	ep.HostIf, ep.MAC = hostIf, gotMAC.String()
	return ep, nil
}

// nameLocked registers the container's names on its user-defined networks and
// starts its embedded DNS server, if it has any such network.
func (c *Controller) nameLocked(sb *Sandbox) error {
	user, outside := false, false
	for _, ep := range sb.Endpoints {
		n := c.networks[ep.NetworkID]
		if n == nil || !n.UserDefined() {
			continue
		}
		user = true
		outside = outside || !n.Internal
		var addrs []netip.Addr
		for _, p := range []netip.Prefix{ep.IPv4, ep.IPv6} {
			if p.IsValid() {
				addrs = append(addrs, p.Addr())
			}
		}
		c.dir.Add(n.Name, dns.Endpoint{Container: sb.ContainerID, Name: sb.Name, Hostname: sb.Hostname, Aliases: ep.Aliases, Links: ep.Links, Addrs: addrs})
	}
	if !user || sb.NetNS == "" {
		return nil
	}
	var upstreams []netip.AddrPort
	if outside {
		_, host, _ := dns.HostResolvConf()
		upstreams = dns.Upstreams(host, sb.DNS.overrides())
	}
	l, err := c.resolver.ListenInNetns(sb.NetNS, dns.ListenConfig{Container: sb.ContainerID, Upstreams: upstreams})
	if err != nil {
		return fmt.Errorf("embedded DNS server: %w", err)
	}
	c.dnsL[sb.ContainerID] = l
	return nil
}

// undoLocked releases what sb holds; its veths go with its namespace, or here when
// the container is still running (detach is true).
func (c *Controller) undoLocked(sb *Sandbox) {
	c.unnameLocked(sb)
	if len(sb.Bindings) > 0 {
		var ms []firewall.PortMapping
		for _, b := range sb.Bindings {
			ms = append(ms, b.mapping())
		}
		if err := c.fw.RemovePorts(ms...); err != nil {
			c.log.Warn("unpublish ports", "container", sb.ContainerID, "err", err)
		}
		c.ports.release(sb.Bindings)
	}
	for _, ep := range sb.Endpoints {
		c.releaseLocked(ep)
		if ep.HostIf != "" && sb.NetNS != "" {
			// Made by a Join that failed: the container never ran.
			link.DetachVeth(ep.HostIf)
		}
	}
}

func (c *Controller) unnameLocked(sb *Sandbox) {
	if l := c.dnsL[sb.ContainerID]; l != nil {
		l.Close() // its sockets hold the namespace: it can go only once they are closed
		delete(c.dnsL, sb.ContainerID)
	}
	for _, ep := range sb.Endpoints {
		c.dir.Remove(ep.NetworkName, sb.ContainerID)
	}
}

func (c *Controller) releaseLocked(ep Endpoint) {
	for _, p := range []netip.Prefix{ep.IPv4, ep.IPv6} {
		if p.IsValid() {
			if err := c.ipam.Release(poolKey(ep.NetworkID, p.Addr().Is4()), p.Addr()); err != nil && !errdefs.IsNotFound(err) {
				c.log.Warn("release address", "address", p.Addr(), "err", err)
			}
		}
	}
}

// Leave releases what a container that exited held: its names, ports and
// addresses. Its veths went with its network namespace. sb is the container's
// recorded Sandbox: Leave works also for a container berthd did not see exit.
func (c *Controller) Leave(sb *Sandbox) {
	if sb == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if mine := c.sandbox[sb.ContainerID]; mine != nil {
		sb = mine
	}
	delete(c.sandbox, sb.ContainerID)
	exited := *sb
	exited.NetNS = ""
	c.undoLocked(&exited)
}

// Connect attaches a running (or created) container to one more network.
func (c *Controller) Connect(containerID string, req EndpointRequest) (*Sandbox, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sb := c.sandbox[containerID]
	if sb == nil {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", containerID))
	}
	ep, err := c.attachLocked(sb, req, false)
	if err != nil {
		return nil, err
	}
	sb.Endpoints = append(sb.Endpoints, *ep)
	c.unnameLocked(sb)
	if err := c.nameLocked(sb); err != nil {
		c.log.Warn("names after connect", "container", containerID, "err", err)
	}
	return sb.clone(), nil
}

// Disconnect detaches a running container from a network.
func (c *Controller) Disconnect(containerID, network string) (*Sandbox, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sb := c.sandbox[containerID]
	if sb == nil {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", containerID))
	}
	n, err := c.getLocked(network)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(sb.Endpoints, func(ep Endpoint) bool { return ep.NetworkID == n.ID })
	if i < 0 {
		return nil, errdefs.ErrNotFound.WithMessage(fmt.Sprintf("container %s is not connected to network %s", containerID, n.Name))
	}
	ep := sb.Endpoints[i]
	c.unnameLocked(sb)
	if i == 0 && len(sb.Bindings) > 0 {
		var ms []firewall.PortMapping
		for _, b := range sb.Bindings {
			ms = append(ms, b.mapping())
		}
		c.fw.RemovePorts(ms...)
		c.ports.release(sb.Bindings)
		sb.Bindings = nil
	}
	if err := link.DetachVeth(ep.HostIf); err != nil {
		c.log.Warn("detach veth", "interface", ep.HostIf, "err", err)
	}
	c.releaseLocked(ep)
	sb.Endpoints = slices.Delete(sb.Endpoints, i, i+1)
	if err := c.nameLocked(sb); err != nil {
		c.log.Warn("names after disconnect", "container", containerID, "err", err)
	}
	return sb.clone(), nil
}

// Restore takes back the sandboxes of containers still running after berthd
// restarted (each with NetNS set to its namespace now), programs the firewall with
// every network and port in one batch (nothing is duplicated), and gives back what no
// running container holds (a crash between taking it and recording it): addresses,
// and the veths this daemon made (and with them bridges no network has; see sweep).
func (c *Controller) Restore(sbs []*Sandbox) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sb := range sbs {
		sb = sb.clone()
		c.sandbox[sb.ContainerID] = sb
		c.ports.mark(sb.ContainerID, sb.Bindings)
		if err := c.nameLocked(sb); err != nil {
			c.log.Warn("restore names", "container", sb.ContainerID, "err", err)
		}
	}
	// Held: by the restored containers, and by any joined meanwhile.
	held := map[string]map[netip.Addr]bool{}
	for _, sb := range c.sandbox {
		for _, ep := range sb.Endpoints {
			for _, p := range []netip.Prefix{ep.IPv4, ep.IPv6} {
				if p.IsValid() {
					k := poolKey(ep.NetworkID, p.Addr().Is4())
					if held[k] == nil {
						held[k] = map[netip.Addr]bool{}
					}
					held[k][p.Addr()] = true
				}
			}
		}
	}
	// Their veths: any other this daemon made belongs to no container now.
	hostIfs := map[string]bool{}
	for _, sb := range c.sandbox {
		for _, ep := range sb.Endpoints {
			hostIfs[ep.HostIf] = true
		}
	}
	c.sweep(hostIfs)
	for key := range c.ipam.Pools() {
		addrs, err := c.ipam.Allocated(key)
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if !held[key][a] {
				c.ipam.Release(key, a)
			}
		}
	}
	return c.applyLocked()
}

// ResolvConf is the resolv.conf of a container attached as sb, from the host's:
// the embedded server's on user-defined networks, the host's servers otherwise.
func (c *Controller) ResolvConf(sb *Sandbox) []byte {
	_, host, _ := dns.HostResolvConf()
	for _, ep := range sb.Endpoints {
		c.mu.Lock()
		n := c.networks[ep.NetworkID]
		c.mu.Unlock()
		if n != nil && n.UserDefined() {
			return dns.UserNetworkResolvConf(host, sb.DNS.overrides())
		}
	}
	return dns.DefaultBridgeResolvConf(host, sb.DNS.overrides(), false)
}

// SetPorts replaces the published ports of a running container with reqs: the new
// ones are allocated first (the container's current ports do not count as taken), then
// the firewall swaps them in. On failure the container keeps the ports it had.
func (c *Controller) SetPorts(containerID string, reqs []PortRequest) (_ *Sandbox, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sb := c.sandbox[containerID]
	if sb == nil {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", containerID))
	}
	old := sb.Bindings
	c.ports.release(old)
	defer func() {
		if err != nil {
			c.ports.mark(containerID, old)
		}
	}()
	gw := sb.Endpoints[0]
	bs, err := c.ports.allocate(containerID, reqs, gw.IPv4.Addr(), gw.IPv6.Addr())
	if err != nil {
		return nil, err
	}
	mappings := func(bs []Binding) []firewall.PortMapping {
		var ms []firewall.PortMapping
		for _, b := range bs {
			ms = append(ms, b.mapping())
		}
		return ms
	}
	if err := c.fw.RemovePorts(mappings(old)...); err != nil {
		c.ports.release(bs)
		return nil, fmt.Errorf("unpublish ports: %w", err)
	}
	if err := c.fw.AddPorts(mappings(bs)...); err != nil {
		c.ports.release(bs)
		if rerr := c.fw.AddPorts(mappings(old)...); rerr != nil {
			c.log.Warn("republish ports after a failed update", "container", containerID, "err", rerr)
		}
		return nil, fmt.Errorf("publish ports: %w", err)
	}
	sb.Bindings = bs
	return sb.clone(), nil
}
