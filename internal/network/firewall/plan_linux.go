package firewall

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
)

// Names of the sets and chains in berth's table (see the package
// documentation for the whole layout).
const (
	setBridges   = "bridges"
	mapPorts4    = "ports_v4"
	mapPorts4Adr = "ports_v4_addr"
	mapPorts6    = "ports_v6"
	mapPorts6Adr = "ports_v6_addr"

	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
	chainForward     = "forward"
	chainPublished   = "published"
)

// Set key and value types. Every field of a concatenation is padded to 4
// bytes.
var (
	typeProtoPort     = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	typeAddr4ProtoPrt = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	typeAddr6ProtoPrt = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetProto, nftables.TypeInetService)
	typeAddr4Port     = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	typeAddr6Port     = nftables.MustConcatSetType(nftables.TypeIP6Addr, nftables.TypeInetService)
)

// plan is one State translated into berth's table: what Apply sends to the
// kernel in a single batch.
type plan struct {
	table  *nftables.Table
	sets   []*setPlan
	chains []*chainPlan
}

type setPlan struct {
	set   *nftables.Set
	elems []nftables.SetElement
	text  []string // elems as nft prints them
}

type chainPlan struct {
	chain *nftables.Chain
	rules []*rule
}

// portMaps are the four maps of published ports in a table.
type portMaps struct {
	v4, v4addr, v6, v6addr *nftables.Set
}

func newPortMaps(t *nftables.Table) portMaps {
	m := func(name string, key, val nftables.SetDatatype) *nftables.Set {
		return &nftables.Set{Table: t, Name: name, IsMap: true, KeyType: key, DataType: val}
	}
	return portMaps{
		v4:     m(mapPorts4, typeProtoPort, typeAddr4Port),
		v4addr: m(mapPorts4Adr, typeAddr4ProtoPrt, typeAddr4Port),
		v6:     m(mapPorts6, typeProtoPort, typeAddr6Port),
		v6addr: m(mapPorts6Adr, typeAddr6ProtoPrt, typeAddr6Port),
	}
}

// pick is the map a mapping's elements belong in.
func (pm portMaps) pick(m PortMapping) *nftables.Set {
	v6, byAddr := m.ContainerIP.Unmap().Is6(), m.hostAddr().IsValid()
	switch {
	case !v6 && !byAddr:
		return pm.v4
	case !v6:
		return pm.v4addr
	case !byAddr:
		return pm.v6
	default:
		return pm.v6addr
	}
}

// elements are a mapping's map entries, one per port, and their text.
func (m PortMapping) elements() ([]nftables.SetElement, []string) {
	proto, _ := m.Protocol.number() // validated
	host, ctr := m.hostAddr(), m.ContainerIP.Unmap()
	elems := make([]nftables.SetElement, 0, m.count())
	texts := make([]string, 0, m.count())
	for i := 0; i < m.count(); i++ {
		hp, cp := m.HostPort+uint16(i), m.ContainerPort+uint16(i)
		var key []byte
		keyText := ""
		if host.IsValid() {
			key = append(key, host.AsSlice()...)
			keyText = host.String() + " . "
		}
		key = append(key, proto, 0, 0, 0)
		key = append(key, port4(hp)...)
		val := append(ctr.AsSlice(), port4(cp)...)
		elems = append(elems, nftables.SetElement{Key: key, Val: val})
		texts = append(texts, fmt.Sprintf("%s%s . %d : %s . %d", keyText, m.Protocol, hp, ctr, cp))
	}
	return elems, texts
}

// port4 is a port as a concatenation field: big endian, padded to 4 bytes.
func port4(p uint16) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint16(b, p)
	return b
}

// buildPlan translates s into berth's table named table. IDs number the
// sets within the batch, so that rules can refer to sets created in the
// same batch.
func buildPlan(table string, s State) (*plan, error) {
	if err := validTable(table); err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyINet}
	p := &plan{table: t}

	// nft keeps strings in host byte order, and says so in the set's user
	// data; without it, it lists the names as "".
	bridges := &nftables.Set{Table: t, Name: setBridges, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}
	bp := &setPlan{set: bridges}
	for _, n := range s.Networks {
		bp.elems = append(bp.elems, nftables.SetElement{Key: ifname(n.Bridge)})
		bp.text = append(bp.text, quote(n.Bridge))
	}
	pm := newPortMaps(t)
	byMap := map[*nftables.Set]*setPlan{}
	p.sets = append(p.sets, bp)
	for _, m := range []*nftables.Set{pm.v4, pm.v4addr, pm.v6, pm.v6addr} {
		sp := &setPlan{set: m}
		byMap[m] = sp
		p.sets = append(p.sets, sp)
	}
	for _, m := range s.Ports {
		sp := byMap[pm.pick(m)]
		e, txt := m.elements()
		sp.elems = append(sp.elems, e...)
		sp.text = append(sp.text, txt...)
	}
	for i, sp := range p.sets {
		sp.set.ID = uint32(i + 1)
	}

	accept := nftables.ChainPolicyAccept
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *chainPlan {
		return &chainPlan{chain: &nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept}}
	}

	// published: DNAT through the port maps; jumped to for packets
	// addressed to the host, from outside (prerouting) or from the host
	// itself (output).
	published := &chainPlan{chain: &nftables.Chain{Name: chainPublished, Table: t}}
	published.rules = []*rule{
		new(rule).dnatMap(false, true, pm.v4addr),
		new(rule).dnatMap(false, false, pm.v4),
		new(rule).dnatMap(true, true, pm.v6addr),
		new(rule).dnatMap(true, false, pm.v6),
	}

	prerouting := base(chainPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	prerouting.rules = []*rule{new(rule).fibDaddrLocal().jump(chainPublished)}

	output := base(chainOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	output.rules = []*rule{
		// ::1 cannot be routed to a bridge (no route_localnet for IPv6):
		// leave it to local sockets rather than translate it into a packet
		// the kernel then drops.
		new(rule).addrPrefix(netip.PrefixFrom(netip.IPv6Loopback(), 128), true).ret(),
		new(rule).fibDaddrLocal().jump(chainPublished),
	}

	postrouting := base(chainPostrouting, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	for _, n := range s.Networks {
		for _, sub := range n.Subnets {
			if n.Masquerade && !n.Internal {
				postrouting.rules = append(postrouting.rules,
					new(rule).addrPrefix(sub, false).oifnameNot(n.Bridge).masquerade())
			}
			// Hairpin: a container reached its own network through a
			// published port. Without this the answer would go straight
			// back over the bridge, untranslated, and be dropped.
			postrouting.rules = append(postrouting.rules,
				new(rule).addrPrefix(sub, false).oifname(n.Bridge).ctDNAT().masquerade())
		}
	}
	// The host reached a published port through 127.0.0.1: the source
	// must become the bridge's address, or the container could not answer
	// (needs route_localnet=1 on the bridge, see EnableRouteLocalnet).
	postrouting.rules = append(postrouting.rules,
		new(rule).oifnameIn(bridges).addrPrefix(netip.MustParsePrefix("127.0.0.0/8"), false).masquerade())

	forward := base(chainForward, nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter)
	for _, n := range s.Networks {
		if n.Internal {
			forward.rules = append(forward.rules,
				new(rule).iifname(n.Bridge).oifnameNot(n.Bridge).drop(),
				new(rule).oifname(n.Bridge).iifnameNot(n.Bridge).drop())
		}
	}
	forward.rules = append(forward.rules, new(rule).ctEstablishedRelated().accept())
	if !s.RespectHostFirewall {
		forward.rules = append(forward.rules, new(rule).ctDNAT().accept())
	}
	for _, n := range s.Networks {
		forward.rules = append(forward.rules,
			new(rule).iifname(n.Bridge).oifnameIn(bridges).oifnameNot(n.Bridge).drop())
	}
	for _, n := range s.Networks {
		if n.DisableICC {
			forward.rules = append(forward.rules, new(rule).iifname(n.Bridge).oifname(n.Bridge).drop())
		}
	}

	p.chains = []*chainPlan{published, prerouting, output, postrouting, forward}
	return p, nil
}

// render prints the plan as `nft list table` would, elements one a line.
func (p *plan) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", p.table.Name)
	for _, sp := range p.sets {
		kind, typ := "set", sp.set.KeyType.Name
		if sp.set.IsMap {
			kind, typ = "map", typ+" : "+sp.set.DataType.Name
		}
		fmt.Fprintf(&b, "\t%s %s {\n\t\ttype %s\n", kind, sp.set.Name, typ)
		if len(sp.text) > 0 {
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(sp.text, ",\n\t\t\t     "))
		}
		b.WriteString("\t}\n\n")
	}
	for i, cp := range p.chains {
		fmt.Fprintf(&b, "\tchain %s {\n", cp.chain.Name)
		if c := cp.chain; c.Hooknum != nil {
			fmt.Fprintf(&b, "\t\ttype %s hook %s priority %s; policy accept;\n", c.Type, hookName(*c.Hooknum), prioName(*c.Hooknum, *c.Priority))
		}
		for _, r := range cp.rules {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
		if i < len(p.chains)-1 {
			b.WriteString("\n")
		}
	}
	b.WriteString("}\n")
	return b.String()
}

func hookName(h nftables.ChainHook) string {
	switch h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	case *nftables.ChainHookForward:
		return "forward"
	case *nftables.ChainHookInput:
		return "input"
	}
	return fmt.Sprint(uint32(h))
}

// prioName is the priority as nft names it for the hook.
func prioName(h nftables.ChainHook, p nftables.ChainPriority) string {
	switch {
	case p == *nftables.ChainPriorityFilter:
		return "filter"
	case p == *nftables.ChainPriorityNATDest && h == *nftables.ChainHookPrerouting:
		return "dstnat"
	case p == *nftables.ChainPriorityNATSource && h == *nftables.ChainHookPostrouting:
		return "srcnat"
	}
	return fmt.Sprint(int32(p))
}
