package ipam

import (
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
)

// Pool is the address plan of one network (one family). The zero Gateway and IPRange
// mean "default"; AddPool returns the pool with the defaults filled in.
type Pool struct {
	Subnet   netip.Prefix // 10.0.0.0/24 or fd00:1::/64; host bits are cleared
	Gateway  netip.Addr   // default: the first usable address of Subnet
	IPRange  netip.Prefix // default: all of Subnet; Request without an address picks here
	Reserved []netip.Addr // never handed out (docker's --aux-address)
}

// normalize checks p and fills in its defaults.
func (p Pool) normalize() (Pool, error) {
	if !p.Subnet.IsValid() {
		return p, fmt.Errorf("invalid subnet %q: %w", p.Subnet, errdefs.ErrInvalidArgument)
	}
	p.Subnet = p.Subnet.Masked()
	if p.Subnet.Addr().Is4In6() {
		return p, fmt.Errorf("invalid subnet %s: IPv4-mapped IPv6 subnet: %w", p.Subnet, errdefs.ErrInvalidArgument)
	}
	first, last := usableBounds(p.Subnet)
	if p.Gateway.IsValid() {
		p.Gateway = p.Gateway.Unmap()
		if !p.Subnet.Contains(p.Gateway) {
			return p, fmt.Errorf("gateway %s is not in subnet %s: %w", p.Gateway, p.Subnet, errdefs.ErrInvalidArgument)
		}
		if p.Gateway.Less(first) || last.Less(p.Gateway) {
			return p, fmt.Errorf("gateway %s is the %s of subnet %s: %w", p.Gateway, special(p.Subnet, p.Gateway), p.Subnet, errdefs.ErrInvalidArgument)
		}
	} else {
		p.Gateway = first
	}
	if p.IPRange.IsValid() {
		p.IPRange = p.IPRange.Masked()
		if p.IPRange.Addr().Is4() != p.Subnet.Addr().Is4() || p.IPRange.Bits() < p.Subnet.Bits() || !p.Subnet.Contains(p.IPRange.Addr()) {
			return p, fmt.Errorf("ip-range %s is not inside subnet %s: %w", p.IPRange, p.Subnet, errdefs.ErrInvalidArgument)
		}
		if p.IPRange == p.Subnet {
			p.IPRange = netip.Prefix{}
		}
	}
	seen := map[netip.Addr]bool{}
	var reserved []netip.Addr
	for _, a := range p.Reserved {
		a = a.Unmap()
		if !p.Subnet.Contains(a) {
			return p, fmt.Errorf("reserved address %s is not in subnet %s: %w", a, p.Subnet, errdefs.ErrInvalidArgument)
		}
		if !seen[a] {
			seen[a] = true
			reserved = append(reserved, a)
		}
	}
	p.Reserved = reserved
	return p, nil
}

// pickRange is where Request without an address picks from.
func (p Pool) pickRange() netip.Prefix {
	if p.IPRange.IsValid() {
		return p.IPRange
	}
	return p.Subnet
}

// usableBounds returns the first and last address of subnet a container may have: all but
// the network address and, for IPv4, the broadcast address. A /31 or /32 (/127, /128)
// has no such addresses to spare.
func usableBounds(subnet netip.Prefix) (first, last netip.Addr) {
	first, last = subnet.Addr(), lastAddr(subnet)
	if first.BitLen()-subnet.Bits() <= 1 {
		return first, last
	}
	if first.Is4() {
		last = last.Prev()
	}
	return first.Next(), last
}

// special names why an address outside usableBounds is not usable.
func special(subnet netip.Prefix, a netip.Addr) string {
	if a == subnet.Addr() {
		return "network address"
	}
	return "broadcast address"
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
