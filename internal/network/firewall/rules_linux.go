package firewall

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// A rule is built once and kept in two forms: the netlink expressions the
// kernel runs, and the text `nft list table` prints for them. The text is
// what the unit tests compare against golden files, and what the privileged
// tests compare against the kernel's own listing, which proves that the
// expressions mean what the text says.
type rule struct {
	text  []string
	exprs []expr.Any
}

// Registers. reg 1 is the first 16-byte register; a concatenation is loaded
// into consecutive 4-byte registers starting at reg32 8, which is the same
// storage as reg 1 (every field padded to 4 bytes, as nft does).
const (
	reg1    = unix.NFT_REG_1
	reg32At = unix.NFT_REG32_00
)

func (r *rule) add(text string, e ...expr.Any) *rule {
	if text != "" {
		r.text = append(r.text, text)
	}
	r.exprs = append(r.exprs, e...)
	return r
}

// String is the rule as nft prints it.
func (r *rule) String() string { return strings.Join(r.text, " ") }

// ifname is a name as the kernel compares it: NUL-padded to IFNAMSIZ.
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func quote(s string) string { return `"` + s + `"` }

func (r *rule) meta(key expr.MetaKey, keyText string, op expr.CmpOp, data []byte, valText string) *rule {
	opText := ""
	if op == expr.CmpOpNeq {
		opText = "!= "
	}
	return r.add(keyText+" "+opText+valText,
		&expr.Meta{Key: key, Register: reg1},
		&expr.Cmp{Op: op, Register: reg1, Data: data})
}

func (r *rule) iifname(name string) *rule {
	return r.meta(expr.MetaKeyIIFNAME, "iifname", expr.CmpOpEq, ifname(name), quote(name))
}

func (r *rule) iifnameNot(name string) *rule {
	return r.meta(expr.MetaKeyIIFNAME, "iifname", expr.CmpOpNeq, ifname(name), quote(name))
}

func (r *rule) oifname(name string) *rule {
	return r.meta(expr.MetaKeyOIFNAME, "oifname", expr.CmpOpEq, ifname(name), quote(name))
}

func (r *rule) oifnameNot(name string) *rule {
	return r.meta(expr.MetaKeyOIFNAME, "oifname", expr.CmpOpNeq, ifname(name), quote(name))
}

// oifnameIn matches when the output interface is in the named set of
// interface names.
func (r *rule) oifnameIn(set *nftables.Set) *rule {
	return r.add("oifname @"+set.Name,
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: reg1},
		&expr.Lookup{SourceRegister: reg1, SetName: set.Name, SetID: set.ID})
}

// nfproto matches the packet's IP version. In an inet table nft adds it
// before any ip/ip6 header match and leaves it out of the listing there;
// dependency says which of the two this is.
func (r *rule) nfproto(v6, dependency bool) *rule {
	proto, text := byte(unix.NFPROTO_IPV4), "meta nfproto ipv4"
	if v6 {
		proto, text = unix.NFPROTO_IPV6, "meta nfproto ipv6"
	}
	if dependency {
		text = ""
	}
	return r.add(text,
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{proto}})
}

// addrField is the header offset of an address: source or destination of
// IPv4 or IPv6.
func addrField(v6, dst bool) (offset, length uint32, text string) {
	switch {
	case !v6 && !dst:
		return 12, 4, "ip saddr"
	case !v6 && dst:
		return 16, 4, "ip daddr"
	case v6 && !dst:
		return 8, 16, "ip6 saddr"
	default:
		return 24, 16, "ip6 daddr"
	}
}

// addrPrefix matches the source (or destination) address against a prefix
// (a whole address when the prefix is a single host).
func (r *rule) addrPrefix(p netip.Prefix, dst bool) *rule {
	p = p.Masked()
	v6 := p.Addr().Is6()
	off, n, field := addrField(v6, dst)
	r.nfproto(v6, true)
	load := &expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n, DestRegister: reg1}
	if p.IsSingleIP() {
		return r.add(field+" "+p.Addr().String(), load,
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: p.Addr().AsSlice()})
	}
	mask := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return r.add(field+" "+p.String(), load,
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: p.Addr().AsSlice()})
}

// ctBits matches when any of mask's bits are set in a conntrack bit field
// (state or status), which the kernel keeps in host byte order.
func (r *rule) ctBits(key expr.CtKey, mask uint32, text string) *rule {
	m := make([]byte, 4)
	binary.NativeEndian.PutUint32(m, mask)
	return r.add(text,
		&expr.Ct{Key: key, Register: reg1},
		&expr.Bitwise{SourceRegister: reg1, DestRegister: reg1, Len: 4, Mask: m, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: reg1, Data: make([]byte, 4)})
}

// Conntrack bits (linux/netfilter/nf_conntrack_common.h).
const (
	ctStateEstablished = 1 << 1 // NF_CT_STATE_BIT(IP_CT_ESTABLISHED)
	ctStateRelated     = 1 << 2 // NF_CT_STATE_BIT(IP_CT_RELATED)
	ctStatusDNAT       = 1 << 5 // IPS_DST_NAT
)

func (r *rule) ctEstablishedRelated() *rule {
	return r.ctBits(expr.CtKeySTATE, ctStateEstablished|ctStateRelated, "ct state established,related")
}

// ctDNAT matches packets of connections whose destination was translated
// (by berth's published ports, or by anyone's DNAT).
func (r *rule) ctDNAT() *rule {
	return r.ctBits(expr.CtKeySTATUS, ctStatusDNAT, "ct status dnat")
}

// fibDaddrLocal matches packets addressed to one of the host's own
// addresses (iptables' "-m addrtype --dst-type LOCAL").
func (r *rule) fibDaddrLocal() *rule {
	local := make([]byte, 4)
	binary.NativeEndian.PutUint32(local, unix.RTN_LOCAL)
	return r.add("fib daddr type local",
		&expr.Fib{Register: reg1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: local})
}

// dnatMap translates the destination through a map of published ports:
// the key is [daddr .] l4proto . dport, the value container address . port.
func (r *rule) dnatMap(v6, byAddr bool, m *nftables.Set) *rule {
	// nft lists the IP version match only where no address match implies
	// it.
	r.nfproto(v6, byAddr)
	family, fam := uint32(unix.NFPROTO_IPV4), "ip"
	addrRegs := uint32(1) // 4-byte registers the address takes
	if v6 {
		family, fam, addrRegs = unix.NFPROTO_IPV6, "ip6", 4
	}
	next := uint32(reg32At)
	key := ""
	if byAddr {
		off, n, field := addrField(v6, true)
		r.add("", &expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n, DestRegister: next})
		next += addrRegs
		key = field + " . "
	}
	return r.add("dnat "+fam+" to "+key+"meta l4proto . th dport map @"+m.Name,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: next},
		&expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: next + 1},
		&expr.Lookup{SourceRegister: reg32At, DestRegister: reg32At, IsDestRegSet: true, SetName: m.Name, SetID: m.ID},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: family, RegAddrMin: reg32At, RegProtoMin: reg32At + addrRegs, Specified: true})
}

func (r *rule) verdict(kind expr.VerdictKind, text string) *rule {
	return r.add(text, &expr.Verdict{Kind: kind})
}

func (r *rule) accept() *rule { return r.verdict(expr.VerdictAccept, "accept") }
func (r *rule) drop() *rule   { return r.verdict(expr.VerdictDrop, "drop") }
func (r *rule) ret() *rule    { return r.verdict(expr.VerdictReturn, "return") }

func (r *rule) jump(chain string) *rule {
	return r.add("jump "+chain, &expr.Verdict{Kind: expr.VerdictJump, Chain: chain})
}

func (r *rule) masquerade() *rule { return r.add("masquerade", &expr.Masq{}) }
