package link

import (
	"net/netip"
	"testing"
)

func TestHostIfNameFitsIFNAMSIZ(t *testing.T) {
	id := "3f9a2c41d07e5b6a8c9d0e1f2a3b4c5d"
	for _, tc := range []struct{ prefix, want string }{
		{"vb", "vb3f9a2c41d07e5"},
		{"veth", "veth3f9a2c41d07"},
		{"", "3f9a2c41d07e5b6"},
		{"averyveryverylongprefix", "averyveryverylongprefix"},
	} {
		if got := HostIfName(tc.prefix, id); got != tc.want {
			t.Errorf("HostIfName(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	if got := HostIfName("vb", "ab12"); got != "vbab12" {
		t.Errorf("short id: %q", got)
	}
}

func TestMACFromIPv4IsDockers(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"172.17.0.2", "02:42:ac:11:00:02"},
		{"10.231.7.255", "02:42:0a:e7:07:ff"},
		{"::ffff:192.168.1.1", "02:42:c0:a8:01:01"},
	} {
		if got := MACFromIPv4(netip.MustParseAddr(tc.addr)).String(); got != tc.want {
			t.Errorf("MACFromIPv4(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
	if got := MACFromIPv4(netip.MustParseAddr("fd00::2")); got != nil {
		t.Errorf("IPv6 address gave MAC %s", got)
	}
}
