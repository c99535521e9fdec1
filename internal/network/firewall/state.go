package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// DefaultTable is the name of berth's nftables table when the caller names
// none. Tests and parallel daemons pass their own.
const DefaultTable = "berth"

// Protocol is the transport protocol of a published port.
type Protocol string

// The protocols a port can be published for. All three carry the
// destination port at offset 2 of their header, which is what lets one map
// keyed on "protocol . port" serve them all.
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
)

// number is the IP protocol number (as in /etc/protocols).
func (p Protocol) number() (byte, error) {
	switch p {
	case TCP:
		return 6, nil
	case UDP:
		return 17, nil
	case SCTP:
		return 132, nil
	}
	return 0, fmt.Errorf("protocol %q: want tcp, udp or sctp", string(p))
}

// State is everything berth wants from the kernel's packet filter: Apply
// makes berth's table hold exactly this, and nothing that an earlier State
// had and this one lacks.
type State struct {
	// Networks are berth's bridges with their subnets and manners.
	Networks []Network
	// Ports are the published ports of every running container.
	Ports []PortMapping
	// RespectHostFirewall stops berth's forward chain from waving
	// published-port traffic past berth's own drops (network isolation,
	// ICC=false), so that such traffic is judged like any other forwarded
	// packet; see the package documentation for what it can and cannot do
	// about the host's own rules.
	RespectHostFirewall bool
}

// Network is one berth bridge.
type Network struct {
	// Bridge is the name of the bridge interface ("berth0", "br-1a2b3c").
	Bridge string
	// Subnets are the network's IPv4 and/or IPv6 prefixes (10.88.0.0/16,
	// fd00:88::/64). Masquerading and hairpin NAT are per subnet.
	Subnets []netip.Prefix
	// Masquerade rewrites the source of traffic from the subnets that leaves
	// by any other interface to that interface's address (outbound NAT).
	// Ignored for Internal networks.
	Masquerade bool
	// Internal networks are closed: nothing is forwarded between the bridge
	// and any other interface, in either direction, published ports
	// included. The host itself still reaches the containers (that is
	// delivered, not forwarded).
	Internal bool
	// DisableICC turns off inter-container communication (Docker's
	// icc=false): containers on this bridge cannot talk to each other
	// directly, only through published ports. The rule sees traffic the
	// bridge switches only when br_netfilter is enabled (see
	// EnableBridgeNetfilter and the package documentation). The zero value
	// is Docker's default, ICC on.
	DisableICC bool
}

// PortMapping publishes a host port, or a range of host ports, on a
// container's address: traffic to HostIP:HostPort..HostPortEnd is sent to
// ContainerIP:ContainerPort.., port for port (8000-8099 -> 9000-9099 sends
// 8042 to 9042).
type PortMapping struct {
	Protocol Protocol
	// HostIP limits the mapping to one of the host's addresses. The zero
	// Addr (or 0.0.0.0 / ::) means every local address of the container
	// address's family, including 127.0.0.1 for IPv4.
	HostIP netip.Addr
	// HostPort is the first (or only) host port.
	HostPort uint16
	// HostPortEnd is the last host port of a range; zero for a single port.
	HostPortEnd uint16
	// ContainerIP is the container's address on its berth network.
	ContainerIP netip.Addr
	// ContainerPort is the container port HostPort maps to.
	ContainerPort uint16
}

// String renders the mapping as Docker's port specs read:
// "tcp 0.0.0.0:8000-8001 -> 10.88.0.2:80-81".
func (m PortMapping) String() string {
	host := "*"
	if m.HostIP.IsValid() {
		host = m.HostIP.String()
	}
	hp, cp := fmt.Sprint(m.HostPort), fmt.Sprint(m.ContainerPort)
	if n := m.count(); n > 1 {
		hp += fmt.Sprint("-", m.HostPortEnd)
		cp += fmt.Sprint("-", int(m.ContainerPort)+n-1)
	}
	return fmt.Sprintf("%s %s -> %s", m.Protocol, joinHostPort(host, hp), joinHostPort(m.ContainerIP.String(), cp))
}

func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// count is the number of ports the mapping covers.
func (m PortMapping) count() int {
	if m.HostPortEnd == 0 {
		return 1
	}
	return int(m.HostPortEnd) - int(m.HostPort) + 1
}

// hostAddr is HostIP with the unspecified addresses folded into "every
// address" (the zero Addr).
func (m PortMapping) hostAddr() netip.Addr {
	if m.HostIP.IsUnspecified() {
		return netip.Addr{}
	}
	return m.HostIP.Unmap()
}

// validate checks one mapping on its own.
func (m PortMapping) validate() error {
	if _, err := m.Protocol.number(); err != nil {
		return fmt.Errorf("port mapping %v: %w", m, err)
	}
	if !m.ContainerIP.IsValid() || m.ContainerIP.IsUnspecified() {
		return fmt.Errorf("port mapping %v: container address missing", m)
	}
	if m.HostPort == 0 || m.ContainerPort == 0 {
		return fmt.Errorf("port mapping %v: port 0 cannot be published", m)
	}
	if m.HostPortEnd != 0 && m.HostPortEnd < m.HostPort {
		return fmt.Errorf("port mapping %v: range end below its start", m)
	}
	if int(m.ContainerPort)+m.count()-1 > 65535 {
		return fmt.Errorf("port mapping %v: container range passes 65535", m)
	}
	ctr := m.ContainerIP.Unmap()
	if m.HostIP.IsValid() && m.HostIP.Unmap().Is4() != ctr.Is4() {
		return fmt.Errorf("port mapping %v: host address and container address are of different IP versions (the kernel cannot translate between them)", m)
	}
	if h := m.hostAddr(); h.IsValid() && ctr.Is6() && h.IsLoopback() {
		return fmt.Errorf("port mapping %v: IPv6 loopback cannot be forwarded to a container (Linux has no route_localnet for IPv6)", m)
	}
	return nil
}

// key identifies what a mapping claims on the host: one entry per
// (address, protocol, port); two mappings may not claim the same one.
type portKey struct {
	host  netip.Addr // zero: every address of family
	v6    bool
	proto Protocol
	port  uint16
}

// Validate reports the first thing wrong with s: a bad bridge name, a
// network without subnets, a bridge named twice, a bad port mapping, or a
// host port published twice.
func (s State) Validate() error {
	bridges := map[string]bool{}
	for _, n := range s.Networks {
		if err := validIfname(n.Bridge); err != nil {
			return err
		}
		if bridges[n.Bridge] {
			return fmt.Errorf("bridge %q: listed twice", n.Bridge)
		}
		bridges[n.Bridge] = true
		if len(n.Subnets) == 0 {
			return fmt.Errorf("bridge %q: no subnet", n.Bridge)
		}
		for _, p := range n.Subnets {
			if !p.IsValid() || p.Bits() == 0 {
				return fmt.Errorf("bridge %q: invalid subnet %v", n.Bridge, p)
			}
		}
	}
	return validatePorts(s.Ports)
}

func validatePorts(ports []PortMapping) error {
	claimed := map[portKey]PortMapping{}
	for _, m := range ports {
		if err := m.validate(); err != nil {
			return err
		}
		for i := 0; i < m.count(); i++ {
			k := portKey{host: m.hostAddr(), v6: m.ContainerIP.Unmap().Is6(), proto: m.Protocol, port: m.HostPort + uint16(i)}
			if prev, dup := claimed[k]; dup {
				return fmt.Errorf("port mapping %v: host port %s/%d is already published by %v", m, m.Protocol, k.port, prev)
			}
			claimed[k] = m
		}
	}
	return nil
}

// validIfname checks a Linux interface name: 1 to 15 bytes, no '/', no
// space, not "." or "..".
func validIfname(name string) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." ||
		strings.ContainsAny(name, "/ \t\n:\x00") {
		return fmt.Errorf("bridge name %q: not a valid interface name", name)
	}
	return nil
}

// validTable checks a table name berth is willing to use.
func validTable(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("nftables table name: must be 1 to 64 characters")
	}
	for _, r := range name {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("nftables table name %q: only letters, digits, '-' and '_'", name)
		}
	}
	return nil
}
