package dns

import (
	"net/netip"
	"slices"
	"testing"
	"testing/fstest"
)

const hostConf = `# managed by something
nameserver 127.0.0.53
nameserver 192.168.1.1 # the router
nameserver fd00::1
nameserver not-an-address
domain old.example
search corp.example lab.example
options edns0 trust-ad
options timeout:2
`

func TestParseResolvConf(t *testing.T) {
	rc := ParseResolvConf([]byte(hostConf))
	if want := addrs("127.0.0.53", "192.168.1.1", "fd00::1"); !slices.Equal(rc.Nameservers, want) {
		t.Errorf("Nameservers = %v, want %v", rc.Nameservers, want)
	}
	if want := []string{"corp.example", "lab.example"}; !slices.Equal(rc.Search, want) {
		t.Errorf("Search = %v, want %v (the last of search/domain wins)", rc.Search, want)
	}
	if want := []string{"edns0", "trust-ad", "timeout:2"}; !slices.Equal(rc.Options, want) {
		t.Errorf("Options = %v, want %v", rc.Options, want)
	}
	if rc := ParseResolvConf([]byte("search a.example\ndomain b.example\n")); !slices.Equal(rc.Search, []string{"b.example"}) {
		t.Errorf("domain after search: Search = %v, want [b.example]", rc.Search)
	}
}

func TestUserNetworkResolvConf(t *testing.T) {
	for _, tc := range []struct {
		name string
		host string
		o    Overrides
		want string
	}{
		{"host's search and options", hostConf, Overrides{},
			"nameserver 127.0.0.11\nsearch corp.example lab.example\noptions edns0 trust-ad timeout:2 ndots:0\n"},
		{"empty host file", "", Overrides{},
			"nameserver 127.0.0.11\noptions ndots:0\n"},
		{"overrides replace, --dns servers are forwarded to, not listed", hostConf,
			Overrides{Nameservers: addrs("9.9.9.9"), Search: []string{"x.example"}, Options: []string{"attempts:3"}},
			"nameserver 127.0.0.11\nsearch x.example\noptions attempts:3 ndots:0\n"},
		{"--dns-search . drops the search list", hostConf, Overrides{Search: []string{"."}},
			"nameserver 127.0.0.11\noptions edns0 trust-ad timeout:2 ndots:0\n"},
		{"the user's ndots stays", hostConf, Overrides{Options: []string{"ndots:3"}},
			"nameserver 127.0.0.11\nsearch corp.example lab.example\noptions ndots:3\n"},
		{"the host's ndots stays", "nameserver 10.0.0.1\noptions ndots:2\n", Overrides{},
			"nameserver 127.0.0.11\noptions ndots:2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(UserNetworkResolvConf([]byte(tc.host), tc.o)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestDefaultBridgeResolvConf(t *testing.T) {
	for _, tc := range []struct {
		name string
		host string
		o    Overrides
		ipv6 bool
		want string
	}{
		{"loopback and IPv6 servers dropped", hostConf, Overrides{}, false,
			"nameserver 192.168.1.1\nsearch corp.example lab.example\noptions edns0 trust-ad timeout:2\n"},
		{"IPv6 servers kept with IPv6", hostConf, Overrides{}, true,
			"nameserver 192.168.1.1\nnameserver fd00::1\nsearch corp.example lab.example\noptions edns0 trust-ad timeout:2\n"},
		{"only loopback: Google's", "nameserver 127.0.0.53\nnameserver ::1\n", Overrides{}, false,
			"nameserver 8.8.8.8\nnameserver 8.8.4.4\n"},
		{"only loopback, IPv6: Google's both", "nameserver 127.0.0.1\n", Overrides{}, true,
			"nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844\n"},
		{"--dns taken as given", hostConf, Overrides{Nameservers: addrs("127.0.0.1", "1.1.1.1"), Search: []string{"."}, Options: []string{"rotate"}}, false,
			"nameserver 127.0.0.1\nnameserver 1.1.1.1\noptions rotate\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(DefaultBridgeResolvConf([]byte(tc.host), tc.o, tc.ipv6)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestUpstreams(t *testing.T) {
	ap := func(s ...string) []netip.AddrPort {
		var out []netip.AddrPort
		for _, a := range s {
			out = append(out, netip.MustParseAddrPort(a))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		host string
		o    Overrides
		want []netip.AddrPort
	}{
		{"host's, loopback included", hostConf, Overrides{}, ap("127.0.0.53:53", "192.168.1.1:53", "[fd00::1]:53")},
		{"--dns instead", hostConf, Overrides{Nameservers: addrs("9.9.9.9", "::ffff:1.1.1.1")}, ap("9.9.9.9:53", "1.1.1.1:53")},
		{"none: Google's", "search x.example\n", Overrides{}, ap("8.8.8.8:53", "8.8.4.4:53")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Upstreams([]byte(tc.host), tc.o); !slices.Equal(got, tc.want) {
				t.Errorf("Upstreams = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHostResolvConf(t *testing.T) {
	stub := &fstest.MapFile{Data: []byte("nameserver 127.0.0.53\noptions edns0\n")}
	real := &fstest.MapFile{Data: []byte("nameserver 10.1.1.1\n")}
	for _, tc := range []struct {
		name     string
		fs       fstest.MapFS
		wantPath string
		want     string
	}{
		{"plain", fstest.MapFS{"etc/resolv.conf": real}, "/etc/resolv.conf", string(real.Data)},
		{"systemd stub", fstest.MapFS{"etc/resolv.conf": stub, "run/systemd/resolve/resolv.conf": real},
			"/run/systemd/resolve/resolv.conf", string(real.Data)},
		{"stub without systemd's file", fstest.MapFS{"etc/resolv.conf": stub}, "/etc/resolv.conf", string(stub.Data)},
		{"no file", fstest.MapFS{}, "/etc/resolv.conf", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, content, err := hostResolvConfAt(tc.fs)
			if err != nil || path != tc.wantPath || string(content) != tc.want {
				t.Errorf("= %q, %q, %v; want %q, %q", path, content, err, tc.wantPath, tc.want)
			}
		})
	}
}
