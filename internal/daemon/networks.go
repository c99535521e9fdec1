package daemon

import (
	"context"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	eventtypes "github.com/moby/moby/api/types/events"
	networktypes "github.com/moby/moby/api/types/network"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/network"
)

// errNoNetworking answers network requests when berthd runs with --bridge none.
var errNoNetworking = cerrdefs.ErrUnavailable.WithMessage("networking is off in this berthd (--bridge none)")

// apiNetwork is a network in the API's shape. IPAM.Options are what the network
// was created with, null when none were sent, as Docker shows them.
func apiNetwork(n *network.Network) networktypes.Network {
	out := networktypes.Network{
		Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver,
		EnableIPv4: n.IPv4 != nil, EnableIPv6: n.EnableIPv6, Internal: n.Internal, Attachable: n.Attachable,
		IPAM:    networktypes.IPAM{Driver: "default", Options: n.IPAMOptions, Config: []networktypes.IPAMConfig{}},
		Options: n.Options, Labels: n.Labels,
	}
	if out.Options == nil {
		out.Options = map[string]string{}
	}
	if n.Default {
		// The default bridge's options as dockerd shows them (tools read
		// default_bridge to find it).
		out.Options = maps.Clone(out.Options)
		mtu := n.MTU
		if mtu == 0 {
			mtu = 1500
		}
		out.Options["com.docker.network.bridge.default_bridge"] = "true"
		out.Options["com.docker.network.bridge.host_binding_ipv4"] = "0.0.0.0"
		out.Options["com.docker.network.driver.mtu"] = strconv.Itoa(mtu)
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	for _, s := range []*network.Subnet{n.IPv4, n.IPv6} {
		if s != nil {
			out.IPAM.Config = append(out.IPAM.Config, networktypes.IPAMConfig{Subnet: s.Prefix, IPRange: s.Range, Gateway: s.Gateway, AuxAddress: s.Aux})
		}
	}
	return out
}

// NetworkList answers GET /networks with the networks its filters select (name by
// regular expression and id by prefix as Docker's, driver, label, label!, type=custom|builtin, dangling).
func (d *Daemon) NetworkList(ctx context.Context, filters map[string][]string) ([]networktypes.Summary, error) {
	if d.net == nil {
		return []networktypes.Summary{}, nil
	}
	for k, vs := range filters {
		switch k {
		case "id", "driver", "label", "label!", "scope", "type":
		case "name":
			for _, v := range vs {
				if _, err := regexp.Compile(v); err != nil {
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'name=%s': %v", v, err))
				}
			}
		case "dangling":
			for _, v := range vs {
				if v != "true" && v != "false" && v != "1" && v != "0" {
					return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'dangling=%s'", v))
				}
			}
		default:
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	out := []networktypes.Summary{}
	for _, n := range d.net.List() {
		if !d.networkMatches(n, filters) {
			continue
		}
		out = append(out, networktypes.Summary{Network: apiNetwork(n)})
	}
	return out, nil
}

func (d *Daemon) networkMatches(n *network.Network, f map[string][]string) bool {
	anyOf := func(key string, ok func(v string) bool) bool {
		vs := f[key]
		if len(vs) == 0 {
			return true
		}
		for _, v := range vs {
			if ok(v) {
				return true
			}
		}
		return false
	}
	// A name filter is a regular expression, as Docker's (a plain word matches
	// anywhere in the name).
	if !anyOf("name", func(v string) bool { m, _ := regexp.MatchString(v, n.Name); return m }) ||
		!anyOf("id", func(v string) bool { return strings.HasPrefix(n.ID, v) }) ||
		!anyOf("driver", func(v string) bool { return v == n.Driver }) ||
		!anyOf("scope", func(v string) bool { return v == "local" }) ||
		!anyOf("type", func(v string) bool { return v == "custom" && !n.Predefined || v == "builtin" && n.Predefined }) ||
		!labelsMatch(n.Labels, f) {
		return false
	}
	return anyOf("dangling", func(v string) bool {
		eps, _ := d.net.Endpoints(n.ID)
		dangling := !n.Predefined && len(eps) == 0
		return (v == "true" || v == "1") == dangling
	})
}

// labelsMatch applies the label (key or key=value, all must match) and label!
// (none may) filters to labels.
func labelsMatch(labels map[string]string, f map[string][]string) bool {
	has := func(l string) bool {
		k, v, withValue := strings.Cut(l, "=")
		got, ok := labels[k]
		return ok && (!withValue || got == v)
	}
	for _, l := range f["label"] {
		if !has(l) {
			return false
		}
	}
	for _, l := range f["label!"] {
		if has(l) {
			return false
		}
	}
	return true
}

// NetworkInspect answers GET /networks/{id}: the network and the containers on it.
func (d *Daemon) NetworkInspect(ctx context.Context, ref string, verbose bool, scope string) (networktypes.Inspect, error) {
	if d.net == nil {
		return networktypes.Inspect{}, errNoNetworking
	}
	n, err := d.net.Get(ref)
	if err != nil {
		return networktypes.Inspect{}, err
	}
	if scope != "" && scope != "local" {
		return networktypes.Inspect{}, cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("network %s not found", ref))
	}
	out := networktypes.Inspect{Network: apiNetwork(n), Containers: map[string]networktypes.EndpointResource{}}
	eps, _ := d.net.Endpoints(n.ID)
	for _, ep := range eps {
		r := networktypes.EndpointResource{Name: ep.ContainerName, EndpointID: ep.ID, IPv4Address: ep.IPv4, IPv6Address: ep.IPv6}
		if mac, err := net.ParseMAC(ep.MAC); err == nil {
			r.MacAddress = networktypes.HardwareAddr(mac)
		}
		out.Containers[ep.ContainerID] = r
	}
	return out, nil
}

// NetworkCreate answers POST /networks/create.
func (d *Daemon) NetworkCreate(ctx context.Context, req networktypes.CreateRequest) (networktypes.CreateResponse, error) {
	if d.net == nil {
		return networktypes.CreateResponse{}, errNoNetworking
	}
	if req.Scope != "" && req.Scope != "local" {
		return networktypes.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("network scope %q is not supported: berth networks are local", req.Scope))
	}
	if req.ConfigOnly || req.ConfigFrom != nil || req.Ingress {
		return networktypes.CreateResponse{}, cerrdefs.ErrNotImplemented.WithMessage("config-only, config-from and ingress networks are swarm features berth does not have yet")
	}
	if req.EnableIPv4 != nil && !*req.EnableIPv4 {
		return networktypes.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage("berth bridge networks need IPv4")
	}
	cr := network.CreateRequest{
		Name: req.Name, Driver: req.Driver, Internal: req.Internal, Attachable: req.Attachable,
		EnableIPv6: req.EnableIPv6 != nil && *req.EnableIPv6, Labels: req.Labels, Options: req.Options,
	}
	if req.IPAM != nil {
		if req.IPAM.Driver != "" && req.IPAM.Driver != "default" {
			return networktypes.CreateResponse{}, cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("IPAM driver %q not found", req.IPAM.Driver))
		}
		cr.IPAMOptions = req.IPAM.Options
		for _, c := range req.IPAM.Config {
			if !c.Subnet.IsValid() {
				if c.Gateway.IsValid() || c.IPRange.IsValid() {
					return networktypes.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage("a gateway or an ip-range needs a subnet")
				}
				continue
			}
			if c.Gateway.IsValid() && !c.Subnet.Contains(c.Gateway) {
				return networktypes.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("gateway %s is not in subnet %s", c.Gateway, c.Subnet))
			}
			if c.IPRange.IsValid() && (!c.Subnet.Contains(c.IPRange.Addr()) || c.IPRange.Bits() < c.Subnet.Bits()) {
				return networktypes.CreateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("ip-range %s is not in subnet %s", c.IPRange, c.Subnet))
			}
			cr.Subnets = append(cr.Subnets, network.SubnetRequest{Prefix: c.Subnet, Gateway: c.Gateway, Range: c.IPRange, Aux: c.AuxAddress})
		}
	}
	n, err := d.net.Create(cr)
	if err != nil {
		return networktypes.CreateResponse{}, err
	}
	d.networkEvent(eventtypes.ActionCreate, n, "")
	return networktypes.CreateResponse{ID: n.ID}, nil
}

// NetworkRemove answers DELETE /networks/{id}.
func (d *Daemon) NetworkRemove(ctx context.Context, ref string) error {
	if d.net == nil {
		return errNoNetworking
	}
	n, err := d.net.Get(ref)
	if err != nil {
		return err
	}
	if err := d.net.Remove(n.ID); err != nil {
		return err
	}
	d.networkEvent(eventtypes.ActionDestroy, n, "")
	return nil
}

// lockForNetwork finds the network and the container of a connect or disconnect and
// takes the container's operation lock; unlock releases it.
func (d *Daemon) lockForNetwork(ref, container string) (_ *network.Network, _ *ctr.Container, unlock func(), _ error) {
	if d.net == nil {
		return nil, nil, nil, errNoNetworking
	}
	n, err := d.net.Get(ref)
	if err != nil {
		return nil, nil, nil, err
	}
	c, unlock, err := d.lockContainer(container)
	if err != nil {
		return nil, nil, nil, err
	}
	return n, c, unlock, nil
}

// NetworkConnect answers POST /networks/{id}/connect: a running container joins at
// once, a stopped one at its next start.
func (d *Daemon) NetworkConnect(ctx context.Context, ref string, req networktypes.ConnectRequest) error {
	n, c, unlock, err := d.lockForNetwork(ref, req.Container)
	if err != nil {
		return err
	}
	defer unlock()
	s := c.Snapshot()
	if !hasOwnNetwork(s) {
		return cerrdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("container sharing network namespace with another container or host cannot be connected to any other network"))
	}
	if n.Driver != network.DriverBridge {
		return cerrdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("container cannot be disconnected from host network or connected to host network"))
	}
	if slices.Contains(joinedNetworks(s), n.Name) {
		return cerrdefs.ErrPermissionDenied.WithMessage(fmt.Sprintf("endpoint with name %s already exists in network %s", strings.TrimPrefix(s.Name, "/"), n.Name))
	}
	es := req.EndpointConfig.Copy()
	if es == nil {
		es = &networktypes.EndpointSettings{}
	}
	epReq, err := endpointRequest(n.ID, es)
	if err != nil {
		return err
	}
	configs := map[string]*networktypes.EndpointSettings{}
	for _, k := range joinedNetworks(s) {
		configs[k] = s.NetworkConfig[k]
		if configs[k] == nil {
			configs[k] = &networktypes.EndpointSettings{}
		}
	}
	configs[n.Name] = es
	var sb *network.Sandbox
	if s.State.Running() && s.Network != nil {
		if sb, err = d.net.Connect(s.ID, epReq); err != nil {
			return err
		}
		links, _ := d.resolveLinks(s)
		if err := d.writeNetworkFiles(s, sb, links); err != nil {
			d.log.Warn("container files after connect", "id", s.ID, "err", err)
		}
	}
	c.Lock()
	c.NetworkConfig = configs
	if sb != nil {
		c.Network = sb
	}
	return d.saveNetworkChange(c, eventtypes.ActionConnect, n)
}

// NetworkDisconnect answers POST /networks/{id}/disconnect.
func (d *Daemon) NetworkDisconnect(ctx context.Context, ref string, req networktypes.DisconnectRequest) error {
	n, c, unlock, err := d.lockForNetwork(ref, req.Container)
	if err != nil {
		return err
	}
	defer unlock()
	s := c.Snapshot()
	if !slices.Contains(joinedNetworks(s), n.Name) {
		return cerrdefs.ErrNotFound.WithMessage(fmt.Sprintf("container %s is not connected to network %s", s.ID, n.Name))
	}
	var sb *network.Sandbox
	if s.State.Running() && s.Network != nil {
		if sb, err = d.net.Disconnect(s.ID, n.ID); err != nil && !req.Force {
			return err
		}
		if sb != nil {
			links, _ := d.resolveLinks(s)
			if err := d.writeNetworkFiles(s, sb, links); err != nil {
				d.log.Warn("container files after disconnect", "id", s.ID, "err", err)
			}
		}
	}
	// The network mode stays as it was, as Docker keeps it: what the container joins
	// at its next start is the set recorded here (none left: loopback only).
	configs := map[string]*networktypes.EndpointSettings{}
	for _, k := range joinedNetworks(s) {
		if k != n.Name {
			configs[k] = s.NetworkConfig[k]
			if configs[k] == nil {
				configs[k] = &networktypes.EndpointSettings{}
			}
		}
	}
	c.Lock()
	c.NetworkConfig = configs
	if sb != nil {
		c.Network = sb
	}
	return d.saveNetworkChange(c, eventtypes.ActionDisconnect, n)
}

// saveNetworkChange saves c, whose lock the caller holds and which this releases,
// and publishes the connect or disconnect.
func (d *Daemon) saveNetworkChange(c *ctr.Container, action eventtypes.Action, n *network.Network) error {
	err := d.containers.Save(c)
	c.Unlock()
	if err != nil {
		return err
	}
	d.networkEvent(action, n, c.ID)
	return nil
}

// networkEvent publishes a network event as Docker's: the network's ID, name and
// type, and the container concerned if any.
func (d *Daemon) networkEvent(action eventtypes.Action, n *network.Network, container string) {
	attrs := map[string]string{"name": n.Name, "type": n.Driver}
	if container != "" {
		attrs["container"] = container
	}
	d.events.Publish(eventtypes.NetworkEventType, action, eventtypes.Actor{ID: n.ID, Attributes: attrs})
}

// NetworksPrune removes the user-defined networks no container uses or names,
// among those the filters (until, label, label!) select.
func (d *Daemon) NetworksPrune(ctx context.Context, filters map[string][]string) (*networktypes.PruneReport, error) {
	until, err := pruneUntil(filters)
	if err != nil {
		return nil, err
	}
	rep := &networktypes.PruneReport{NetworksDeleted: []string{}}
	if d.net == nil {
		return rep, nil
	}
	named := map[string]bool{}
	for _, c := range d.containers.List() {
		s := c.Snapshot()
		named[primaryNetwork(s.HostConfig.NetworkMode)] = true
		for k := range s.NetworkConfig {
			named[k] = true
		}
	}
	for _, n := range d.net.List() {
		if n.Predefined || named[n.Name] || named[n.ID] || !until.IsZero() && !n.Created.Before(until) || !labelsMatch(n.Labels, filters) {
			continue
		}
		if err := d.NetworkRemove(ctx, n.ID); err != nil {
			d.log.Warn("network prune", "network", n.Name, "err", err)
			continue
		}
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	d.events.Publish(eventtypes.NetworkEventType, eventtypes.ActionPrune, eventtypes.Actor{})
	return rep, nil
}
