package dns

import (
	"net/netip"
	"strings"
)

// Lookup is what the embedded server asks about container names. from is the
// ListenConfig.Container of the listener the question arrived on. Names are
// given lower-case, without a trailing dot, in DNS presentation form (a space
// in a label is "\ ", a non-ASCII byte "\DDD"); names returned are in that form
// too.
//
// found reports whether the name (or address) belongs to the containers' domain
// as seen from from: a found name is answered from addrs even when addrs has no
// address of the asked type (an empty NOERROR answer); a name not found is
// forwarded to the upstream resolvers.
type Lookup interface {
	LookupHost(from, name string) (addrs []netip.Addr, found bool)
	LookupAddr(from string, addr netip.Addr) (names []string, found bool)
}

// canonicalName is a DNS name as Lookup receives it: lower-case, no trailing
// dot ("Web.MyNet." -> "web.mynet").
func canonicalName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// reverseAddr parses the name of a PTR question ("4.3.2.1.in-addr.arpa",
// canonical form) into the address it asks about. Names of partial reverse
// zones ("3.2.1.in-addr.arpa") are no address.
func reverseAddr(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			if len(l) == 0 || len(l) > 3 || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, false
			}
			n := 0
			for _, c := range l {
				if c < '0' || c > '9' {
					return netip.Addr{}, false
				}
				n = n*10 + int(c-'0')
			}
			if n > 255 {
				return netip.Addr{}, false
			}
			b[3-i] = byte(n)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			v, ok := hexDigit(l[0])
			if !ok {
				return netip.Addr{}, false
			}
			// labels[0] is the lowest nibble of the last byte.
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= v << 4
			} else {
				b[pos/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
