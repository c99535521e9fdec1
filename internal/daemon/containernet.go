package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	networktypes "github.com/moby/moby/api/types/network"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/network"
	"github.com/berth-engine/berth/internal/network/firewall"
)

// A container's networks, as the daemon drives internal/network: at create the
// networks it names are checked and recorded (HostConfig.NetworkMode, and the
// endpoints of NetworkingConfig in the record's NetworkConfig); at each start, once
// the runtime has made its network namespace and before its program runs, it joins
// them (addresses, veths, published ports, names) and gets its hosts and resolv.conf;
// at its exit it leaves them. The Sandbox that Join returns is kept in the record, so
// that a new berthd gives it back to the network controller (Restore).

// hasOwnNetwork says whether the container gets a network namespace with berth's
// networks in it: not --network host, none, or container:X, not NetworkDisabled.
func hasOwnNetwork(s *ctr.Container) bool {
	nm := s.HostConfig.NetworkMode
	return !s.Config.NetworkDisabled && !nm.IsHost() && !nm.IsNone() && !nm.IsContainer()
}

// primaryNetwork is the network named by the container's network mode.
func primaryNetwork(nm container.NetworkMode) string {
	if nm == "" || nm.IsDefault() || nm.IsBridge() {
		return network.DefaultBridgeName
	}
	return string(nm)
}

// checkNetworks refuses, at create, networks that do not exist or options that make
// no sense for them, as Docker does; it returns the endpoint configs to record.
func (d *Daemon) checkNetworks(hc *container.HostConfig, cfg *container.Config, nc *networktypes.NetworkingConfig) (map[string]*networktypes.EndpointSettings, error) {
	nm := hc.NetworkMode
	asked := map[string]*networktypes.EndpointSettings{}
	if nc != nil {
		for name, es := range nc.EndpointsConfig {
			asked[name] = es.Copy()
		}
	}
	if d.net == nil || nm.IsContainer() || nm.IsHost() || nm.IsNone() {
		if len(asked) == 0 {
			return nil, nil
		}
		return asked, nil
	}
	names := []string{primaryNetwork(nm)}
	for name := range asked {
		if name != names[0] && !(names[0] == network.DefaultBridgeName && (name == "default" || name == "bridge")) {
			names = append(names, name)
		}
	}
	// Recorded by network name: the networks the container joins at each start;
	// network connect and disconnect change the set.
	eps := map[string]*networktypes.EndpointSettings{}
	for _, name := range names {
		n, err := d.net.Get(name)
		if err != nil {
			// Not a 404: the docker CLI takes a 404 from create for a missing image
			// and goes to pull it.
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network %s not found", name))
		}
		if n.Driver != network.DriverBridge && len(names) > 1 {
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container cannot be connected to network %s with other networks", n.Name))
		}
		es := endpointConfig(asked, name, n)
		// What only user-defined networks take, refused at create as Docker does.
		if n.Default && es != nil {
			if ipam := es.IPAMConfig; ipam != nil && (ipam.IPv4Address.IsValid() || ipam.IPv6Address.IsValid()) {
				return nil, cerrdefs.ErrInvalidArgument.WithMessage("user specified IP address is supported on user defined networks only")
			}
			if len(es.Aliases) > 0 {
				return nil, cerrdefs.ErrInvalidArgument.WithMessage("network-scoped alias is supported only for containers in user defined networks")
			}
		}
		if es == nil {
			es = &networktypes.EndpointSettings{}
		}
		eps[n.Name] = es
	}
	if _, err := portRequests(hc, cfg); err != nil {
		return nil, err
	}
	return eps, nil
}

// joinedNetworks are the networks the container joins at start, the one of its
// network mode first (it gives the default route and carries the published ports),
// then the others by name. A record from before networks were recorded by name
// (NetworkConfig nil) joins its network mode's.
func joinedNetworks(s *ctr.Container) []string {
	primary := primaryNetwork(s.HostConfig.NetworkMode)
	if s.NetworkConfig == nil {
		return []string{primary}
	}
	var out, rest []string
	for name := range s.NetworkConfig {
		if name == primary {
			out = append(out, name)
		} else {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// endpointConfig finds the endpoint settings recorded for network name.
func endpointConfig(eps map[string]*networktypes.EndpointSettings, name string, n *network.Network) *networktypes.EndpointSettings {
	for _, k := range []string{name, n.Name, n.ID} {
		if es := eps[k]; es != nil {
			return es
		}
	}
	if n.Default {
		if es := eps["default"]; es != nil {
			return es
		}
	}
	return nil
}

// endpointRequest is what the network controller needs of an endpoint's settings.
// Their Links (NAME[:ALIAS], legacy links on a user-defined network) become aliases
// in the embedded DNS server; a malformed one is refused in Docker's words.
func endpointRequest(name string, es *networktypes.EndpointSettings) (network.EndpointRequest, error) {
	r := network.EndpointRequest{Network: name}
	if es == nil {
		return r, nil
	}
	if es.IPAMConfig != nil {
		r.IPv4, r.IPv6 = es.IPAMConfig.IPv4Address, es.IPAMConfig.IPv6Address
	}
	if len(es.MacAddress) > 0 {
		r.MAC = es.MacAddress.String()
	}
	r.Aliases = slices.Clone(es.Aliases)
	for _, spec := range es.Links {
		switch {
		case spec == "":
			return r, cerrdefs.ErrInvalidArgument.WithMessage("empty string specified for links")
		case strings.Count(spec, ":") > 1:
			return r, cerrdefs.ErrInvalidArgument.WithMessage("bad format for links: " + spec)
		}
		target, alias := linkParts(spec)
		if r.Links == nil {
			r.Links = map[string]string{}
		}
		r.Links[alias] = target
	}
	return r, nil
}

// joinNetworks attaches the created container (its init is pid) to its networks,
// and writes its hosts and resolv.conf. nil when it has no network of its own.
func (d *Daemon) joinNetworks(s *ctr.Container, pid int, links []link) (*network.Sandbox, error) {
	if d.net == nil || !hasOwnNetwork(s) {
		return nil, nil
	}
	var reqs []network.EndpointRequest
	for _, name := range joinedNetworks(s) {
		n, err := d.net.Get(name)
		if err != nil {
			return nil, cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", name))
		}
		if n.Driver == network.DriverNull || n.Driver == network.DriverHost {
			return nil, nil
		}
		req, err := endpointRequest(n.ID, endpointConfig(s.NetworkConfig, name, n))
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, req)
	}
	if len(reqs) == 0 {
		return nil, nil // disconnected from every network: loopback only
	}
	ports, err := portRequests(s.HostConfig, s.Config)
	if err != nil {
		return nil, err
	}
	sb, err := d.net.Join(network.JoinRequest{
		ContainerID: s.ID, Name: strings.TrimPrefix(s.Name, "/"), Hostname: s.Config.Hostname,
		NetNS:     fmt.Sprintf("/proc/%d/ns/net", pid),
		Endpoints: reqs, Ports: ports,
		DNS: network.DNSConfig{Servers: s.HostConfig.DNS, Search: s.HostConfig.DNSSearch, Options: s.HostConfig.DNSOptions},
	})
	if err != nil {
		return nil, err
	}
	if err := d.writeNetworkFiles(s, sb, links); err != nil {
		d.net.Leave(sb)
		return nil, err
	}
	return sb, nil
}

// writeNetworkFiles rewrites the container's hosts and resolv.conf in place (they
// are bind-mounted into it already: a rename would leave it the old file).
func (d *Daemon) writeNetworkFiles(s *ctr.Container, sb *network.Sandbox, links []link) error {
	hosts := hostsFile(s, sb, d.hostGateway())
	for _, l := range links {
		hosts = append(hosts, fmt.Sprintf("%s\t%s %s %s\n", l.ip, l.alias, l.id[:12], l.name)...)
	}
	if err := writeInPlace(s.HostsPath, hosts); err != nil {
		return fmt.Errorf("container %s: hosts: %w", s.ID, err)
	}
	if err := writeInPlace(s.ResolvConfPath, d.net.ResolvConf(sb)); err != nil {
		return fmt.Errorf("container %s: resolv.conf: %w", s.ID, err)
	}
	return nil
}

func writeInPlace(path string, data []byte) error {
	return os.WriteFile(path, data, 0o644)
}

// hostGateway is the address --add-host NAME:host-gateway stands for: the default
// bridge's gateway, as Docker's.
func (d *Daemon) hostGateway() netip.Addr {
	if d.net == nil {
		return netip.Addr{}
	}
	n, err := d.net.Get(network.DefaultBridgeName)
	if err != nil || n.IPv4 == nil {
		return netip.Addr{}
	}
	return n.IPv4.Gateway
}

// hostsFile is a container's /etc/hosts: localhost, its own addresses with its host
// name, and --add-host entries.
func hostsFile(s *ctr.Container, sb *network.Sandbox, hostGateway netip.Addr) []byte {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::\tip6-localnet\nff00::\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	for _, h := range s.HostConfig.ExtraHosts {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			name, ip, ok = strings.Cut(h, "=")
		}
		if !ok {
			continue
		}
		if ip == "host-gateway" && hostGateway.IsValid() {
			ip = hostGateway.String()
		}
		fmt.Fprintf(&b, "%s\t%s\n", strings.Trim(ip, "[]"), name)
	}
	host := s.Config.Hostname
	if s.Config.Domainname != "" {
		host += "." + s.Config.Domainname + " " + s.Config.Hostname
	}
	if sb != nil {
		for _, ep := range sb.Endpoints {
			for _, p := range []netip.Prefix{ep.IPv4, ep.IPv6} {
				if p.IsValid() {
					fmt.Fprintf(&b, "%s\t%s\n", p.Addr(), host)
				}
			}
		}
	}
	return []byte(b.String())
}

// portRequests turns -p (PortBindings) and -P (PublishAllPorts over ExposedPorts)
// into the network's requests.
func portRequests(hc *container.HostConfig, cfg *container.Config) ([]network.PortRequest, error) {
	var out []network.PortRequest
	var keys []networktypes.Port
	for p := range hc.PortBindings {
		keys = append(keys, p)
	}
	if hc.PublishAllPorts {
		for p := range cfg.ExposedPorts {
			if _, ok := hc.PortBindings[p]; !ok {
				keys = append(keys, p)
			}
		}
	}
	slices.SortFunc(keys, func(a, b networktypes.Port) int {
		if a.Num() != b.Num() {
			return int(a.Num()) - int(b.Num())
		}
		return strings.Compare(string(a.Proto()), string(b.Proto()))
	})
	for _, p := range keys {
		proto := firewall.Protocol(p.Proto())
		switch proto {
		case firewall.TCP, firewall.UDP, firewall.SCTP:
		default:
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid proto: %s", p.Proto()))
		}
		bindings := hc.PortBindings[p]
		if len(bindings) == 0 {
			bindings = []networktypes.PortBinding{{}}
		}
		for _, b := range bindings {
			// 0.0.0.0 and :: stay as given: each publishes on its own family only.
			r := network.PortRequest{Proto: proto, HostIP: b.HostIP, ContainerPort: p.Num()}
			if b.HostPort != "" {
				lo, hi, err := parsePortRange(b.HostPort)
				if err != nil {
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port specification: %q", b.HostPort))
				}
				r.HostPort, r.HostPortEnd = lo, hi
			}
			if err := r.Validate(); err != nil {
				return nil, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func parsePortRange(s string) (uint16, uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return uint16(a), 0, nil
	}
	b, err := strconv.ParseUint(hi, 10, 16)
	if err != nil || b < a {
		return 0, 0, fmt.Errorf("bad range %q", s)
	}
	return uint16(a), uint16(b), nil
}

// networkSettings is inspect's NetworkSettings: the endpoints of a running
// container, the configured networks of a stopped one, and its ports.
func (d *Daemon) networkSettings(s *ctr.Container) *container.NetworkSettings {
	ns := &container.NetworkSettings{Networks: map[string]*networktypes.EndpointSettings{}, Ports: networktypes.PortMap{}}
	for p := range s.Config.ExposedPorts {
		ns.Ports[p] = nil
	}
	for p := range s.HostConfig.PortBindings {
		ns.Ports[p] = nil
	}
	sb := s.Network
	if sb != nil && s.State.Running() {
		ns.SandboxID = sb.ContainerID
		ns.SandboxKey = fmt.Sprintf("/proc/%d/ns/net", s.State.Pid)
		for _, ep := range sb.Endpoints {
			es := endpointConfig(s.NetworkConfig, ep.NetworkName, &network.Network{ID: ep.NetworkID, Name: ep.NetworkName}).Copy()
			if es == nil {
				es = &networktypes.EndpointSettings{}
			}
			es.NetworkID, es.EndpointID = ep.NetworkID, ep.ID
			if ep.IPv4.IsValid() {
				es.IPAddress, es.IPPrefixLen, es.Gateway = ep.IPv4.Addr(), ep.IPv4.Bits(), ep.Gateway4
			}
			if ep.IPv6.IsValid() {
				es.GlobalIPv6Address, es.GlobalIPv6PrefixLen, es.IPv6Gateway = ep.IPv6.Addr(), ep.IPv6.Bits(), ep.Gateway6
			}
			if mac, err := net.ParseMAC(ep.MAC); err == nil {
				es.MacAddress = networktypes.HardwareAddr(mac)
			}
			es.Aliases = ep.Aliases
			if ep.NetworkName != network.DefaultBridgeName {
				es.DNSNames = append([]string{strings.TrimPrefix(s.Name, "/"), s.ID[:12]}, ep.Aliases...)
			}
			ns.Networks[ep.NetworkName] = es
		}
		for _, b := range sb.Bindings {
			p, err := networktypes.ParsePort(fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto))
			if err != nil {
				continue
			}
			ns.Ports[p] = append(ns.Ports[p], networktypes.PortBinding{HostIP: b.HostAddr(), HostPort: strconv.Itoa(int(b.HostPort))})
		}
		return ns
	}
	if hasOwnNetwork(s) || s.HostConfig.NetworkMode.IsHost() || s.HostConfig.NetworkMode.IsNone() {
		for _, name := range joinedNetworks(s) {
			if d.net != nil {
				if n, err := d.net.Get(name); err == nil {
					name = n.Name
				}
			}
			es := s.NetworkConfig[name].Copy()
			if es == nil {
				es = &networktypes.EndpointSettings{}
			}
			ns.Networks[name] = es
		}
	}
	return ns
}

// portSummaries are ps's PORTS: the bindings of a running container, the exposed
// ports of any.
func portSummaries(s *ctr.Container) []container.PortSummary {
	out := []container.PortSummary{}
	bound := map[string]bool{}
	if s.Network != nil && s.State.Running() {
		for _, b := range s.Network.Bindings {
			out = append(out, container.PortSummary{IP: b.HostAddr(), PrivatePort: b.ContainerPort, PublicPort: b.HostPort, Type: string(b.Proto)})
			bound[fmt.Sprintf("%d/%s", b.ContainerPort, b.Proto)] = true
		}
	}
	for p := range s.Config.ExposedPorts {
		if !bound[p.String()] {
			out = append(out, container.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
	}
	return out
}

// link is one legacy --link NAME:ALIAS, resolved at start: the linked container's
// address on the default bridge, its exposed ports and environment.
type link struct {
	name, alias, id string
	ip              netip.Addr
	ports           []networktypes.Port
	env             []string
}

// linkParts splits a --link spec, NAME[:ALIAS] or Docker's stored form
// /NAME:/PARENT/ALIAS, into the linked container's name and the alias.
func linkParts(spec string) (name, alias string) {
	name, alias, _ = strings.Cut(spec, ":")
	name = strings.TrimPrefix(name, "/")
	if alias == "" {
		alias = name
	}
	return name, alias[strings.LastIndex(alias, "/")+1:]
}

// legacyLinks are the container's --link specs that make legacy links (hosts
// entries, environment, the /PARENT/ALIAS names). Docker makes them only for a
// container whose network mode is not a user-defined network: with one, the docker
// CLI sends the --link specs in that network's endpoint settings too, where they are
// aliases in the embedded DNS server (see endpointRequest), and Docker ignores the
// HostConfig copy (the linked container need not exist yet).
func legacyLinks(s *ctr.Container) []string {
	if nm := s.HostConfig.NetworkMode; nm != "" && nm.IsUserDefined() {
		return nil
	}
	return s.HostConfig.Links
}

// linkNames are the names legacy links give containers, /PARENT/ALIAS, by the
// linked container's ID: docker ps lists them beside the container's own name.
func (d *Daemon) linkNames(all []*ctr.Container) map[string][]string {
	var names map[string][]string
	for _, c := range all {
		s := c.Snapshot()
		for _, spec := range legacyLinks(s) {
			name, alias := linkParts(spec)
			if target, err := d.containers.Get(name); err == nil {
				if names == nil {
					names = map[string][]string{}
				}
				names[target.ID] = append(names[target.ID], s.Name+"/"+alias)
			}
		}
	}
	return names
}

// removeLink is docker rm --link /PARENT/ALIAS: PARENT forgets the link, both
// containers stay.
func (d *Daemon) removeLink(name string) error {
	full := "/" + strings.TrimPrefix(name, "/")
	parent, alias := path.Split(full)
	if parent == "/" {
		return cerrdefs.ErrInvalidArgument.WithMessage("Conflict, cannot remove the default link name of the container")
	}
	c, err := d.containers.Get(strings.Trim(parent, "/"))
	if err != nil {
		return cerrdefs.ErrNotFound.WithMessage("No such container: " + strings.TrimPrefix(name, "/"))
	}
	c.Lock()
	defer c.Unlock()
	links := c.HostConfig.Links
	kept := slices.DeleteFunc(slices.Clone(links), func(spec string) bool {
		_, a := linkParts(spec)
		return a == alias
	})
	if len(kept) == len(links) {
		return cerrdefs.ErrNotFound.WithMessage("No such container: " + strings.TrimPrefix(name, "/"))
	}
	c.HostConfig.Links = kept
	return d.containers.Save(c)
}

// resolveLinks resolves --link: each linked container must be running, on the
// default bridge as this one, as Docker's legacy links are.
func (d *Daemon) resolveLinks(s *ctr.Container) ([]link, error) {
	var out []link
	for _, spec := range legacyLinks(s) {
		name, alias := linkParts(spec)
		c, err := d.containers.Get(name)
		if err != nil {
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("could not get container for %s", name))
		}
		ls := c.Snapshot()
		if !ls.State.Running() {
			return nil, cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot link to a non running container: %s AS /%s/%s", ls.Name, strings.TrimPrefix(s.Name, "/"), alias))
		}
		l := link{name: strings.TrimPrefix(ls.Name, "/"), alias: alias, id: ls.ID, env: ls.Config.Env}
		if ls.Network != nil {
			for _, ep := range ls.Network.Endpoints {
				if ep.NetworkName == network.DefaultBridgeName && ep.IPv4.IsValid() {
					l.ip = ep.IPv4.Addr()
				}
			}
		}
		if !l.ip.IsValid() {
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot link to %s: legacy links work on the default bridge network only", l.name))
		}
		for p := range ls.Config.ExposedPorts {
			l.ports = append(l.ports, p)
		}
		slices.SortFunc(l.ports, func(a, b networktypes.Port) int { return int(a.Num()) - int(b.Num()) })
		out = append(out, l)
	}
	return out, nil
}

// linkEnv is the environment Docker's legacy links give the container named
// recipient: ALIAS_PORT_80_TCP=tcp://IP:80 and its parts, ALIAS_PORT (the lowest
// port), ALIAS_NAME=/recipient/alias and ALIAS_ENV_<VAR>.
func linkEnv(recipient string, links []link) []string {
	var env []string
	for _, l := range links {
		prefix := strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(l.alias))
		for i, p := range l.ports {
			proto := strings.ToLower(string(p.Proto()))
			url := fmt.Sprintf("%s://%s:%d", proto, l.ip, p.Num())
			if i == 0 {
				env = append(env, prefix+"_PORT="+url)
			}
			k := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Num(), strings.ToUpper(proto))
			env = append(env, k+"="+url, k+"_ADDR="+l.ip.String(), fmt.Sprintf("%s_PORT=%d", k, p.Num()), k+"_PROTO="+proto)
		}
		env = append(env, prefix+"_NAME=/"+recipient+"/"+l.alias)
		for _, e := range l.env {
			k, v, _ := strings.Cut(e, "=")
			switch k {
			case "HOME", "HOSTNAME", "PATH":
				continue
			}
			env = append(env, prefix+"_ENV_"+k+"="+v)
		}
	}
	return env
}

// networkRoot is where the network controller keeps its state.
func (d *Daemon) networkRoot() string { return filepath.Join(d.cfg.DataRoot, "network") }

// ContainerUpdatePorts replaces a container's published ports (berth's extension of
// update, moby#21282): recorded for its next starts, and for a running container
// changed at once: the new ports are published, the old ones withdrawn; on failure it
// keeps the ones it had.
func (d *Daemon) ContainerUpdatePorts(ctx context.Context, name string, ports networktypes.PortMap) error {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return err
	}
	defer unlock()
	s := c.Snapshot()
	hc := *s.HostConfig
	hc.PortBindings = ports
	reqs, err := portRequests(&hc, s.Config)
	if err != nil {
		return err
	}
	var sb *network.Sandbox
	if s.State.Running() && s.Network != nil && d.net != nil {
		if sb, err = d.net.SetPorts(s.ID, reqs); err != nil {
			return err
		}
	} else if s.State.Running() && len(ports) > 0 {
		return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("container %s has no network of its own to publish ports on", s.ID))
	}
	c.Lock()
	c.HostConfig = &hc
	if sb != nil {
		c.Network = sb
	}
	err = d.containers.Save(c)
	c.Unlock()
	if err != nil {
		return err
	}
	d.containerEvent(c.Snapshot(), eventtypes.ActionUpdate, nil)
	return nil
}
