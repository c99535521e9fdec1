package ipam

import (
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
)

// AddressPool is one entry of Docker's default-address-pools (daemon.json), from which
// networks created without a subnet get one: Base is cut into subnets of prefix length
// Size. In JSON: {"base": "172.18.0.0/16", "size": 16}.
type AddressPool struct {
	Base netip.Prefix `json:"base"`
	Size int          `json:"size"`
}

// DefaultAddressPools are Docker's defaults for IPv4: 172.17.0.0/16 (the default bridge,
// berth0, takes it first) through 172.31.0.0/16, then 192.168.0.0/16 in /20s.
func DefaultAddressPools() []AddressPool {
	var out []AddressPool
	for i := byte(17); i <= 31; i++ {
		out = append(out, AddressPool{Base: netip.PrefixFrom(netip.AddrFrom4([4]byte{172, i, 0, 0}), 16), Size: 16})
	}
	return append(out, AddressPool{Base: netip.MustParsePrefix("192.168.0.0/16"), Size: 20})
}

// NextSubnet returns the first subnet, in the order of defaults, that overlaps neither a
// registered pool nor any prefix of avoid (the caller passes the host's routes, so a
// network never shadows a LAN the host can reach). It registers nothing: pass the
// result to AddPool, which checks again under its lock, and try again on
// ErrPoolOverlap if networks are created concurrently. Every entry of defaults must be
// of one family, as is the answer; ErrNoSubnet if none is left.
func (s *Store) NextSubnet(defaults []AddressPool, avoid []netip.Prefix) (netip.Prefix, error) {
	s.mu.Lock()
	taken := make([]netip.Prefix, 0, len(s.pools)+len(avoid))
	for _, p := range s.pools {
		taken = append(taken, p.Subnet)
	}
	s.mu.Unlock()
	for _, a := range avoid {
		if a.IsValid() {
			taken = append(taken, a.Masked())
		}
	}
	for _, d := range defaults {
		base := d.Base.Masked()
		if !base.IsValid() || d.Size < base.Bits() || d.Size > base.Addr().BitLen() {
			return netip.Prefix{}, fmt.Errorf("ipam: invalid default address pool {base: %s, size: %d}: %w", d.Base, d.Size, errdefs.ErrInvalidArgument)
		}
		if p, ok := firstFree(base, d.Size, taken); ok {
			return p, nil
		}
	}
	return netip.Prefix{}, ErrNoSubnet
}

// firstFree walks the subnets of length size in base, skipping over each taken prefix
// it meets in one step, so a base of 2^56 subnets (an IPv6 /8 cut into /64s) costs only
// as many steps as there are taken prefixes inside it.
func firstFree(base netip.Prefix, size int, taken []netip.Prefix) (netip.Prefix, bool) {
	end := lastAddr(base)
	c := netip.PrefixFrom(base.Addr(), size)
	for {
		skipTo := netip.Addr{}
		for _, t := range taken {
			if t.Overlaps(c) {
				if l := lastAddr(t); !skipTo.IsValid() || skipTo.Less(l) {
					skipTo = l
				}
			}
		}
		if !skipTo.IsValid() {
			return c, true
		}
		if l := lastAddr(c); skipTo.Less(l) {
			skipTo = l
		}
		// skipTo ends a prefix at least as long as c's, so the address after it starts
		// a subnet of length size (aligned), unless it leaves base.
		next := skipTo.Next()
		if !next.IsValid() || end.Less(next) {
			return netip.Prefix{}, false
		}
		c = netip.PrefixFrom(next, size)
	}
}
