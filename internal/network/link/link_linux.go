package link

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// EnsureBridge makes the bridge name exist with exactly the addresses addrs (the
// gateways, with the subnets' lengths: 172.17.0.1/16) and mtu (0: the kernel's
// default), up, and marked as owner's. A bridge of that name that berth made (it has a
// berth-bridge mark) is adopted: marked as owner's if it was not, missing addresses
// added and global addresses not in addrs removed, so a changed bip takes effect. Any
// other link of that name is left alone and is an error (errdefs.ErrAlreadyExists). If
// EnsureBridge creates the bridge and fails later, it deletes it again.
func EnsureBridge(name, owner string, addrs []netip.Prefix, mtu int) (err error) {
	if err := validName(name); err != nil {
		return err
	}
	want := make([]netip.Prefix, len(addrs))
	for i, p := range addrs {
		want[i] = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
	}
	br, err := netlink.LinkByName(name)
	switch {
	case err == nil:
		if err := ours(br); err != nil {
			return err
		}
		if a := alias(BridgeMark, owner); br.Attrs().Alias != a {
			if err := netlink.LinkSetAlias(br, a); err != nil {
				return fmt.Errorf("bridge %s: mark: %w", name, err)
			}
		}
		if mtu > 0 && br.Attrs().MTU != mtu {
			if err := netlink.LinkSetMTU(br, mtu); err != nil {
				return fmt.Errorf("bridge %s: set mtu %d: %w", name, mtu, err)
			}
		}
	case isNotFound(err):
		if br, err = createBridge(name, owner, mtu); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				netlink.LinkDel(br)
			}
		}()
	default:
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if err := setAddrs(br, want); err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bridge %s: up: %w", name, err)
	}
	return nil
}

// createBridge adds a bridge with a random, fixed MAC address and marks it as owner's.
func createBridge(name, owner string, mtu int) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	attrs.MTU = mtu
	attrs.HardwareAddr = randomMAC()
	br := &netlink.Bridge{LinkAttrs: attrs}
	if err := netlink.LinkAdd(br); err != nil {
		return nil, fmt.Errorf("bridge %s: create: %w", name, err)
	}
	if err := netlink.LinkSetAlias(br, alias(BridgeMark, owner)); err != nil {
		netlink.LinkDel(br)
		return nil, fmt.Errorf("bridge %s: mark: %w", name, err)
	}
	return br, nil
}

// ours returns an error unless l is a bridge berth made (for any owner).
func ours(l netlink.Link) error {
	if _, marked := markOf(l.Attrs().Alias, BridgeMark); l.Type() != "bridge" || !marked {
		return fmt.Errorf("link %s exists and is not a bridge berth created (type %s, alias %q): %w",
			l.Attrs().Name, l.Type(), l.Attrs().Alias, errdefs.ErrAlreadyExists)
	}
	return nil
}

// setAddrs gives l exactly the global addresses want. IPv6 addresses skip duplicate
// address detection: the gateway's address is berth's to give, and waiting a second
// for DAD would delay every container start behind it.
func setAddrs(l netlink.Link, want []netip.Prefix) error {
	have, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range have {
		p, ok := prefixOf(a.IPNet)
		if !ok || a.Scope != int(netlink.SCOPE_UNIVERSE) || p.Addr().IsLinkLocalUnicast() || slices.Contains(want, p) {
			continue
		}
		if err := netlink.AddrDel(l, &a); err != nil {
			return fmt.Errorf("remove address %s: %w", p, err)
		}
	}
	for _, p := range want {
		if p.Addr().Is6() {
			if err := SetSysctl("net/ipv6/conf/"+l.Attrs().Name+"/disable_ipv6", "0"); err != nil {
				return err
			}
		}
		if err := netlink.AddrReplace(l, addrOf(p)); err != nil {
			return fmt.Errorf("add address %s: %w", p, err)
		}
	}
	return nil
}

// DeleteBridge deletes the bridge name if berth made it; a missing bridge is no error.
// Ports still attached are detached by the kernel (their veths stay).
func DeleteBridge(name string) error {
	br, err := netlink.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bridge %s: %w", name, err)
	}
	if err := ours(br); err != nil {
		return err
	}
	if err := netlink.LinkDel(br); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return nil
}

// AttachVeth connects the network namespace o.NetNS to the bridge o.Bridge with a new
// veth pair and returns the host end's name and the MAC address of the container's
// end. The container's end is created directly inside the namespace under its final
// name, gets its MAC, addresses and default routes and is brought up with the
// namespace's loopback. The host end is marked as o.Owner's, joins the bridge with hairpin mode on (so a
// container reaches its own published ports through the host's DNAT) and goes up.
// On any error nothing is left behind: deleting the host end removes both ends.
func AttachVeth(o VethOptions) (hostIf string, mac net.HardwareAddr, err error) {
	hostIf = HostIfName(o.HostPrefix, o.EndpointID)
	if err := validName(hostIf); err != nil {
		return "", nil, err
	}
	if err := validName(o.IfName); err != nil {
		return "", nil, err
	}
	if len(o.EndpointID) == 0 {
		return "", nil, fmt.Errorf("veth: no endpoint id: %w", errdefs.ErrInvalidArgument)
	}
	br, err := netlink.LinkByName(o.Bridge)
	if err != nil {
		return "", nil, fmt.Errorf("veth %s: bridge %s: %w", hostIf, o.Bridge, err)
	}
	if br.Type() != "bridge" {
		return "", nil, fmt.Errorf("veth %s: %s is a %s, not a bridge: %w", hostIf, o.Bridge, br.Type(), errdefs.ErrInvalidArgument)
	}
	ns, err := os.Open(o.NetNS)
	if err != nil {
		return "", nil, fmt.Errorf("veth %s: network namespace: %w", hostIf, err)
	}
	defer ns.Close()

	mac = o.MAC
	if mac == nil {
		for _, a := range o.Addrs {
			if mac = MACFromIPv4(a.Addr()); mac != nil {
				break
			}
		}
	}
	mtu := o.MTU
	if mtu == 0 {
		mtu = br.Attrs().MTU
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostIf
	attrs.MTU = mtu
	veth := &netlink.Veth{
		LinkAttrs:        attrs,
		PeerName:         o.IfName,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(ns.Fd()),
	}
	// One request makes both ends, the peer already in the namespace: it fails whole
	// (a name taken on either side) or succeeds whole.
	if err := netlink.LinkAdd(veth); err != nil {
		return "", nil, fmt.Errorf("veth %s: create (peer %s in %s): %w", hostIf, o.IfName, o.NetNS, err)
	}
	defer func() {
		if err != nil {
			netlink.LinkDel(veth)
		}
	}()

	if err := netlink.LinkSetAlias(veth, alias(VethMark, o.Owner)); err != nil {
		return "", nil, fmt.Errorf("veth %s: mark: %w", hostIf, err)
	}
	if err := netlink.LinkSetMaster(veth, br); err != nil {
		return "", nil, fmt.Errorf("veth %s: join bridge %s: %w", hostIf, o.Bridge, err)
	}
	if err := netlink.LinkSetHairpin(veth, true); err != nil {
		return "", nil, fmt.Errorf("veth %s: hairpin: %w", hostIf, err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		return "", nil, fmt.Errorf("veth %s: up: %w", hostIf, err)
	}
	mac, err = setupPeer(ns, o)
	if err != nil {
		return "", nil, fmt.Errorf("veth %s: in %s: %w", hostIf, o.NetNS, err)
	}
	return hostIf, mac, nil
}

// setupPeer configures the container's end inside its namespace and returns its MAC.
func setupPeer(ns *os.File, o VethOptions) (net.HardwareAddr, error) {
	h, err := handleIn(ns)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return nil, fmt.Errorf("lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("lo up: %w", err)
	}
	c, err := h.LinkByName(o.IfName)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.IfName, err)
	}
	for _, p := range o.Addrs {
		if err := h.AddrAdd(c, addrOf(p)); err != nil {
			return nil, fmt.Errorf("%s: add address %s: %w", o.IfName, p, err)
		}
	}
	if err := h.LinkSetUp(c); err != nil {
		return nil, fmt.Errorf("%s: up: %w", o.IfName, err)
	}
	for _, gw := range o.Gateways {
		r := &netlink.Route{LinkIndex: c.Attrs().Index, Gw: gw.AsSlice()}
		if err := h.RouteAdd(r); err != nil {
			return nil, fmt.Errorf("%s: default route via %s: %w", o.IfName, gw, err)
		}
	}
	if c, err = h.LinkByIndex(c.Attrs().Index); err != nil {
		return nil, fmt.Errorf("%s: %w", o.IfName, err)
	}
	return c.Attrs().HardwareAddr, nil
}

// DetachVeth deletes the host end hostIf of a veth pair, and so its peer in the
// container's namespace. A missing link is no error (the namespace may have gone first,
// taking the pair with it); a link of that name that is not a veth is refused.
func DetachVeth(hostIf string) error {
	l, err := netlink.LinkByName(hostIf)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("veth %s: %w", hostIf, err)
	}
	if l.Type() != "veth" {
		return fmt.Errorf("link %s is a %s, not a veth: %w", hostIf, l.Type(), errdefs.ErrInvalidArgument)
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete veth %s: %w", hostIf, err)
	}
	return nil
}

// ListByPrefix returns the names of the host's links that start with prefix, sorted.
// An empty prefix is refused: nothing should match every link.
func ListByPrefix(prefix string) ([]string, error) {
	if prefix == "" {
		return nil, fmt.Errorf("list links: empty prefix: %w", errdefs.ErrInvalidArgument)
	}
	links, err := linkList()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, l := range links {
		if name := l.Attrs().Name; strings.HasPrefix(name, prefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Owned returns the links marked as made for owner, sorted by name: its bridges (a
// bridge of type bridge with the berth-bridge mark), each with the links attached to
// it, and the host ends of its veths (type veth, the berth-veth mark). A daemon that
// starts compares them with what it still needs (see the package documentation); links
// of other owners, unmarked ones and those of older berths are never listed. An empty
// owner is refused.
func Owned(owner string) ([]Made, error) {
	if owner == "" {
		return nil, fmt.Errorf("list links: no owner: %w", errdefs.ErrInvalidArgument)
	}
	links, err := linkList()
	if err != nil {
		return nil, err
	}
	var out []Made
	byIndex := map[int]int{} // a bridge's index -> its place in out
	for _, l := range links {
		a := l.Attrs()
		if o, ok := markOf(a.Alias, BridgeMark); ok && o == owner && l.Type() == "bridge" {
			byIndex[a.Index] = len(out)
			out = append(out, Made{Name: a.Name, Bridge: true})
		} else if o, ok := markOf(a.Alias, VethMark); ok && o == owner && l.Type() == "veth" {
			out = append(out, Made{Name: a.Name})
		}
	}
	for _, l := range links {
		if i, ok := byIndex[l.Attrs().MasterIndex]; ok {
			out[i].Ports = append(out[i].Ports, l.Attrs().Name)
		}
	}
	slices.SortFunc(out, func(a, b Made) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// linkList is every link of the calling thread's network namespace. A dump the kernel
// reports as interrupted (a link changed meanwhile) is retried.
func linkList() ([]netlink.Link, error) {
	var links []netlink.Link
	var err error
	for range 5 {
		if links, err = netlink.LinkList(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	return links, nil
}

// EnableForwarding turns on IPv4 forwarding (net.ipv4.ip_forward), which NAT from a
// bridge to the outside needs, and with ipv6 IPv6 forwarding
// (net.ipv6.conf.all.forwarding). Note that a host with IPv6 forwarding on ignores
// router advertisements on interfaces whose accept_ra is 1, as Docker's users know.
func EnableForwarding(ipv6 bool) error {
	if err := SetSysctl("net.ipv4.ip_forward", "1"); err != nil {
		return err
	}
	if ipv6 {
		return SetSysctl("net.ipv6.conf.all.forwarding", "1")
	}
	return nil
}

// SetSysctl sets the kernel parameter name (dotted, net.ipv4.ip_forward, or as a path
// under /proc/sys, net/ipv4/conf/br-1.2/route_localnet, for names with dots in them) to
// value, writing only if it differs. Parameters under net/ are those of the calling
// thread's network namespace.
func SetSysctl(name, value string) error {
	rel := name
	if !strings.Contains(name, "/") {
		rel = strings.ReplaceAll(name, ".", "/")
	}
	if rel == "" || slices.Contains(strings.Split(rel, "/"), "..") || strings.HasPrefix(rel, "/") {
		return fmt.Errorf("sysctl %q: invalid name: %w", name, errdefs.ErrInvalidArgument)
	}
	path := "/proc/sys/" + rel
	cur, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", name, err)
	}
	if strings.TrimSpace(string(cur)) == value {
		return nil
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", name, value, err)
	}
	return nil
}

// validName checks an interface name as the kernel does (dev_valid_name).
func validName(name string) error {
	if name == "" || len(name) > MaxNameLen || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("invalid interface name %q (1 to %d characters, no '/', ':' or spaces): %w", name, MaxNameLen, errdefs.ErrInvalidArgument)
	}
	return nil
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}

// addrOf is p as a netlink address; IPv6 ones skip duplicate address detection.
func addrOf(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// randomMAC is a random locally administered unicast MAC address.
func randomMAC() net.HardwareAddr {
	b := make(net.HardwareAddr, 6)
	rand.Read(b)
	b[0] = b[0]&0xfe | 0x02
	return b
}

// Routes are the destinations the host's main routing table routes (both families),
// for choosing a new network's subnet that shadows none of them. The default routes
// are left out.
func Routes() ([]netip.Prefix, error) {
	rs, err := netlink.RouteList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list routes: %w", err)
	}
	var out []netip.Prefix
	for _, r := range rs {
		if r.Dst == nil {
			continue
		}
		if p, ok := prefixOf(r.Dst); ok && p.Bits() > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}
