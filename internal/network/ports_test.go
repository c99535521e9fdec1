package network

import (
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
	if tab.taken(portKey{firewall.TCP, netip.Addr{}, 9000}) {
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
