package firewall

import (
	"net/netip"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// The world of the privileged test:
//
//	ext (remote host) 192.0.2.2, fd99:ff::2 -- eth0/ext0 -- host 192.0.2.1, fd99:ff::1
//	host: brA 10.99.1.1/24 fd99:1::1/64  a1 .2 (servers :80 :30500 udp:53, fd99:1::2), a2 .3
//	      brB 10.99.2.1/24 (icc off)      b1 .2, b2 .3 (server :80)
//	      brC 10.99.3.1/24 (internal)     c1 .2 (server :80)
//	ext runs a server on :80 and routes 10.99.0.0/16 to the host, so that
//	without berth's rules every container reaches it and it reaches them.
type topo struct {
	*world
	host, ext, a1, a2, b1, b2, c1 string
}

func buildTopo(t *testing.T) *topo {
	w := newWorld(t)
	tp := &topo{world: w}
	tp.host, tp.ext = w.netns("host"), w.netns("ext")

	w.ip(tp.host, "link", "add", "ext0", "type", "veth", "peer", "name", "eth0", "netns", tp.ext)
	w.ip(tp.host, "addr", "add", "192.0.2.1/24", "dev", "ext0")
	w.ip(tp.host, "addr", "add", "fd99:ff::1/64", "dev", "ext0", "nodad")
	w.ip(tp.host, "link", "set", "ext0", "up")
	w.ip(tp.ext, "addr", "add", "192.0.2.2/24", "dev", "eth0")
	w.ip(tp.ext, "addr", "add", "fd99:ff::2/64", "dev", "eth0", "nodad")
	w.ip(tp.ext, "link", "set", "eth0", "up")
	w.ip(tp.ext, "route", "add", "10.99.0.0/16", "via", "192.0.2.1")
	w.ip(tp.ext, "route", "add", "fd99::/16", "via", "fd99:ff::1")

	bridge := func(name string, addrs ...string) {
		w.ip(tp.host, "link", "add", name, "type", "bridge")
		for _, a := range addrs {
			args := []string{"addr", "add", a, "dev", name}
			if strings.Contains(a, ":") {
				args = append(args, "nodad")
			}
			w.ip(tp.host, args...)
		}
		w.ip(tp.host, "link", "set", name, "up")
	}
	container := func(name, br, gw string, addrs ...string) string {
		ns := w.netns(name)
		w.ip(tp.host, "link", "add", "v"+name, "type", "veth", "peer", "name", "eth0", "netns", ns)
		// As berth's bridge driver does: with br_netfilter on, a packet
		// translated to an address on the bridge it came from is bridged
		// back, so a container reaching its own published port needs its
		// port to send frames back out where they came in.
		w.ip(tp.host, "link", "set", "v"+name, "master", br, "up")
		w.ip(tp.host, "link", "set", "v"+name, "type", "bridge_slave", "hairpin", "on")
		for _, a := range addrs {
			args := []string{"addr", "add", a, "dev", "eth0"}
			if strings.Contains(a, ":") {
				args = append(args, "nodad")
			}
			w.ip(ns, args...)
		}
		w.ip(ns, "link", "set", "eth0", "up")
		w.ip(ns, "route", "add", "default", "via", gw)
		return ns
	}
	bridge("brA", "10.99.1.1/24", "fd99:1::1/64")
	bridge("brB", "10.99.2.1/24")
	bridge("brC", "10.99.3.1/24")
	tp.a1 = container("a1", "brA", "10.99.1.1", "10.99.1.2/24", "fd99:1::2/64")
	w.ip(tp.a1, "-6", "route", "add", "default", "via", "fd99:1::1")
	tp.a2 = container("a2", "brA", "10.99.1.1", "10.99.1.3/24")
	tp.b1 = container("b1", "brB", "10.99.2.1", "10.99.2.2/24")
	tp.b2 = container("b2", "brB", "10.99.2.1", "10.99.2.3/24")
	tp.c1 = container("c1", "brC", "10.99.3.1", "10.99.3.2/24")

	// What the daemon does for its bridges, here in the host namespace.
	if err := in(tp.host, func() error {
		for _, kv := range [][2]string{{"net/ipv4/ip_forward", "1"}, {"net/ipv6/conf/all/forwarding", "1"}} {
			if err := writeSysctl(kv[0], kv[1]); err != nil {
				return err
			}
		}
		if err := EnableRouteLocalnet("brA"); err != nil {
			return err
		}
		return EnableBridgeNetfilter()
	}); err != nil {
		t.Fatal(err)
	}

	w.serveTCP(tp.a1, "a1", ":80")
	w.serveTCP(tp.a1, "a1", ":30500")
	w.serveUDP(tp.a1, "a1", ":53")
	w.serveTCP(tp.b2, "b2", ":80")
	w.serveTCP(tp.c1, "c1", ":80")
	w.serveTCP(tp.ext, "ext", ":80")
	return tp
}

func testState() State {
	pfx := netip.MustParsePrefix
	a1, a1v6 := netip.MustParseAddr("10.99.1.2"), netip.MustParseAddr("fd99:1::2")
	return State{
		Networks: []Network{
			{Bridge: "brA", Subnets: []netip.Prefix{pfx("10.99.1.0/24"), pfx("fd99:1::/64")}, Masquerade: true},
			{Bridge: "brB", Subnets: []netip.Prefix{pfx("10.99.2.0/24")}, Masquerade: true, DisableICC: true},
			{Bridge: "brC", Subnets: []netip.Prefix{pfx("10.99.3.0/24")}, Internal: true},
		},
		Ports: []PortMapping{
			{Protocol: TCP, HostPort: 8080, ContainerIP: a1, ContainerPort: 80},
			{Protocol: UDP, HostPort: 5353, ContainerIP: a1, ContainerPort: 53},
			{Protocol: TCP, HostPort: 8080, ContainerIP: a1v6, ContainerPort: 80},
			{Protocol: TCP, HostPort: 20000, HostPortEnd: 20999, ContainerIP: a1, ContainerPort: 30000},
			// published on one host address only, and to a container on the
			// internal network
			{Protocol: TCP, HostIP: netip.MustParseAddr("10.99.1.1"), HostPort: 8181, ContainerIP: a1, ContainerPort: 80},
			{Protocol: TCP, HostPort: 8383, ContainerIP: netip.MustParseAddr("10.99.3.2"), ContainerPort: 80},
		},
	}
}

func TestFirewall(t *testing.T) {
	w := buildTopo(t)

	// Without berth's rules every path is open: the drops below are
	// berth's doing, not a broken world.
	reach(t, w.b1, "tcp", "10.99.1.2:80", "a1 10.99.2.2")
	reach(t, w.b1, "tcp", "10.99.2.3:80", "b2 10.99.2.2")
	reach(t, w.c1, "tcp", "192.0.2.2:80", "ext 10.99.3.2")
	reach(t, w.ext, "tcp", "10.99.3.2:80", "c1 192.0.2.2")

	// Another daemon's table in the same namespace must come through
	// untouched.
	other, err := New(Options{Table: w.prefix + "-other", NetNSFD: w.fd(w.host)})
	if err != nil {
		t.Fatal(err)
	}
	otherState := State{Networks: []Network{{Bridge: "brZ", Subnets: []netip.Prefix{netip.MustParsePrefix("10.98.0.0/16")}, Masquerade: true}}}
	if err := other.Apply(otherState); err != nil {
		t.Fatal(err)
	}
	otherBefore, _, _ := nftJSON(t, w.host, "table", "inet", other.Table())

	f, err := New(Options{Table: w.prefix, NetNSFD: w.fd(w.host)})
	if err != nil {
		t.Fatal(err)
	}
	state := testState()
	if err := f.Apply(state); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Remove() })

	t.Run("kernel lists what Ruleset renders", func(t *testing.T) {
		want, err := f.Ruleset(state)
		if err != nil {
			t.Fatal(err)
		}
		got := nft(t, w.host, "list", "table", "inet", f.Table())
		if g, wn := normalizeListing(got), normalizeListing(want); g != wn {
			t.Fatalf("kernel has\n%s\nRuleset rendered\n%s", g, wn)
		}
	})

	t.Run("published port from another host", func(t *testing.T) {
		reach(t, w.ext, "tcp", "192.0.2.1:8080", "a1 192.0.2.2") // client address kept
		reach(t, w.ext, "udp", "192.0.2.1:5353", "a1 192.0.2.2")
		reach(t, w.ext, "tcp", "[fd99:ff::1]:8080", "a1 fd99:ff::2")
		refused(t, w.ext, "192.0.2.1:8181") // published on 10.99.1.1 only
	})

	t.Run("published port from the host itself", func(t *testing.T) {
		reach(t, w.host, "tcp", "192.0.2.1:8080", "a1 192.0.2.1")
		reach(t, w.host, "tcp", "127.0.0.1:8080", "a1 10.99.1.1") // masqueraded to the bridge
		reach(t, w.host, "udp", "127.0.0.1:5353", "a1 10.99.1.1")
		reach(t, w.host, "tcp", "10.99.1.1:8181", "a1")
		reach(t, w.host, "tcp", "[fd99:ff::1]:8080", "a1")
	})

	t.Run("hairpin from containers", func(t *testing.T) {
		reach(t, w.a1, "tcp", "10.99.1.1:8080", "a1 10.99.1.1") // to itself
		reach(t, w.a2, "tcp", "192.0.2.1:8080", "a1 10.99.1.1") // same network
		// another network: its outbound NAT applies (as Docker's does), so
		// a1 sees brA's address
		reach(t, w.b1, "tcp", "192.0.2.1:8080", "a1 10.99.1.1")
	})

	t.Run("1000-port range costs no rules", func(t *testing.T) {
		reach(t, w.ext, "tcp", "192.0.2.1:20500", "a1") // -> 30500
		_, rules, elems := nftJSON(t, w.host, "table", "inet", f.Table())
		if rules > 30 {
			t.Errorf("%d rules for %d published ports; want a handful", rules, elems[mapPorts4])
		}
		if elems[mapPorts4] != 1003 { // the range, 8080, 5353 and 8383
			t.Errorf("map %s has %d elements, want 1003", mapPorts4, elems[mapPorts4])
		}
	})

	t.Run("outbound NAT", func(t *testing.T) {
		reach(t, w.a1, "tcp", "192.0.2.2:80", "ext 192.0.2.1")
	})

	t.Run("internal network reaches nothing outside", func(t *testing.T) {
		dropped(t, w.c1, "192.0.2.2:80")
		dropped(t, w.c1, "10.99.1.2:80")
		dropped(t, w.ext, "10.99.3.2:80")
		dropped(t, w.ext, "192.0.2.1:8383") // not even through a published port
		reach(t, w.host, "tcp", "10.99.3.2:80", "c1 10.99.3.1")
	})

	t.Run("networks are isolated", func(t *testing.T) {
		dropped(t, w.b1, "10.99.1.2:80")
		dropped(t, w.a1, "10.99.2.3:80")
	})

	t.Run("icc", func(t *testing.T) {
		dropped(t, w.b1, "10.99.2.3:80")                      // brB: icc off
		reach(t, w.a2, "tcp", "10.99.1.2:80", "a1 10.99.1.3") // brA: icc on
	})

	t.Run("apply again changes nothing", func(t *testing.T) {
		before, _, _ := nftJSON(t, w.host, "table", "inet", f.Table())
		if err := f.Apply(state); err != nil {
			t.Fatal(err)
		}
		after, _, _ := nftJSON(t, w.host, "table", "inet", f.Table())
		if before != after {
			t.Fatalf("second Apply changed the ruleset:\nbefore %s\nafter %s", before, after)
		}
		reach(t, w.ext, "tcp", "192.0.2.1:8080", "a1")
	})

	t.Run("add and remove ports", func(t *testing.T) {
		_, rulesBefore, _ := nftJSON(t, w.host, "table", "inet", f.Table())
		p := PortMapping{Protocol: TCP, HostPort: 9090, HostPortEnd: 9091, ContainerIP: netip.MustParseAddr("10.99.1.2"), ContainerPort: 80}
		refused(t, w.ext, "192.0.2.1:9090")
		if err := f.AddPorts(p); err != nil {
			t.Fatal(err)
		}
		reach(t, w.ext, "tcp", "192.0.2.1:9090", "a1")
		if err := f.AddPorts(p); err != nil {
			t.Fatalf("adding the same mapping again: %v", err)
		}
		clash := p
		clash.ContainerPort = 81
		if err := f.AddPorts(clash); err == nil {
			t.Fatal("publishing port 9090 to a second target succeeded")
		}
		_, rulesAfter, elems := nftJSON(t, w.host, "table", "inet", f.Table())
		if rulesAfter != rulesBefore || elems[mapPorts4] != 1005 {
			t.Fatalf("after AddPorts: %d rules (was %d), %d elements", rulesAfter, rulesBefore, elems[mapPorts4])
		}
		if err := f.RemovePorts(p); err != nil {
			t.Fatal(err)
		}
		refused(t, w.ext, "192.0.2.1:9090")
		if err := f.RemovePorts(p); err == nil {
			t.Fatal("removing ports that are not published succeeded")
		}
		reach(t, w.ext, "tcp", "192.0.2.1:8080", "a1")

		// A thousand single-port mappings (how the daemon publishes -p 30000-30999:...)
		// in one batch, and away again.
		var many []PortMapping
		for i := range 1000 {
			many = append(many, PortMapping{Protocol: TCP, HostPort: uint16(40000 + i), ContainerIP: netip.MustParseAddr("10.99.1.2"), ContainerPort: uint16(40000 + i)})
		}
		if err := f.AddPorts(many...); err != nil {
			t.Fatalf("adding 1000 mappings: %v", err)
		}
		if _, _, elems := nftJSON(t, w.host, "table", "inet", f.Table()); elems[mapPorts4] != 2003 {
			t.Fatalf("after adding 1000 mappings: %d elements, want 2003", elems[mapPorts4])
		}
		if err := f.RemovePorts(many...); err != nil {
			t.Fatalf("removing 1000 mappings: %v", err)
		}
	})

	t.Run("respect host firewall", func(t *testing.T) {
		respect := testState()
		respect.RespectHostFirewall = true
		if err := f.Apply(respect); err != nil {
			t.Fatal(err)
		}
		dropped(t, w.b1, "192.0.2.1:8080") // isolation now applies to published ports too
		reach(t, w.ext, "tcp", "192.0.2.1:8080", "a1")
		if err := f.Apply(state); err != nil {
			t.Fatal(err)
		}
		reach(t, w.b1, "tcp", "192.0.2.1:8080", "a1")
	})

	t.Run("remove leaves nothing", func(t *testing.T) {
		if err := f.Remove(); err != nil {
			t.Fatal(err)
		}
		if tables := nft(t, w.host, "list", "tables"); strings.Contains(tables, f.Table()+"\n") {
			t.Fatalf("table still there after Remove:\n%s", tables)
		}
		if err := f.Remove(); err != nil {
			t.Fatalf("second Remove: %v", err)
		}
		refused(t, w.ext, "192.0.2.1:8080")
		reach(t, w.b1, "tcp", "10.99.2.3:80", "b2 10.99.2.2") // brB's icc drop is gone
		otherAfter, _, _ := nftJSON(t, w.host, "table", "inet", other.Table())
		if otherAfter != otherBefore {
			t.Fatalf("another table changed:\nbefore %s\nafter %s", otherBefore, otherAfter)
		}
	})
}

// normalizeListing makes nft's text listing comparable: set elements
// sorted (a hash set lists them in seed order) and protocols as numbers
// (which is how nft 1.0 prints them inside a concatenation).
func normalizeListing(s string) string {
	protos := strings.NewReplacer("tcp . ", "6 . ", "udp . ", "17 . ", "sctp . ", "132 . ")
	elemsRE := regexp.MustCompile(`(?s)elements = \{ (.*?) \}`)
	return elemsRE.ReplaceAllStringFunc(s, func(m string) string {
		body := elemsRE.FindStringSubmatch(m)[1]
		var elems []string
		for _, e := range strings.Split(body, ",") {
			elems = append(elems, protos.Replace(strings.TrimSpace(e)))
		}
		sort.Strings(elems)
		return "elements = { " + strings.Join(elems, ", ") + " }"
	})
}

// TestEveryPort publishes all 65535 ports at once: the batch is megabytes
// long, far past the netlink socket's default send buffer.
func TestEveryPort(t *testing.T) {
	w := newWorld(t)
	ns := w.netns("every")
	f, err := New(Options{Table: w.prefix, NetNSFD: w.fd(ns)})
	if err != nil {
		t.Fatal(err)
	}
	s := State{
		Networks: []Network{{Bridge: "br0", Subnets: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}},
		Ports:    []PortMapping{{Protocol: UDP, HostPort: 1, HostPortEnd: 65535, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 1}},
	}
	for range 2 {
		if err := f.Apply(s); err != nil {
			t.Fatal(err)
		}
	}
	c, err := f.conn()
	if err != nil {
		t.Fatal(err)
	}
	set, err := c.GetSetByName(&nftables.Table{Name: f.Table(), Family: nftables.TableFamilyINet}, mapPorts4)
	if err != nil {
		t.Fatal(err)
	}
	elems, err := c.GetSetElements(set)
	if err != nil {
		t.Fatal(err)
	}
	if len(elems) != 65535 {
		t.Fatalf("%s has %d elements after two Applys, want 65535", mapPorts4, len(elems))
	}
	if err := f.Remove(); err != nil {
		t.Fatal(err)
	}
}
