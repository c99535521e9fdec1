package firewall

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

var update = flag.Bool("update", false, "rewrite testdata/*.nft from the current translation")

// goldenState has one of everything: masquerading dual-stack network, an
// icc=false one, an internal one, and ports of every kind of map.
func goldenState() State {
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	return State{
		Networks: []Network{
			{Bridge: "berth0", Subnets: []netip.Prefix{pfx("172.18.0.0/16"), pfx("fd00:18::/64")}, Masquerade: true},
			{Bridge: "br-quiet", Subnets: []netip.Prefix{pfx("172.19.0.0/16")}, Masquerade: true, DisableICC: true},
			{Bridge: "br-closed", Subnets: []netip.Prefix{pfx("172.20.0.0/16")}, Internal: true, Masquerade: true},
		},
		Ports: []PortMapping{
			{Protocol: TCP, HostPort: 8080, ContainerIP: addr("172.18.0.2"), ContainerPort: 80},
			{Protocol: UDP, HostIP: addr("0.0.0.0"), HostPort: 5353, ContainerIP: addr("172.18.0.2"), ContainerPort: 53},
			{Protocol: SCTP, HostIP: addr("127.0.0.1"), HostPort: 9000, HostPortEnd: 9002, ContainerIP: addr("172.19.0.5"), ContainerPort: 7000},
			{Protocol: TCP, HostIP: addr("::"), HostPort: 8080, ContainerIP: addr("fd00:18::2"), ContainerPort: 80},
			{Protocol: TCP, HostIP: addr("2001:db8::1"), HostPort: 443, ContainerIP: addr("fd00:18::2"), ContainerPort: 8443},
		},
	}
}

// TestGolden compares the translation of whole states with
// testdata/*.nft, which read as `nft list table` prints them (the
// privileged TestFirewall checks that the kernel lists exactly that).
func TestGolden(t *testing.T) {
	respect := goldenState()
	respect.RespectHostFirewall = true
	for name, s := range map[string]State{
		"empty":   {},
		"full":    goldenState(),
		"respect": respect,
	} {
		t.Run(name, func(t *testing.T) {
			f, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Ruleset(s)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".nft")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("translation differs from %s (go test -update to accept):\n%s", path, got)
			}
		})
	}
}

// TestRespectHostFirewallOnlyDropsTheDNATAccept pins what the option
// changes: one rule, nothing else.
func TestRespectHostFirewallOnlyDropsTheDNATAccept(t *testing.T) {
	s := goldenState()
	base, err := buildPlan("berth", s)
	if err != nil {
		t.Fatal(err)
	}
	s.RespectHostFirewall = true
	respect, err := buildPlan("berth", s)
	if err != nil {
		t.Fatal(err)
	}
	a, b := strings.Split(base.render(), "\n"), strings.Split(respect.render(), "\n")
	if len(a) != len(b)+1 {
		t.Fatalf("%d lines without the option, %d with it; want one fewer", len(a), len(b))
	}
	for i, j := 0, 0; i < len(a); i++ {
		if j < len(b) && a[i] == b[j] {
			j++
			continue
		}
		if strings.TrimSpace(a[i]) != "ct status dnat accept" {
			t.Errorf("the option removed %q", a[i])
		}
	}
}

func TestElementBytes(t *testing.T) {
	m := PortMapping{Protocol: UDP, HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 5353, HostPortEnd: 5354,
		ContainerIP: netip.MustParseAddr("10.0.0.2"), ContainerPort: 53}
	elems, text := m.elements()
	want := []nftables.SetElement{
		{Key: []byte{127, 0, 0, 1, 17, 0, 0, 0, 0x14, 0xe9, 0, 0}, Val: []byte{10, 0, 0, 2, 0, 53, 0, 0}},
		{Key: []byte{127, 0, 0, 1, 17, 0, 0, 0, 0x14, 0xea, 0, 0}, Val: []byte{10, 0, 0, 2, 0, 54, 0, 0}},
	}
	if len(elems) != len(want) {
		t.Fatalf("%d elements, want %d", len(elems), len(want))
	}
	for i := range want {
		if !bytes.Equal(elems[i].Key, want[i].Key) || !bytes.Equal(elems[i].Val, want[i].Val) {
			t.Errorf("element %d (%s): key % x val % x, want key % x val % x", i, text[i], elems[i].Key, elems[i].Val, want[i].Key, want[i].Val)
		}
	}
	if text[1] != "127.0.0.1 . udp . 5354 : 10.0.0.2 . 54" {
		t.Errorf("text %q", text[1])
	}
	// Each element must be as long as its map's key and value types say.
	p, err := buildPlan("berth", goldenState())
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range p.sets {
		for _, e := range sp.elems {
			if len(e.Key) != int(sp.set.KeyType.Bytes) || sp.set.IsMap && len(e.Val) != int(sp.set.DataType.Bytes) {
				t.Errorf("%s: element key %d bytes, value %d; types say %d and %d", sp.set.Name, len(e.Key), len(e.Val), sp.set.KeyType.Bytes, sp.set.DataType.Bytes)
			}
		}
	}
}

// TestRegisters walks every rule's expressions the way the kernel fills its
// registers, and checks that each lookup reads a key its rule loaded in
// full, each NAT reads an address and port the lookup wrote, and each
// comparison reads a register loaded with as many bytes as it compares.
func TestRegisters(t *testing.T) {
	p, err := buildPlan("berth", goldenState())
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]*nftables.Set{}
	for _, sp := range p.sets {
		sets[sp.set.Name] = sp.set
	}
	// reg32 is the index of a 4-byte register: reg 1 is reg32 8 (and 9-11).
	reg32 := func(r uint32) int {
		if r <= 4 {
			return 8 + 4*(int(r)-1)
		}
		return int(r)
	}
	for _, cp := range p.chains {
		for _, r := range cp.rules {
			loaded := map[int]int{} // reg32 -> bytes loaded starting there
			load := func(reg uint32, n int) { loaded[reg32(reg)] = n }
			covered := func(reg uint32, n int) bool { // n bytes from reg, each field padded
				for i := reg32(reg); n > 0; {
					l, ok := loaded[i]
					if !ok {
						return false
					}
					pad := (l + 3) / 4
					i, n = i+pad, n-4*pad
				}
				return true
			}
			for _, e := range r.exprs {
				switch e := e.(type) {
				case *expr.Meta:
					n := 4
					switch e.Key {
					case expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME:
						n = 16
					case expr.MetaKeyNFPROTO, expr.MetaKeyL4PROTO:
						n = 1
					}
					load(e.Register, n)
				case *expr.Payload:
					load(e.DestRegister, int(e.Len))
				case *expr.Ct:
					load(e.Register, 4)
				case *expr.Fib:
					load(e.Register, 4)
				case *expr.Bitwise:
					if !covered(e.SourceRegister, int(e.Len)) {
						t.Errorf("%s: bitwise on an unloaded register", r)
					}
				case *expr.Cmp:
					if l := loaded[reg32(e.Register)]; l != len(e.Data) {
						t.Errorf("%s: compares %d bytes with a register holding %d", r, len(e.Data), l)
					}
				case *expr.Lookup:
					s := sets[e.SetName]
					if s == nil || s.ID != e.SetID {
						t.Fatalf("%s: lookup of unknown set %q id %d", r, e.SetName, e.SetID)
					}
					if !covered(e.SourceRegister, int(s.KeyType.Bytes)) {
						t.Errorf("%s: key of %s (%s, %d bytes) not loaded from reg %d", r, s.Name, s.KeyType.Name, s.KeyType.Bytes, e.SourceRegister)
					}
					loaded = map[int]int{}
					if e.IsDestRegSet {
						// the value: address, then port, each in its own registers
						addr := int(s.DataType.Bytes) - 4
						load(e.DestRegister, addr)
						loaded[reg32(e.DestRegister)+addr/4] = 2
					}
				case *expr.NAT:
					want := 4
					if e.Family == 10 { // NFPROTO_IPV6
						want = 16
					}
					if loaded[reg32(e.RegAddrMin)] != want || loaded[reg32(e.RegProtoMin)] != 2 {
						t.Errorf("%s: NAT reads address from reg32 %d and port from reg32 %d; loaded %v", r, reg32(e.RegAddrMin), reg32(e.RegProtoMin), loaded)
					}
				}
			}
		}
	}
}
