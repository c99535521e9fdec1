package network

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// Drivers.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"
)

// Names of the networks every berthd has, as Docker's.
const (
	DefaultBridgeName = "bridge"
	HostName          = "host"
	NoneName          = "none"
)

// Options of a bridge network, by Docker's names (network create -o).
const (
	optBridgeName = "com.docker.network.bridge.name"
	optICC        = "com.docker.network.bridge.enable_icc"
	optMasquerade = "com.docker.network.bridge.enable_ip_masquerade"
	optMTU        = "com.docker.network.driver.mtu"
)

// Network is one network: a bridge with its subnets, or one of the predefined host
// and none networks.
type Network struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Driver  string    `json:"driver"`
	Created time.Time `json:"created"`
	// Bridge is the bridge interface of a bridge network.
	Bridge string `json:"bridge,omitempty"`
	// IPv4 and IPv6 are its subnets. IPv6 is in use (the bridge's address, its
	// containers' addresses) only with EnableIPv6; without, an IPv6 subnet asked for
	// is only recorded and shown, as Docker 20.10 does (no address pool is taken,
	// containers get no IPv6 address, an --ip6 asked for is ignored).
	IPv4       *Subnet `json:"ipv4,omitempty"`
	IPv6       *Subnet `json:"ipv6,omitempty"`
	EnableIPv6 bool    `json:"enableIPv6,omitempty"`
	// IPAMOptions are the IPAM driver options it was created with, kept only to be
	// shown again as Docker does: nil (shown as null) when none were sent, an empty
	// map when an empty one was.
	IPAMOptions map[string]string `json:"ipamOptions"`
	// Internal networks reach nothing outside themselves.
	Internal   bool `json:"internal,omitempty"`
	Attachable bool `json:"attachable,omitempty"`
	// ICC lets its containers talk to each other; Masquerade gives them outbound NAT.
	ICC        bool              `json:"icc"`
	Masquerade bool              `json:"masquerade"`
	MTU        int               `json:"mtu,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Options    map[string]string `json:"options,omitempty"`
	// Predefined networks (bridge, host, none) cannot be removed; the default bridge
	// is the one containers join unless told otherwise, without DNS by name (as
	// Docker's, where --link does that job).
	Predefined bool `json:"predefined,omitempty"`
	Default    bool `json:"default,omitempty"`
}

// Subnet is a network's address plan for one family.
type Subnet struct {
	Prefix  netip.Prefix `json:"prefix"`
	Gateway netip.Addr   `json:"gateway"`
	// Range is where addresses are picked from when none is asked for (--ip-range).
	Range netip.Prefix `json:"range,omitzero"`
	// Aux are addresses never handed out (--aux-address name=ip).
	Aux map[string]netip.Addr `json:"aux,omitempty"`
}

// UserDefined says whether containers on it find each other by name (the embedded
// DNS server): every bridge network but the default one.
func (n *Network) UserDefined() bool { return n.Driver == DriverBridge && !n.Default }

func (n *Network) clone() *Network {
	c := *n
	c.Labels, c.Options, c.IPAMOptions = maps.Clone(n.Labels), maps.Clone(n.Options), maps.Clone(n.IPAMOptions)
	for _, s := range []**Subnet{&c.IPv4, &c.IPv6} {
		if *s != nil {
			cp := **s
			cp.Aux = maps.Clone(cp.Aux)
			*s = &cp
		}
	}
	return &c
}

// subnets are the prefixes in use, IPv4 first: IPv6 only with EnableIPv6.
func (n *Network) subnets() []*Subnet {
	var out []*Subnet
	if n.IPv4 != nil {
		out = append(out, n.IPv4)
	}
	if n.IPv6 != nil && n.EnableIPv6 {
		out = append(out, n.IPv6)
	}
	return out
}

// CreateRequest asks for a new network, as `network create` does.
type CreateRequest struct {
	Name       string
	Driver     string // "" is bridge
	Internal   bool
	Attachable bool
	EnableIPv6 bool
	Labels     map[string]string
	Options    map[string]string
	// IPAMOptions (--ipam-opt) are recorded as given; the default IPAM driver reads
	// none, as Docker's bridge networks'.
	IPAMOptions map[string]string
	// Subnets asked for (--subnet, --gateway, --ip-range, --aux-address); empty: one
	// IPv4 subnet from the default address pools (and an IPv6 one with EnableIPv6
	// only when given). An IPv6 subnet without EnableIPv6 is recorded, not used.
	Subnets []SubnetRequest
}

// SubnetRequest is one --subnet with its companions.
type SubnetRequest struct {
	Prefix  netip.Prefix
	Gateway netip.Addr
	Range   netip.Prefix
	Aux     map[string]netip.Addr
}

// validName is Docker's rule for network names (libnetwork's IsValidName): any
// name with something other than white space in it. "test 01", "a/b", "a:b" and
// "ünï" are all names. Nothing berth makes from a network takes its name: the
// bridge is named after the network's ID, the firewall after the bridge, and the
// embedded DNS server escapes the name where it appears in "NAME.NETWORK" (see
// dns.Directory). Docker answers a blank name with 500; berth says 400, the
// request's fault, in Docker's words.
func validName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errdefs.ErrInvalidArgument.WithMessage("invalid name: " + name)
	}
	return nil
}

// boolOption reads a true/false driver option, def when absent.
func boolOption(opts map[string]string, key string, def bool) (bool, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value %q for option %s: want true or false", v, key))
}

// newID is a network's or an endpoint's ID: 64 hex digits, as Docker's.
func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}
