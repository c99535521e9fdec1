package dns

import (
	"net/netip"
	"slices"
	"testing"
)

const (
	idWeb   = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	idDB    = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	idOther = "aaaaaaaaaaaabbbbbbbbbbbbccccccccccccddddddddddddeeeeeeeeeeeeffff"
)

// testDirectory: web and db share "front"; db is also on "back" with other;
// web has an IPv6 address too.
func testDirectory() *Directory {
	d := NewDirectory()
	d.Add("front", Endpoint{Container: idWeb, Name: "web", Hostname: "webhost", Aliases: []string{"www", "Shared"},
		Addrs: []netip.Addr{netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("fd00::2")}})
	d.Add("front", Endpoint{Container: idDB, Name: "db", Hostname: idDB[:12], Aliases: []string{"shared"},
		Addrs: []netip.Addr{netip.MustParseAddr("172.18.0.3")}})
	d.Add("back", Endpoint{Container: idDB, Name: "db", Hostname: idDB[:12], Aliases: []string{"database"},
		Addrs: []netip.Addr{netip.MustParseAddr("172.19.0.3")}})
	d.Add("back", Endpoint{Container: idOther, Name: "other",
		Addrs: []netip.Addr{netip.MustParseAddr("172.19.0.4")}})
	return d
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func sameAddrs(a, b []netip.Addr) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, func(x, y netip.Addr) int { return x.Compare(y) })
	slices.SortFunc(b, func(x, y netip.Addr) int { return x.Compare(y) })
	return slices.Equal(a, b)
}

func TestDirectoryLookupHost(t *testing.T) {
	d := testDirectory()
	for _, tc := range []struct {
		from, name string
		want       []netip.Addr // nil: not found
	}{
		{idDB, "web", addrs("172.18.0.2", "fd00::2")},
		{idDB, "WEB.", addrs("172.18.0.2", "fd00::2")},                 // any case, trailing dot
		{idDB, "www", addrs("172.18.0.2", "fd00::2")},                  // alias
		{idDB, "webhost", addrs("172.18.0.2", "fd00::2")},              // hostname
		{idDB, idWeb[:12], addrs("172.18.0.2", "fd00::2")},             // short ID
		{idDB, idWeb[:11], nil},                                        // only the 12-digit short ID
		{idDB, "web.front", addrs("172.18.0.2", "fd00::2")},            // NAME.NETWORK
		{idDB, "web.back", nil},                                        // web is not on back
		{idDB, "shared", addrs("172.18.0.2", "fd00::2", "172.18.0.3")}, // alias of two containers
		{idDB, "db", addrs("172.18.0.3", "172.19.0.3")},                // itself, on both networks
		{idDB, "db.back", addrs("172.19.0.3")},
		{idWeb, "db", addrs("172.18.0.3")}, // web sees db only on front
		{idWeb, "database", nil},           // an alias on back only
		{idWeb, "other", nil},              // no shared network
		{idOther, "database", addrs("172.19.0.3")},
		{"unknown-container", "web", nil},
		{idDB, "example.com", nil},
	} {
		got, found := d.LookupHost(tc.from, tc.name)
		if found != (tc.want != nil) || !sameAddrs(got, tc.want) {
			t.Errorf("LookupHost(%.12s, %q) = %v, %v; want %v", tc.from, tc.name, got, found, tc.want)
		}
	}
}

func TestDirectoryLookupAddr(t *testing.T) {
	d := testDirectory()
	for _, tc := range []struct {
		from, addr string
		want       []string
	}{
		{idDB, "172.18.0.2", []string{"web.front"}},
		{idDB, "fd00::2", []string{"web.front"}},
		{idWeb, "172.18.0.3", []string{"db.front"}},
		{idWeb, "172.19.0.3", nil}, // db's address on a network web is not on
		{idDB, "10.0.0.1", nil},
	} {
		got, found := d.LookupAddr(tc.from, netip.MustParseAddr(tc.addr))
		if found != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("LookupAddr(%.12s, %s) = %v, %v; want %v", tc.from, tc.addr, got, found, tc.want)
		}
	}
}

func TestDirectoryAddReplacesRemoveForgets(t *testing.T) {
	d := testDirectory()
	d.Add("front", Endpoint{Container: idWeb, Name: "web", Aliases: []string{"new"}, Addrs: addrs("172.18.0.9")})
	if got, _ := d.LookupHost(idDB, "web"); !sameAddrs(got, addrs("172.18.0.9")) {
		t.Errorf("after re-Add: web = %v, want 172.18.0.9 only", got)
	}
	if _, found := d.LookupHost(idDB, "www"); found {
		t.Error("after re-Add without it: alias www still answers")
	}
	d.Remove("front", idWeb)
	if got, found := d.LookupHost(idDB, "web"); found {
		t.Errorf("after Remove: web = %v, want not found", got)
	}
	d.Remove("front", idWeb) // again: nothing happens
	d.Remove("front", idDB)
	if _, found := d.LookupHost(idDB, "db.front"); found {
		t.Error("db.front answers after db left front")
	}
	if got, _ := d.LookupHost(idDB, "db"); !sameAddrs(got, addrs("172.19.0.3")) {
		t.Errorf("db on back = %v, want 172.19.0.3", got)
	}
}

// Legacy links on a user network: the container holding --link up1:bar finds
// up1 as "bar" (and "bar.NETWORK"), before any container that is itself named
// or aliased bar; nobody else does; the linked container may come later.
func TestDirectoryLegacyLinks(t *testing.T) {
	d := testDirectory()
	const idClient = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	d.Add("front", Endpoint{Container: idClient, Name: "client", Links: map[string]string{"bar": "up1", "Db2": "db", "www": "db"},
		Addrs: addrs("172.18.0.9")})
	for _, tc := range []struct {
		from, name string
		want       []netip.Addr
	}{
		{idClient, "bar", nil},                         // up1 is not there yet
		{idClient, "db2", addrs("172.18.0.3")},         // the alias, in any case
		{idClient, "DB2.front", addrs("172.18.0.3")},   // ALIAS.NETWORK
		{idClient, "db2.back", nil},                    // the link is on front
		{idClient, "www", addrs("172.18.0.3")},         // the link wins over web's alias www
		{idWeb, "db2", nil},                            // only the container holding the link
		{idWeb, "www", addrs("172.18.0.2", "fd00::2")}, // web's own alias, for anyone else
	} {
		got, found := d.LookupHost(tc.from, tc.name)
		if found != (tc.want != nil) || !sameAddrs(got, tc.want) {
			t.Errorf("LookupHost(%.12s, %q) = %v, %v; want %v", tc.from, tc.name, got, found, tc.want)
		}
	}
	d.Add("front", Endpoint{Container: "up1up1up1up1up1", Name: "up1", Addrs: addrs("172.18.0.10")})
	if got, found := d.LookupHost(idClient, "bar"); !found || !sameAddrs(got, addrs("172.18.0.10")) {
		t.Errorf("bar once up1 joined: %v, %v; want 172.18.0.10", got, found)
	}
	if _, found := d.LookupAddr(idClient, netip.MustParseAddr("172.18.0.10")); !found {
		t.Error("no PTR name for up1")
	}
}

// Network names are Docker's, any characters: "NAME.NETWORK" is matched in the
// form a question carries it (a space is "\ ") and PTR answers name it so.
func TestDirectoryNetworkNamesWithSpaces(t *testing.T) {
	d := NewDirectory()
	d.Add("test 01", Endpoint{Container: idWeb, Name: "web", Addrs: addrs("172.18.0.2")})
	d.Add("test 01", Endpoint{Container: idDB, Name: "db", Addrs: addrs("172.18.0.3")})
	if got, found := d.LookupHost(idDB, `web.test\ 01.`); !found || !sameAddrs(got, addrs("172.18.0.2")) {
		t.Errorf(`web.test\ 01 = %v, %v`, got, found)
	}
	if _, found := d.LookupHost(idDB, "web.test 01"); found {
		t.Error("an unescaped space matched: questions never carry one")
	}
	if got, _ := d.LookupAddr(idDB, netip.MustParseAddr("172.18.0.2")); !slices.Equal(got, []string{`web.test\ 01`}) {
		t.Errorf("PTR name = %q, want web.test\\ 01", got)
	}
}
