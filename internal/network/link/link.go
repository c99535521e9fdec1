// Package link does the kernel plumbing of a bridge network through netlink: the bridge
// with the gateway addresses, one veth pair per container endpoint, the sysctls a bridge
// needs, and finding the links a daemon made so it can remove what a crash left behind.
// It knows nothing of networks or containers; the caller passes names, addresses and
// the path of a network namespace.
//
// # The picture
//
//	host netns                                  container netns (/proc/PID/ns/net)
//	berth0 (bridge, 172.17.0.1/16, alias "berth-bridge berth")
//	  |-- vb3f9a2c41d07e (veth, hairpin on,  ===== eth0 02:42:ac:11:00:02 172.17.0.2/16
//	  |   alias "berth-veth berth")                 default via 172.17.0.1; lo up
//	  `-- vb81c0e5aa9b2f ========================= eth0 ... of another container
//
// # Marks: which links are berth's, and whose
//
// Every link berth makes carries an interface alias (IFLA_IFALIAS; `ip link show`
// prints it) saying what it is and which daemon made it: "berth-bridge OWNER" on a
// bridge, "berth-veth OWNER" on the host end of a container's veth. OWNER is a word the
// caller chooses that no other daemon on the host uses (berthd passes its nftables
// table's name, which two daemons cannot share anyway). Two rules follow from it:
//
//   - EnsureBridge adopts an existing bridge of the asked name only if it has a
//     berth-bridge mark (of any owner, or the bare "berth-bridge" of older berths, which
//     it re-marks as the caller's), and DeleteBridge deletes only such a bridge: a link
//     somebody else made (docker0, a user's br0) is never changed.
//   - Owned lists the links marked with one owner, so a daemon that starts can delete
//     the bridges and veths it made and no longer needs, and nothing of a second
//     daemon's, whose links carry another owner.
//
// The kernel takes no alias when a link is created, so the mark is set just after: a
// crash in between leaves an unmarked link, which is never deleted by mistake (a bridge
// is then refused by EnsureBridge with an error naming it; a veth goes with its
// container's namespace).
//
// The bridge gets a fixed random MAC address of its own, so its address (the
// gateway's, in every container's ARP cache) does not change as ports come and go.
//
// # Network namespaces
//
// Work inside a container's network namespace is done through a netlink socket opened
// in it: a new goroutine locks its OS thread, enters the namespace, opens the socket
// and returns. If it cannot go back to the host's namespace, it never unlocks the
// thread, so the Go runtime ends the thread with the goroutine and no other goroutine
// ever runs in the wrong namespace.
package link

import (
	"net"
	"net/netip"
	"strings"
)

// The marks (interface aliases) of the links berth makes, followed by a space and
// the owner's name; see the package documentation.
const (
	BridgeMark = "berth-bridge"
	VethMark   = "berth-veth"
)

// alias is the interface alias marking a link of kind mark made for owner.
func alias(mark, owner string) string {
	if owner == "" {
		return mark
	}
	return mark + " " + owner
}

// markOf reads an interface alias: whether it carries mark, and the owner it names
// ("" for the bare mark of a berth that recorded no owner).
func markOf(a, mark string) (owner string, ok bool) {
	if a == mark {
		return "", true
	}
	return strings.CutPrefix(a, mark+" ")
}

// Made is one link that Owned found: a bridge berth made, with the links attached to
// it, or the host end of a container's veth.
type Made struct {
	Name   string
	Bridge bool
	// Ports are the names of the links attached to a bridge (containers' veths).
	Ports []string
}

// MaxNameLen is the longest interface name Linux takes (IFNAMSIZ-1).
const MaxNameLen = 15

// VethOptions says how to connect a container's network namespace to a bridge.
type VethOptions struct {
	Bridge     string // the host bridge the host end joins
	HostPrefix string // prefix of the host end's name, e.g. "vb"
	Owner      string // marks the host end as this daemon's (see the package documentation)
	EndpointID string // the endpoint's ID; its first characters complete the host name
	NetNS      string // path of the container's network namespace: /proc/PID/ns/net or a bind-mounted file
	IfName     string // the name inside the container: eth0, eth1...

	// MAC of the container's interface; nil: derived from the first IPv4 address of
	// Addrs (MACFromIPv4), or chosen at random by the kernel if there is none.
	MAC net.HardwareAddr
	// Addrs are the container's addresses with the subnet's length: 172.17.0.2/16.
	Addrs []netip.Prefix
	// Gateways get a default route each (one per family). None for a network that is
	// not the container's route out (a second network, or --internal).
	Gateways []netip.Addr
	// MTU of both ends; 0 takes the bridge's.
	MTU int
}

// HostIfName is the name of an endpoint's host-side veth: prefix followed by as much of
// endpointID as fits in MaxNameLen characters.
func HostIfName(prefix, endpointID string) string {
	n := MaxNameLen - len(prefix)
	if n < 0 {
		n = 0
	}
	if len(endpointID) > n {
		endpointID = endpointID[:n]
	}
	return prefix + endpointID
}

// MACFromIPv4 is the MAC address Docker gives an interface with IPv4 address a:
// 02:42 (locally administered, unicast) followed by the four bytes of a, so that
// 172.17.0.2 has 02:42:ac:11:00:02. It returns nil if a is not IPv4.
func MACFromIPv4(a netip.Addr) net.HardwareAddr {
	a = a.Unmap()
	if !a.Is4() {
		return nil
	}
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}
