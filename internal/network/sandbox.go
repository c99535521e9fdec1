package network

import (
	"maps"
	"net/netip"
	"slices"

	"github.com/berth-engine/berth/internal/network/dns"
)

// EndpointRequest asks to attach a container to one network.
type EndpointRequest struct {
	Network string // ID or name
	// IPv4 and IPv6 are addresses asked for (--ip, --ip6); zero: the next free one.
	IPv4, IPv6 netip.Addr
	MAC        string
	Aliases    []string
	// Links are legacy links on a user-defined network (--link NAME:ALIAS with
	// --network, or network connect --link), by alias: the container holding them
	// finds the container NAME as ALIAS through the embedded DNS server, as Docker's.
	// Nobody else sees the alias, and NAME need not exist yet.
	Links map[string]string
}

// Endpoint is a container's place on one network.
type Endpoint struct {
	ID            string       `json:"id"`
	NetworkID     string       `json:"networkID"`
	NetworkName   string       `json:"networkName"`
	ContainerID   string       `json:"containerID"`
	ContainerName string       `json:"containerName"`
	IfName        string       `json:"ifName"` // eth0, eth1...
	HostIf        string       `json:"hostIf"`
	IPv4          netip.Prefix `json:"ipv4,omitzero"`
	IPv6          netip.Prefix `json:"ipv6,omitzero"`
	Gateway4      netip.Addr   `json:"gateway4,omitzero"`
	Gateway6      netip.Addr   `json:"gateway6,omitzero"`
	MAC           string       `json:"mac"`
	Aliases       []string     `json:"aliases,omitempty"`
	// Links: see EndpointRequest.Links.
	Links map[string]string `json:"links,omitempty"`
}

// DNSConfig is a container's own --dns, --dns-search and --dns-option.
type DNSConfig struct {
	Servers []netip.Addr `json:"servers,omitempty"`
	Search  []string     `json:"search,omitempty"`
	Options []string     `json:"options,omitempty"`
}

func (d DNSConfig) overrides() dns.Overrides {
	return dns.Overrides{Nameservers: d.Servers, Search: d.Search, Options: d.Options}
}

// Sandbox is a container's networking: its network namespace, its endpoints (the
// first one gives its default route and carries its published ports) and the ports.
// The daemon keeps it in the container's record, for Leave and for Restore after a
// restart.
type Sandbox struct {
	ContainerID string     `json:"containerID"`
	Name        string     `json:"name"`
	Hostname    string     `json:"hostname"`
	NetNS       string     `json:"-"` // /proc/PID/ns/net while the container runs
	Endpoints   []Endpoint `json:"endpoints"`
	Bindings    []Binding  `json:"bindings,omitempty"`
	DNS         DNSConfig  `json:"dns"`
}

// JoinRequest attaches a container that is created, not yet started.
type JoinRequest struct {
	ContainerID, Name, Hostname string
	NetNS                       string // its network namespace: /proc/PID/ns/net
	Endpoints                   []EndpointRequest
	Ports                       []PortRequest
	DNS                         DNSConfig
}

func (sb *Sandbox) clone() *Sandbox {
	c := *sb
	c.Endpoints = slices.Clone(sb.Endpoints)
	for i := range c.Endpoints {
		c.Endpoints[i].Aliases = slices.Clone(c.Endpoints[i].Aliases)
		c.Endpoints[i].Links = maps.Clone(c.Endpoints[i].Links)
	}
	c.Bindings = slices.Clone(sb.Bindings)
	return &c
}
