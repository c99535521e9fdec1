package dns

import (
	"net/netip"
	"testing"
)

func TestReverseAddr(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" when no address
	}{
		{"3.0.18.172.in-addr.arpa", "172.18.0.3"},
		{"255.0.0.10.in-addr.arpa", "10.0.0.255"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "2001:db8::1"},
		{"f.e.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa", "fe80::ef"},
		{"0.18.172.in-addr.arpa", ""},     // a zone, not an address
		{"256.0.18.172.in-addr.arpa", ""}, // not a byte
		{"03.0.18.172.in-addr.arpa", ""},  // leading zero
		{"x.0.18.172.in-addr.arpa", ""},   // not a number
		{"1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", ""},
		{"web", ""},
	} {
		got, ok := reverseAddr(tc.name)
		if tc.want == "" {
			if ok {
				t.Errorf("reverseAddr(%q) = %v, want no address", tc.name, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tc.want) {
			t.Errorf("reverseAddr(%q) = %v, %v; want %s", tc.name, got, ok, tc.want)
		}
	}
}

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{"Web.MyNet.": "web.mynet", "web": "web", ".": ""} {
		if got := canonicalName(in); got != want {
			t.Errorf("canonicalName(%q) = %q, want %q", in, got, want)
		}
	}
}
