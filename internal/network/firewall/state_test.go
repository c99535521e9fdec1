package firewall

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	pfx, addr := netip.MustParsePrefix, netip.MustParseAddr
	net := func(br string) Network { return Network{Bridge: br, Subnets: []netip.Prefix{pfx("10.1.0.0/16")}} }
	port := func(p PortMapping) State {
		if p.Protocol == "" {
			p.Protocol = TCP
		}
		if !p.ContainerIP.IsValid() {
			p.ContainerIP = addr("10.1.0.2")
		}
		if p.ContainerPort == 0 {
			p.ContainerPort = 80
		}
		return State{Ports: []PortMapping{p}}
	}
	for _, tc := range []struct {
		name  string
		state State
		want  string // substring of the error; "" for valid
	}{
		{"empty", State{}, ""},
		{"network", State{Networks: []Network{net("berth0")}}, ""},
		{"bridge twice", State{Networks: []Network{net("berth0"), net("berth0")}}, "listed twice"},
		{"bridge name too long", State{Networks: []Network{net("abcdefghijklmnop")}}, "not a valid interface name"},
		{"bridge name with slash", State{Networks: []Network{net("a/b")}}, "not a valid interface name"},
		{"no subnet", State{Networks: []Network{{Bridge: "berth0"}}}, "no subnet"},
		{"port", port(PortMapping{HostPort: 8080}), ""},
		{"range", port(PortMapping{HostPort: 8000, HostPortEnd: 8999}), ""},
		{"bad protocol", port(PortMapping{Protocol: "icmp", HostPort: 80}), "want tcp, udp or sctp"},
		{"port zero", port(PortMapping{HostPort: 0}), "port 0"},
		{"range backwards", port(PortMapping{HostPort: 9000, HostPortEnd: 8000}), "range end below"},
		{"container range past 65535", port(PortMapping{HostPort: 1000, HostPortEnd: 1010, ContainerPort: 65530}), "passes 65535"},
		{"no container address", State{Ports: []PortMapping{{Protocol: TCP, HostPort: 80, ContainerPort: 80}}}, "container address missing"},
		{"families differ", port(PortMapping{HostIP: addr("::"), HostPort: 80}), "different IP versions"},
		{"v6 loopback", port(PortMapping{HostIP: addr("::1"), HostPort: 80, ContainerIP: addr("fd00::2")}), "IPv6 loopback"},
		{"published twice", State{Ports: []PortMapping{
			{Protocol: TCP, HostPort: 8000, HostPortEnd: 8010, ContainerIP: addr("10.1.0.2"), ContainerPort: 80},
			{Protocol: TCP, HostIP: addr("0.0.0.0"), HostPort: 8005, ContainerIP: addr("10.1.0.3"), ContainerPort: 80},
		}}, "host port tcp/8005 is already published"},
		{"same port, other protocol", State{Ports: []PortMapping{
			{Protocol: TCP, HostPort: 53, ContainerIP: addr("10.1.0.2"), ContainerPort: 53},
			{Protocol: UDP, HostPort: 53, ContainerIP: addr("10.1.0.2"), ContainerPort: 53},
		}}, ""},
		{"same port, other address", State{Ports: []PortMapping{
			{Protocol: TCP, HostIP: addr("127.0.0.1"), HostPort: 80, ContainerIP: addr("10.1.0.2"), ContainerPort: 80},
			{Protocol: TCP, HostIP: addr("10.0.0.1"), HostPort: 80, ContainerIP: addr("10.1.0.3"), ContainerPort: 80},
		}}, ""},
		{"same port, v4 and v6", State{Ports: []PortMapping{
			{Protocol: TCP, HostPort: 80, ContainerIP: addr("10.1.0.2"), ContainerPort: 80},
			{Protocol: TCP, HostPort: 80, ContainerIP: addr("fd00::2"), ContainerPort: 80},
		}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.state.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestPortMappingString(t *testing.T) {
	for _, tc := range []struct {
		m    PortMapping
		want string
	}{
		{PortMapping{Protocol: TCP, HostPort: 8080, ContainerIP: netip.MustParseAddr("10.1.0.2"), ContainerPort: 80}, "tcp *:8080 -> 10.1.0.2:80"},
		{PortMapping{Protocol: UDP, HostIP: netip.MustParseAddr("::"), HostPort: 8000, HostPortEnd: 8001,
			ContainerIP: netip.MustParseAddr("fd00::2"), ContainerPort: 90}, "udp [::]:8000-8001 -> [fd00::2]:90-91"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%#v: %q, want %q", tc.m, got, tc.want)
		}
	}
}

func TestTableNames(t *testing.T) {
	for name, ok := range map[string]bool{"berth": true, "berth-test-fw-1a2b": true, "": false, "a b": false, "x;flush ruleset": false, strings.Repeat("a", 65): false} {
		if err := validTable(name); (err == nil) != ok {
			t.Errorf("validTable(%q) = %v", name, err)
		}
	}
}
