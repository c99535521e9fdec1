package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/containerd/errdefs"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func addPool(t *testing.T, s *Store, key string, p Pool) Pool {
	t.Helper()
	got, err := s.AddPool(key, p)
	if err != nil {
		t.Fatalf("AddPool(%s, %+v): %v", key, p, err)
	}
	return got
}

func request(t *testing.T, s *Store, key string, want string) netip.Addr {
	t.Helper()
	var w netip.Addr
	if want != "" {
		w = addr(want)
	}
	a, err := s.Request(key, w)
	if err != nil {
		t.Fatalf("Request(%s, %q): %v", key, want, err)
	}
	return a
}

// requestN takes n addresses and returns them as strings.
func requestN(t *testing.T, s *Store, key string, n int) []string {
	t.Helper()
	var out []string
	for range n {
		out = append(out, request(t, s, key, "").String())
	}
	return out
}

func TestDefaultsAndAllocationOrder(t *testing.T) {
	s := open(t, t.TempDir())
	p := addPool(t, s, "n1", Pool{Subnet: pfx("10.0.0.7/24")})
	if p.Subnet != pfx("10.0.0.0/24") || p.Gateway != addr("10.0.0.1") {
		t.Fatalf("pool = %+v, want subnet 10.0.0.0/24 gateway 10.0.0.1", p)
	}
	got := requestN(t, s, "n1", 3)
	if want := "10.0.0.2 10.0.0.3 10.0.0.4"; strings.Join(got, " ") != want {
		t.Fatalf("first three addresses = %v, want %s", got, want)
	}
}

func TestRoundRobinDoesNotReuseAReleasedAddressAtOnce(t *testing.T) {
	s := open(t, t.TempDir())
	addPool(t, s, "n", Pool{Subnet: pfx("10.0.0.0/24")})
	requestN(t, s, "n", 3) // .2 .3 .4
	if err := s.Release("n", addr("10.0.0.3")); err != nil {
		t.Fatal(err)
	}
	if a := request(t, s, "n", ""); a != addr("10.0.0.5") {
		t.Fatalf("after releasing .3 got %s, want 10.0.0.5 (round robin)", a)
	}
	// Walk to the end of the subnet: the next pick wraps around and finds .3 free.
	for i := 6; i <= 254; i++ {
		request(t, s, "n", "")
	}
	if a := request(t, s, "n", ""); a != addr("10.0.0.3") {
		t.Fatalf("after wrapping got %s, want 10.0.0.3", a)
	}
}

func TestExhaustionOfA29(t *testing.T) {
	s := open(t, t.TempDir())
	addPool(t, s, "n", Pool{Subnet: pfx("192.168.5.8/29")}) // .8 network, .9 gateway, .15 broadcast
	got := requestN(t, s, "n", 5)
	if want := "192.168.5.10 192.168.5.11 192.168.5.12 192.168.5.13 192.168.5.14"; strings.Join(got, " ") != want {
		t.Fatalf("addresses of the /29 = %v, want %s", got, want)
	}
	_, err := s.Request("n", netip.Addr{})
	if !errors.Is(err, ErrNoAvailable) || !errdefs.IsUnavailable(err) {
		t.Fatalf("sixth request: err = %v, want ErrNoAvailable", err)
	}
	if !strings.HasPrefix(err.Error(), "no available addresses on this pool") {
		t.Fatalf("message = %q", err)
	}
	if err := s.Release("n", addr("192.168.5.12")); err != nil {
		t.Fatal(err)
	}
	if a := request(t, s, "n", ""); a != addr("192.168.5.12") {
		t.Fatalf("after a release got %s, want the released 192.168.5.12", a)
	}
}

func TestIPRange(t *testing.T) {
	s := open(t, t.TempDir())
	p := addPool(t, s, "n", Pool{Subnet: pfx("10.1.0.0/16"), IPRange: pfx("10.1.7.4/30")})
	if p.Gateway != addr("10.1.0.1") || p.IPRange != pfx("10.1.7.4/30") {
		t.Fatalf("pool = %+v", p)
	}
	got := requestN(t, s, "n", 4)
	if want := "10.1.7.4 10.1.7.5 10.1.7.6 10.1.7.7"; strings.Join(got, " ") != want {
		t.Fatalf("addresses = %v, want %s", got, want)
	}
	if _, err := s.Request("n", netip.Addr{}); !errors.Is(err, ErrNoAvailable) {
		t.Fatalf("range exhausted: err = %v, want ErrNoAvailable", err)
	}
	// An explicit address may lie outside the ip-range, inside the subnet (docker --ip).
	if a := request(t, s, "n", "10.1.200.3"); a != addr("10.1.200.3") {
		t.Fatalf("explicit = %s", a)
	}
	if _, err := s.AddPool("bad", Pool{Subnet: pfx("10.2.0.0/24"), IPRange: pfx("10.2.1.0/28")}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("ip-range outside the subnet: err = %v, want invalid argument", err)
	}
}

func TestExplicitRequests(t *testing.T) {
	s := open(t, t.TempDir())
	addPool(t, s, "n", Pool{Subnet: pfx("10.0.0.0/24"), Reserved: []netip.Addr{addr("10.0.0.2")}})
	if a := request(t, s, "n", "10.0.0.77"); a != addr("10.0.0.77") {
		t.Fatalf("got %s, want 10.0.0.77", a)
	}
	for _, tc := range []struct {
		want    string
		is      error
		message string
	}{
		{"10.0.0.77", ErrAddressInUse, "Address already in use"},
		{"10.0.0.1", ErrAddressInUse, "Address already in use: 10.0.0.1 is the gateway"},
		{"10.0.0.2", ErrAddressInUse, "Address already in use: 10.0.0.2 is reserved"},
		{"10.0.0.0", ErrOutOfRange, "requested address is out of range: 10.0.0.0 is the network address of subnet 10.0.0.0/24"},
		{"10.0.0.255", ErrOutOfRange, "requested address is out of range: 10.0.0.255 is the broadcast address of subnet 10.0.0.0/24"},
		{"10.0.1.5", ErrOutOfRange, "requested address is out of range: 10.0.1.5 is not in subnet 10.0.0.0/24"},
		{"fd00::5", ErrOutOfRange, "requested address is out of range: fd00::5 is not in subnet 10.0.0.0/24"},
	} {
		_, err := s.Request("n", addr(tc.want))
		if !errors.Is(err, tc.is) || err.Error() != tc.message {
			t.Errorf("Request(%s): err = %v, want %q", tc.want, err, tc.message)
		}
	}
	// The automatic pick skips the reserved address and the explicit one.
	if a := request(t, s, "n", ""); a != addr("10.0.0.3") {
		t.Fatalf("automatic pick = %s, want 10.0.0.3 (.1 gateway, .2 reserved)", a)
	}
	if _, err := s.Request("nope", netip.Addr{}); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown network: err = %v, want not found", err)
	}
}

func TestPoolValidation(t *testing.T) {
	s := open(t, t.TempDir())
	for _, tc := range []struct {
		name string
		pool Pool
	}{
		{"no subnet", Pool{}},
		{"gateway outside", Pool{Subnet: pfx("10.0.0.0/24"), Gateway: addr("10.0.1.1")}},
		{"gateway broadcast", Pool{Subnet: pfx("10.0.0.0/24"), Gateway: addr("10.0.0.255")}},
		{"gateway network", Pool{Subnet: pfx("10.0.0.0/24"), Gateway: addr("10.0.0.0")}},
		{"reserved outside", Pool{Subnet: pfx("10.0.0.0/24"), Reserved: []netip.Addr{addr("10.9.9.9")}}},
		{"ip-range other family", Pool{Subnet: pfx("10.0.0.0/24"), IPRange: pfx("fd00::/120")}},
	} {
		if _, err := s.AddPool(tc.name, tc.pool); !errdefs.IsInvalidArgument(err) {
			t.Errorf("%s: err = %v, want invalid argument", tc.name, err)
		}
	}
	if len(s.Pools()) != 0 {
		t.Fatalf("a refused pool was registered: %v", s.Pools())
	}
	addPool(t, s, "n", Pool{Subnet: pfx("10.0.0.0/24"), Gateway: addr("10.0.0.254")})
	if _, err := s.AddPool("n", Pool{Subnet: pfx("10.5.0.0/24")}); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second pool under one key: err = %v, want already exists", err)
	}
	if a := request(t, s, "n", ""); a != addr("10.0.0.1") {
		t.Fatalf("with gateway .254 the first address is %s, want 10.0.0.1", a)
	}
}

func TestIPv6(t *testing.T) {
	s := open(t, t.TempDir())
	p := addPool(t, s, "n/v6", Pool{Subnet: pfx("fd00:1:2:3::/64")})
	if p.Gateway != addr("fd00:1:2:3::1") {
		t.Fatalf("gateway = %s", p.Gateway)
	}
	if got := requestN(t, s, "n/v6", 2); strings.Join(got, " ") != "fd00:1:2:3::2 fd00:1:2:3::3" {
		t.Fatalf("addresses = %v", got)
	}
	// IPv6 has no broadcast address: the last one is usable; the first is not.
	if a := request(t, s, "n/v6", "fd00:1:2:3:ffff:ffff:ffff:ffff"); !a.IsValid() {
		t.Fatal("last address refused")
	}
	if _, err := s.Request("n/v6", addr("fd00:1:2:3::")); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("network address: err = %v", err)
	}
	// A /126 has three usable addresses: the gateway and two more.
	addPool(t, s, "small", Pool{Subnet: pfx("fd00:9::/126")})
	requestN(t, s, "small", 2)
	if _, err := s.Request("small", netip.Addr{}); !errors.Is(err, ErrNoAvailable) {
		t.Fatalf("full /126: err = %v", err)
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	addPool(t, s, "n", Pool{Subnet: pfx("10.0.0.0/28"), Reserved: []netip.Addr{addr("10.0.0.9")}})
	addPool(t, s, "m", Pool{Subnet: pfx("10.0.1.0/24")})
	first := requestN(t, s, "n", 4) // .2 .3 .4 .5
	if err := s.Release("n", addr("10.0.0.3")); err != nil {
		t.Fatal(err)
	}
	request(t, s, "m", "10.0.1.50")

	// A daemon restart: a new Store on the same directory.
	s = open(t, dir)
	if p, err := s.Pool("n"); err != nil || p.Gateway != addr("10.0.0.1") || len(p.Reserved) != 1 {
		t.Fatalf("pool after reopen = %+v, %v", p, err)
	}
	if got, _ := s.Allocated("n"); fmt.Sprint(got) != "[10.0.0.2 10.0.0.4 10.0.0.5]" {
		t.Fatalf("allocated after reopen = %v", got)
	}
	if _, err := s.Request("m", addr("10.0.1.50")); !errors.Is(err, ErrAddressInUse) {
		t.Fatalf("explicit address after reopen: err = %v, want in use", err)
	}
	// The cursor survived: the next pick is .6, not the released .3.
	if a := request(t, s, "n", ""); a != addr("10.0.0.6") {
		t.Fatalf("first pick after reopen = %s, want 10.0.0.6", a)
	}
	// Take everything left; nothing handed out before the restart comes back.
	rest := []string{"10.0.0.6"}
	for {
		a, err := s.Request("n", netip.Addr{})
		if errors.Is(err, ErrNoAvailable) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rest = append(rest, a.String())
	}
	seen := map[string]bool{}
	for _, a := range append(first, rest...) {
		if seen[a] && a != "10.0.0.3" { // .3 was released, so handing it out again is right
			t.Fatalf("%s handed out twice: before %v, after %v", a, first, rest)
		}
		seen[a] = true
	}
	if len(rest) != 9 { // .6-.8, .10-.14 and the released .3
		t.Fatalf("after reopen got %v, want 9 addresses", rest)
	}

	if err := s.RemovePool("m"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseAll("n"); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	if _, err := s.Pool("m"); !errdefs.IsNotFound(err) {
		t.Fatalf("removed pool after reopen: err = %v", err)
	}
	if got, _ := s.Allocated("n"); len(got) != 0 {
		t.Fatalf("ReleaseAll did not persist: %v", got)
	}
	if err := s.RemovePool("m"); !errdefs.IsNotFound(err) {
		t.Fatalf("removing a missing pool: err = %v", err)
	}
}

func TestSchemaVersionIsChecked(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ipam.json"), []byte(`{"version": 99, "pools": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("Open of a version 99 file: err = %v", err)
	}
}

func TestWriteFailureChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ipam")
	s := open(t, dir)
	addPool(t, s, "n", Pool{Subnet: pfx("10.0.0.0/24")})
	// Without its directory the store cannot write its record (even as root).
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Request("n", netip.Addr{}); err == nil {
		t.Fatal("Request succeeded without writing its record")
	}
	if _, err := s.Request("n", addr("10.0.0.9")); err == nil {
		t.Fatal("explicit Request succeeded without writing its record")
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if a := request(t, s, "n", ""); a != addr("10.0.0.2") {
		t.Fatalf("after a failed write the first address is %s, want 10.0.0.2", a)
	}
	if a := request(t, s, "n", "10.0.0.9"); a != addr("10.0.0.9") {
		t.Fatalf("after a failed write 10.0.0.9 is refused")
	}
}

func TestOverlap(t *testing.T) {
	s := open(t, t.TempDir())
	addPool(t, s, "a", Pool{Subnet: pfx("10.10.0.0/16")})
	addPool(t, s, "a6", Pool{Subnet: pfx("fd00:10::/48")})
	for _, tc := range []struct{ subnet, message string }{
		{"10.10.4.0/24", `Pool overlaps with other one on this address space: 10.10.4.0/24 overlaps 10.10.0.0/16 of network "a"`},
		{"10.0.0.0/8", `Pool overlaps with other one on this address space: 10.0.0.0/8 overlaps 10.10.0.0/16 of network "a"`},
		{"fd00:10:0:1::/64", `Pool overlaps with other one on this address space: fd00:10:0:1::/64 overlaps fd00:10::/48 of network "a6"`},
	} {
		err := s.Overlaps(pfx(tc.subnet))
		if !errors.Is(err, ErrPoolOverlap) || !errdefs.IsPermissionDenied(err) || err.Error() != tc.message {
			t.Errorf("Overlaps(%s) = %v, want %q", tc.subnet, err, tc.message)
		}
		if _, err := s.AddPool("b", Pool{Subnet: pfx(tc.subnet)}); !errors.Is(err, ErrPoolOverlap) {
			t.Errorf("AddPool(%s): err = %v, want ErrPoolOverlap", tc.subnet, err)
		}
	}
	for _, free := range []string{"10.11.0.0/16", "fd00:11::/48", "::ffff:0:0/96"} {
		if err := s.Overlaps(pfx(free)); err != nil {
			t.Errorf("Overlaps(%s) = %v, want nil", free, err)
		}
	}
}

func TestNextSubnet(t *testing.T) {
	s := open(t, t.TempDir())
	defaults := DefaultAddressPools()
	next := func(avoid ...string) string {
		t.Helper()
		var av []netip.Prefix
		for _, a := range avoid {
			av = append(av, pfx(a))
		}
		p, err := s.NextSubnet(defaults, av)
		if err != nil {
			t.Fatalf("NextSubnet: %v", err)
		}
		return p.String()
	}
	if got := next(); got != "172.17.0.0/16" {
		t.Fatalf("empty store: %s", got)
	}
	addPool(t, s, "berth0", Pool{Subnet: pfx("172.17.0.0/16")})
	if got := next(); got != "172.18.0.0/16" {
		t.Fatalf("after the default bridge: %s", got)
	}
	// Host routes into 172.18.0.0/16, over 172.19.0.0/16 and over 172.20-21 are skipped.
	if got := next("172.18.3.0/24", "172.19.0.0/16", "172.20.0.0/15", "10.0.0.0/8"); got != "172.22.0.0/16" {
		t.Fatalf("with host routes: %s", got)
	}
	for i := 18; i <= 31; i++ {
		addPool(t, s, fmt.Sprint("n", i), Pool{Subnet: pfx(fmt.Sprintf("172.%d.0.0/16", i))})
	}
	if got := next(); got != "192.168.0.0/20" {
		t.Fatalf("172.16/12 used up: %s", got)
	}
	addPool(t, s, "lan", Pool{Subnet: pfx("192.168.0.0/24")})
	if got := next(); got != "192.168.16.0/20" {
		t.Fatalf("with 192.168.0.0/24 taken: %s", got)
	}
	if _, err := s.NextSubnet(defaults, []netip.Prefix{pfx("192.168.0.0/16")}); !errors.Is(err, ErrNoSubnet) {
		t.Fatalf("all used: err = %v, want ErrNoSubnet", err)
	}
	if _, err := s.NextSubnet([]AddressPool{{Base: pfx("10.0.0.0/16"), Size: 8}}, nil); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("size shorter than the base: err = %v", err)
	}

	// IPv6: a /8 cut into /64s; big taken prefixes are skipped in one step.
	v6 := []AddressPool{{Base: pfx("fd00::/8"), Size: 64}}
	addPool(t, s, "v6a", Pool{Subnet: pfx("fd00::/64")})
	if p, err := s.NextSubnet(v6, nil); err != nil || p != pfx("fd00:0:0:1::/64") {
		t.Fatalf("v6 next = %v, %v", p, err)
	}
	if p, err := s.NextSubnet(v6, []netip.Prefix{pfx("fd00::/16")}); err != nil || p != pfx("fd01::/64") {
		t.Fatalf("v6 next past fd00::/16 = %v, %v", p, err)
	}
	if _, err := s.NextSubnet(v6, []netip.Prefix{pfx("fc00::/7")}); !errors.Is(err, ErrNoSubnet) {
		t.Fatalf("v6 all covered: err = %v", err)
	}
}

func TestConcurrentRequestsNeverShareAnAddress(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	addPool(t, s, "n", Pool{Subnet: pfx("10.3.0.0/24")})
	const workers, each = 8, 12
	var (
		mu  sync.Mutex
		got = map[netip.Addr]int{}
		wg  sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for i := range each {
				a, err := s.Request("n", netip.Addr{})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[a]++
				mu.Unlock()
				if i%3 == 0 { // churn: release some while others request
					if err := s.Release("n", a); err != nil {
						t.Error(err)
					}
					mu.Lock()
					got[a]--
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	held := 0
	for a, n := range got {
		if n > 1 {
			t.Errorf("%s is held %d times", a, n)
		}
		held += n
	}
	if want := workers * (each - each/3); held != want {
		t.Fatalf("%d addresses held, want %d", held, want)
	}
	alloc, _ := open(t, dir).Allocated("n")
	if len(alloc) != held {
		t.Fatalf("on disk %d allocated, in memory %d", len(alloc), held)
	}
}
