package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/network/firewall"
)

func testTable() *portTable {
	t := newPortTable()
	t.ephemeral, t.next = [2]uint16{40000, 40004}, 40000
	return t
}

var ctrIP = netip.MustParseAddr("10.9.0.2")

func TestPortsFixedRangesAndEphemeral(t *testing.T) {
	tab := testTable()
	bs, err := tab.allocate("c1", []PortRequest{
		{Proto: firewall.TCP, HostPort: 8080, ContainerPort: 80},
		{Proto: firewall.UDP, HostPort: 5000, HostPortEnd: 5002, ContainerPort: 6000, ContainerPortEnd: 6002},
		{Proto: firewall.TCP, ContainerPort: 443},
	}, ctrIP, netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		got = append(got, netip.AddrPortFrom(b.ContainerIP, b.ContainerPort).String()+"<-"+string(b.Proto)+":"+itoa(b.HostPort))
	}
	want := "10.9.0.2:80<-tcp:8080 10.9.0.2:6000<-udp:5000 10.9.0.2:6001<-udp:5001 10.9.0.2:6002<-udp:5002 10.9.0.2:443<-tcp:40000"
	if strings.Join(got, " ") != want {
		t.Errorf("bindings\n got %s\nwant %s", strings.Join(got, " "), want)
	}
}

func itoa(p uint16) string { return strconv.Itoa(int(p)) }

func TestPortConflictsAsDockerSaysThem(t *testing.T) {
	tab := testTable()
	if _, err := tab.allocate("c1", []PortRequest{{Proto: firewall.TCP, HostPort: 8080, ContainerPort: 80}}, ctrIP, netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	// The same port on every address, on one address, and the other protocol.
	_, err := tab.allocate("c2", []PortRequest{{Proto: firewall.TCP, HostPort: 8080, ContainerPort: 80}}, ctrIP, netip.Addr{})
	if !errdefs.IsConflict(err) || err.Error() != "Bind for 0.0.0.0:8080 failed: port is already allocated" {
		t.Errorf("second -p 8080:80 = %v", err)
	}
	_, err = tab.allocate("c2", []PortRequest{{Proto: firewall.TCP, HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80}}, ctrIP, netip.Addr{})
	if !errdefs.IsConflict(err) {
		t.Errorf("-p 127.0.0.1:8080:80 beside 0.0.0.0:8080 = %v, want a conflict", err)
	}
	if _, err := tab.allocate("c2", []PortRequest{{Proto: firewall.UDP, HostPort: 8080, ContainerPort: 80}}, ctrIP, netip.Addr{}); err != nil {
		t.Errorf("udp 8080 beside tcp 8080: %v", err)
	}
}

func TestPortAllocationIsAllOrNothing(t *testing.T) {
	tab := testTable()
	tab.allocate("c1", []PortRequest{{Proto: firewall.TCP, HostPort: 9001, ContainerPort: 1}}, ctrIP, netip.Addr{})
	_, err := tab.allocate("c2", []PortRequest{
		{Proto: firewall.TCP, HostPort: 9000, ContainerPort: 1},
		{Proto: firewall.TCP, HostPort: 9001, ContainerPort: 2},
	}, ctrIP, netip.Addr{})
	if err == nil {
		t.Fatal("a conflicting second port was accepted")
	}
	if tab.taken(portKey{firewall.TCP, false, netip.Addr{}, 9000}) {
		t.Error("the first port of a refused request stayed allocated")
	}
}

func TestEphemeralPortsRoundRobinAndRunOut(t *testing.T) {
	tab := testTable()
	var got []uint16
	for range 5 {
		bs, err := tab.allocate("c", []PortRequest{{Proto: firewall.TCP, ContainerPort: 80}}, ctrIP, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, bs[0].HostPort)
	}
	if got[0] != 40000 || got[4] != 40004 {
		t.Errorf("picked %v, want 40000..40004 in order", got)
	}
	if _, err := tab.allocate("c", []PortRequest{{Proto: firewall.TCP, ContainerPort: 80}}, ctrIP, netip.Addr{}); !errdefs.IsUnavailable(err) {
		t.Errorf("a sixth pick from 5 ports = %v, want unavailable", err)
	}
	tab.release([]Binding{{Proto: firewall.TCP, HostPort: 40002}})
	bs, err := tab.allocate("c", []PortRequest{{Proto: firewall.TCP, ContainerPort: 80}}, ctrIP, netip.Addr{})
	if err != nil || bs[0].HostPort != 40002 {
		t.Errorf("after a release got %v, %v; want 40002", bs, err)
	}
}

func TestHostRangeForOnePortTakesAFreeOne(t *testing.T) {
	tab := testTable()
	tab.allocate("c1", []PortRequest{{Proto: firewall.TCP, HostPort: 8000, ContainerPort: 80}}, ctrIP, netip.Addr{})
	bs, err := tab.allocate("c2", []PortRequest{{Proto: firewall.TCP, HostPort: 8000, HostPortEnd: 8010, ContainerPort: 80}}, ctrIP, netip.Addr{})
	if err != nil || len(bs) != 1 || bs[0].HostPort != 8001 {
		t.Errorf("-p 8000-8010:80 with 8000 taken = %v, %v; want 8001", bs, err)
	}
	if _, err := tab.allocate("c3", []PortRequest{{Proto: firewall.TCP, HostPort: 7000, HostPortEnd: 7002, ContainerPort: 80, ContainerPortEnd: 81}}, ctrIP, netip.Addr{}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("3 host ports for 2 container ports = %v, want invalid", err)
	}
}

var ctrIP6 = netip.MustParseAddr("fd00:9::2")

// bindings renders bindings as `docker port` shows them, with where they go.
func bindings(bs []Binding) string {
	var s []string
	for _, b := range bs {
		s = append(s, fmt.Sprintf("%s %s->%s", b.Proto, netip.AddrPortFrom(b.HostAddr(), b.HostPort), netip.AddrPortFrom(b.ContainerIP, b.ContainerPort)))
	}
	return strings.Join(s, ", ")
}

// On a dual-stack network -p publishes on both families, as Docker with ip6tables:
// the same host port on 0.0.0.0 and [::], each to the container's address of that
// family; an address of one family publishes on that family only.
func TestDualStackPorts(t *testing.T) {
	tab := testTable()
	for _, c := range []struct {
		req  PortRequest
		want string
	}{
		{PortRequest{Proto: firewall.TCP, HostPort: 8080, ContainerPort: 80},
			"tcp 0.0.0.0:8080->10.9.0.2:80, tcp [::]:8080->[fd00:9::2]:80"},
		{PortRequest{Proto: firewall.TCP, ContainerPort: 81},
			"tcp 0.0.0.0:40000->10.9.0.2:81, tcp [::]:40000->[fd00:9::2]:81"},
		{PortRequest{Proto: firewall.TCP, HostIP: netip.IPv6Unspecified(), HostPort: 8081, ContainerPort: 80},
			"tcp [::]:8081->[fd00:9::2]:80"},
		{PortRequest{Proto: firewall.UDP, HostIP: netip.IPv4Unspecified(), HostPort: 8081, ContainerPort: 80},
			"udp 0.0.0.0:8081->10.9.0.2:80"},
		{PortRequest{Proto: firewall.TCP, HostIP: netip.MustParseAddr("2001:db8::1"), HostPort: 8082, ContainerPort: 80},
			"tcp [2001:db8::1]:8082->[fd00:9::2]:80"},
		{PortRequest{Proto: firewall.TCP, HostIP: netip.MustParseAddr("::ffff:192.0.2.1"), HostPort: 8082, ContainerPort: 80},
			"tcp 192.0.2.1:8082->10.9.0.2:80"},
	} {
		bs, err := tab.allocate("c1", []PortRequest{c.req}, ctrIP, ctrIP6)
		if err != nil || bindings(bs) != c.want {
			t.Errorf("-p %s:\n got %s, %v\nwant %s", c.req, bindings(bs), err, c.want)
		}
	}

	// [::]:8081 is taken: -p 8081:80 (both families) is refused on the IPv6 side; the
	// IPv4 side alone (tcp) is free, and so is a random port, which skips 8081.
	_, err := tab.allocate("c2", []PortRequest{{Proto: firewall.TCP, HostPort: 8081, ContainerPort: 80}}, ctrIP, ctrIP6)
	if !errdefs.IsConflict(err) || err.Error() != "Bind for [::]:8081 failed: port is already allocated" {
		t.Errorf("-p 8081:80 beside [::]:8081 = %v", err)
	}
	_, err = tab.allocate("c2", []PortRequest{{Proto: firewall.TCP, HostIP: netip.MustParseAddr("fd00:9::1"), HostPort: 8081, ContainerPort: 80}}, ctrIP, ctrIP6)
	if !errdefs.IsConflict(err) {
		t.Errorf("-p [fd00:9::1]:8081:80 beside [::]:8081 = %v, want a conflict", err)
	}
	if bs, err := tab.allocate("c2", []PortRequest{{Proto: firewall.TCP, HostPort: 8081, ContainerPort: 80}}, ctrIP, netip.Addr{}); err != nil || len(bs) != 1 {
		t.Errorf("-p 8081:80 on IPv4 only beside [::]:8081 = %v, %v", bs, err)
	}
	tab.used[portKey{firewall.TCP, true, netip.Addr{}, 40001}] = "c3"
	if bs, err := tab.allocate("c2", []PortRequest{{Proto: firewall.TCP, ContainerPort: 82}}, ctrIP, ctrIP6); err != nil || bs[0].HostPort != 40002 || bs[1].HostPort != 40002 {
		t.Errorf("a random port for both families with 40001 taken on IPv6: %s, %v; want 40002 twice", bindings(bs), err)
	}

	// Release gives back both families.
	bs, _ := tab.allocate("c4", []PortRequest{{Proto: firewall.SCTP, HostPort: 9000, ContainerPort: 9}}, ctrIP, ctrIP6)
	tab.release(bs)
	if tab.taken(portKey{firewall.SCTP, false, netip.Addr{}, 9000}) || tab.taken(portKey{firewall.SCTP, true, netip.Addr{}, 9000}) {
		t.Error("a released dual-stack port is still taken")
	}
}

func TestPortRequestsRefused(t *testing.T) {
	tab := testTable()
	for _, c := range []struct {
		req      PortRequest
		ip6      netip.Addr
		contains string
	}{
		{PortRequest{Proto: firewall.TCP, HostIP: netip.IPv6Loopback(), HostPort: 8080, ContainerPort: 80}, ctrIP6,
			"cannot publish [::1]:8080:80/tcp: Linux cannot forward the IPv6 loopback address to a container (no route_localnet for IPv6)"},
		{PortRequest{Proto: firewall.TCP, HostIP: netip.IPv6Unspecified(), HostPort: 8080, ContainerPort: 80}, netip.Addr{},
			"cannot publish [::]:8080:80/tcp: the container has no IPv6 address (its network was created without --ipv6)"},
		{PortRequest{Proto: firewall.TCP, ContainerPort: 0}, ctrIP6, "container port 0"},
		{PortRequest{Proto: firewall.TCP, HostPort: 7000, HostPortEnd: 7002, ContainerPort: 80, ContainerPortEnd: 81}, ctrIP6, "differ in length"},
	} {
		_, err := tab.allocate("c", []PortRequest{c.req}, ctrIP, c.ip6)
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), c.contains) {
			t.Errorf("-p %s = %v, want invalid argument containing %q", c.req, err, c.contains)
		}
		if len(tab.used) != 0 {
			t.Errorf("-p %s: a refused request left ports taken: %v", c.req, tab.used)
		}
	}
	if err := (PortRequest{Proto: firewall.TCP, HostIP: netip.IPv6Loopback(), ContainerPort: 80}).Validate(); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Validate of [::1]::80 = %v", err)
	}
}
