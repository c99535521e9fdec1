package link

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/testutil"
)

// testNet is one test's private world: a bridge berth-test-XXXX, veth names starting
// with vethPrefix, and addresses 10.231.N.0/24, 10.232.N.1/32 and fdbe:7231:N::/64
// that no route of the host touches.
type testNet struct {
	bridge     string
	vethPrefix string
	owner      string // the mark of the test's links
	n          byte
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	testutil.RequireRoot(t, "creates bridges, veth pairs and network namespaces")
	tn := &testNet{bridge: "berth-test-" + randHex(4), vethPrefix: "btl" + randHex(4), owner: "berth-test-" + randHex(8)}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
pick:
	for range 50 {
		tn.n = randByte()
		for _, r := range routes {
			if r.Dst == nil {
				continue // the default route
			}
			for _, mine := range []string{"10.231.%d.0", "10.232.%d.1"} {
				if r.Dst.Contains(net.ParseIP(fmt.Sprintf(mine, tn.n))) {
					continue pick
				}
			}
		}
		break
	}
	// Registered first, so it runs last: whatever a test did, it left nothing.
	t.Cleanup(func() {
		for _, prefix := range []string{tn.bridge, tn.vethPrefix} {
			if left, err := ListByPrefix(prefix); err != nil || len(left) > 0 {
				t.Errorf("links left on the host: %v %v", left, err)
				for _, name := range left {
					if l, err := netlink.LinkByName(name); err == nil {
						netlink.LinkDel(l)
					}
				}
			}
		}
	})
	return tn
}

func randByte() byte {
	b := []byte{0}
	rand.Read(b)
	return b[0]
}

func (tn *testNet) v4(host int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 231, tn.n, byte(host)})
}

func (tn *testNet) v6(host int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("fdbe:7231:%x::%x", tn.n, host))
}

// outside is an address of the host (on the bridge) outside the containers' subnet:
// reaching it takes the default route.
func (tn *testNet) outside() netip.Addr { return netip.AddrFrom4([4]byte{10, 232, tn.n, 1}) }

func (tn *testNet) ensureBridge(t *testing.T) {
	t.Helper()
	addrs := []netip.Prefix{
		netip.PrefixFrom(tn.v4(1), 24),
		netip.PrefixFrom(tn.outside(), 32),
		netip.PrefixFrom(tn.v6(1), 64),
	}
	if err := EnsureBridge(tn.bridge, tn.owner, addrs, 0); err != nil {
		t.Fatalf("EnsureBridge: %v", err)
	}
	t.Cleanup(func() {
		if err := DeleteBridge(tn.bridge); err != nil {
			t.Errorf("DeleteBridge: %v", err)
		}
	})
}

// attach connects netns to the bridge as host number host, with default routes.
func (tn *testNet) attach(t *testing.T, netns string, host int) (string, net.HardwareAddr) {
	t.Helper()
	hostIf, mac, err := AttachVeth(VethOptions{
		Bridge: tn.bridge, HostPrefix: tn.vethPrefix, Owner: tn.owner, EndpointID: randHex(64), NetNS: netns, IfName: "eth0",
		Addrs:    []netip.Prefix{netip.PrefixFrom(tn.v4(host), 24), netip.PrefixFrom(tn.v6(host), 64)},
		Gateways: []netip.Addr{tn.v4(1), tn.v6(1)},
	})
	if err != nil {
		t.Fatalf("AttachVeth: %v", err)
	}
	t.Cleanup(func() {
		if err := DetachVeth(hostIf); err != nil {
			t.Errorf("DetachVeth: %v", err)
		}
	})
	return hostIf, mac
}

// newNetNS returns the path of a fresh network namespace that lives until the test
// ends: a locked thread unshares it and waits; at the end its goroutine returns still
// locked, so the runtime ends the thread, and the namespace with it.
func newNetNS(t *testing.T) string {
	t.Helper()
	pathc, errc, done := make(chan string), make(chan error), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		pathc <- fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		<-done
	}()
	t.Cleanup(func() { close(done) })
	select {
	case p := <-pathc:
		return p
	case err := <-errc:
		t.Fatalf("unshare: %v", err)
		return ""
	}
}

func inNS(t *testing.T, netns string, fn func() error) error {
	t.Helper()
	f, err := os.Open(netns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return inNetNS(f, fn)
}

// serve listens on addr (in netns, or on the host if netns is "") and answers every
// connection with greeting. It returns the address it listens on.
func serve(t *testing.T, netns, addr, greeting string) string {
	t.Helper()
	var l net.Listener
	listen := func() (err error) { l, err = net.Listen("tcp", addr); return err }
	var err error
	if netns == "" {
		err = listen()
	} else {
		err = inNS(t, netns, listen)
	}
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, greeting)
			c.Close()
		}
	}()
	return l.Addr().String()
}

// fetch connects to addr (from netns, or from the host if netns is "") and returns
// what the server says.
func fetch(t *testing.T, netns, addr string) (string, error) {
	t.Helper()
	var got []byte
	get := func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got, err = io.ReadAll(c)
		return err
	}
	var err error
	if netns == "" {
		err = get()
	} else {
		err = inNS(t, netns, get)
	}
	return string(got), err
}

func mustFetch(t *testing.T, from, fromName, addr, want string) {
	t.Helper()
	got, err := fetch(t, from, addr)
	if err != nil || got != want {
		t.Fatalf("from %s to %s: got %q, %v; want %q (a host firewall dropping bridged traffic, e.g. FORWARD policy DROP with br_netfilter, also fails this)",
			fromName, addr, got, err, want)
	}
}

func readSys(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// linkIn looks a link up inside netns.
func linkIn(t *testing.T, netns, name string) (netlink.Link, error) {
	t.Helper()
	f, err := os.Open(netns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := handleIn(f)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	return h.LinkByName(name)
}

func TestTwoContainersOnABridge(t *testing.T) {
	tn := newTestNet(t)
	tn.ensureBridge(t)
	tn.ensureBridge(t) // adopting its own bridge again changes nothing
	nsA, nsB := newNetNS(t), newNetNS(t)
	hostA, macA := tn.attach(t, nsA, 2)
	hostB, _ := tn.attach(t, nsB, 3)

	if !strings.HasPrefix(hostA, tn.vethPrefix) || len(hostA) != MaxNameLen {
		t.Fatalf("host end %q: want %s + endpoint id, %d characters", hostA, tn.vethPrefix, MaxNameLen)
	}
	if want := MACFromIPv4(tn.v4(2)); macA.String() != want.String() {
		t.Fatalf("container MAC = %s, want %s", macA, want)
	}
	for _, h := range []string{hostA, hostB} {
		if got := readSys(t, "/sys/class/net/"+h+"/brport/hairpin_mode"); got != "1" {
			t.Errorf("%s hairpin_mode = %s, want 1", h, got)
		}
		if l, err := netlink.LinkByName(h); err != nil || l.Attrs().Flags&net.FlagUp == 0 || l.Attrs().MasterIndex == 0 {
			t.Errorf("%s: want up and on the bridge: %+v, %v", h, l, err)
		}
	}

	// Container to container over the bridge, IPv4 and IPv6.
	b4 := serve(t, nsB, netip.AddrPortFrom(tn.v4(3), 0).String(), "hello from B")
	mustFetch(t, nsA, "A", b4, "hello from B")
	b6 := serve(t, nsB, netip.AddrPortFrom(tn.v6(3), 0).String(), "hello from B over IPv6")
	mustFetch(t, nsA, "A", b6, "hello from B over IPv6")
	// Host to container.
	a4 := serve(t, nsA, netip.AddrPortFrom(tn.v4(2), 0).String(), "hello from A")
	mustFetch(t, "", "the host", a4, "hello from A")
	// Container to an address outside its subnet: only the default route gets there.
	out := serve(t, "", netip.AddrPortFrom(tn.outside(), 0).String(), "hello from the host")
	mustFetch(t, nsA, "A", out, "hello from the host")
	// Loopback inside the container is up.
	lo := serve(t, nsA, "127.0.0.1:0", "hello from A's loopback")
	mustFetch(t, nsA, "A", lo, "hello from A's loopback")

	// Detaching removes both ends.
	if err := DetachVeth(hostA); err != nil {
		t.Fatal(err)
	}
	if _, err := netlink.LinkByName(hostA); !isNotFound(err) {
		t.Fatalf("host end after DetachVeth: %v", err)
	}
	if _, err := linkIn(t, nsA, "eth0"); !isNotFound(err) {
		t.Fatalf("eth0 in the container after DetachVeth: %v", err)
	}
	if err := DetachVeth(hostA); err != nil {
		t.Fatalf("second DetachVeth: %v", err)
	}

	// DeleteBridge takes the bridge; B's veth stays (its cleanup removes it).
	if err := DeleteBridge(tn.bridge); err != nil {
		t.Fatal(err)
	}
	if left, _ := ListByPrefix(tn.bridge); len(left) != 0 {
		t.Fatalf("bridge left: %v", left)
	}
	if left, _ := ListByPrefix(tn.vethPrefix); len(left) != 1 || left[0] != hostB {
		t.Fatalf("veths after deleting the bridge: %v, want [%s]", left, hostB)
	}
}

func TestAttachFailureLeavesNothing(t *testing.T) {
	tn := newTestNet(t)
	tn.ensureBridge(t)
	ns := newNetNS(t)
	opts := func() VethOptions {
		return VethOptions{
			Bridge: tn.bridge, HostPrefix: tn.vethPrefix, EndpointID: randHex(64), NetNS: ns, IfName: "eth0",
			Addrs: []netip.Prefix{netip.PrefixFrom(tn.v4(9), 24)},
		}
	}
	nothingLeft := func(what string) {
		t.Helper()
		if left, _ := ListByPrefix(tn.vethPrefix); len(left) != 0 {
			t.Fatalf("%s: host links left: %v", what, left)
		}
		if _, err := linkIn(t, ns, "eth0"); !isNotFound(err) {
			t.Fatalf("%s: eth0 left in the namespace: %v", what, err)
		}
	}

	// Fails after both ends exist: the gateway is not on any attached subnet.
	o := opts()
	o.Gateways = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	if _, _, err := AttachVeth(o); err == nil || !strings.Contains(err.Error(), "default route via 192.0.2.1") {
		t.Fatalf("unreachable gateway: err = %v", err)
	}
	nothingLeft("unreachable gateway")

	// Fails at creation: no such namespace, no such bridge, a bad name.
	o = opts()
	o.NetNS = "/proc/nonexistent/ns/net"
	if _, _, err := AttachVeth(o); err == nil {
		t.Fatal("missing namespace: no error")
	}
	o = opts()
	o.Bridge = "berth-test-none"
	if _, _, err := AttachVeth(o); err == nil {
		t.Fatal("missing bridge: no error")
	}
	o = opts()
	o.IfName = "eth/0"
	if _, _, err := AttachVeth(o); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad name: err = %v", err)
	}
	nothingLeft("refused options")

	// The name is taken inside the namespace: the second attach fails whole.
	first, _, err := AttachVeth(opts())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DetachVeth(first) })
	o = opts()
	if _, _, err := AttachVeth(o); err == nil {
		t.Fatal("second eth0 in one namespace: no error")
	}
	if left, _ := ListByPrefix(tn.vethPrefix); len(left) != 1 || left[0] != first {
		t.Fatalf("after a refused second attach: host links %v, want [%s]", left, first)
	}
}

func TestForeignLinksAreLeftAlone(t *testing.T) {
	tn := newTestNet(t)
	attrs := netlink.NewLinkAttrs()
	attrs.Name = tn.bridge
	foreign := &netlink.Bridge{LinkAttrs: attrs}
	if err := netlink.LinkAdd(foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { netlink.LinkDel(foreign) })

	err := EnsureBridge(tn.bridge, tn.owner, []netip.Prefix{netip.PrefixFrom(tn.v4(1), 24)}, 0)
	if !errdefs.IsAlreadyExists(err) {
		t.Fatalf("EnsureBridge over a bridge berth did not make: err = %v", err)
	}
	if err := DeleteBridge(tn.bridge); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("DeleteBridge of a bridge berth did not make: err = %v", err)
	}
	if err := DetachVeth(tn.bridge); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("DetachVeth of a bridge: err = %v", err)
	}
	l, err := netlink.LinkByName(tn.bridge)
	if err != nil {
		t.Fatalf("the foreign bridge is gone: %v", err)
	}
	if addrs, _ := netlink.AddrList(l, netlink.FAMILY_V4); len(addrs) != 0 {
		t.Fatalf("the foreign bridge got addresses: %v", addrs)
	}
}

func TestEnsureBridgeAdoptsAndCorrects(t *testing.T) {
	tn := newTestNet(t)
	if err := EnsureBridge(tn.bridge, tn.owner, []netip.Prefix{netip.PrefixFrom(tn.v4(1), 24)}, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DeleteBridge(tn.bridge) })
	mac := readSys(t, "/sys/class/net/"+tn.bridge+"/address")
	if got := readSys(t, "/sys/class/net/"+tn.bridge+"/addr_assign_type"); got != "3" { // NET_ADDR_SET
		t.Errorf("bridge MAC assign type = %s, want 3 (set, so ports do not change it)", got)
	}
	// A restart with another bip and mtu: the old gateway address goes, the new one comes.
	newGw := netip.PrefixFrom(tn.v4(129), 25)
	if err := EnsureBridge(tn.bridge, tn.owner, []netip.Prefix{newGw}, 1400); err != nil {
		t.Fatal(err)
	}
	l, err := netlink.LinkByName(tn.bridge)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].IPNet.String() != newGw.String() {
		t.Fatalf("addresses after adoption = %v, want [%s]", addrs, newGw)
	}
	if l.Attrs().MTU != 1400 || l.Attrs().Flags&net.FlagUp == 0 {
		t.Fatalf("mtu %d flags %v, want 1400 and up", l.Attrs().MTU, l.Attrs().Flags)
	}
	if got := readSys(t, "/sys/class/net/"+tn.bridge+"/address"); got != mac {
		t.Fatalf("bridge MAC changed from %s to %s", mac, got)
	}
}

// Owned finds the bridges and veths one owner made, with a bridge's ports, and none of
// another owner's, an older berth's or a link berth did not make.
func TestOwnedFindsOnlyTheOwnersLinks(t *testing.T) {
	tn := newTestNet(t)
	tn.ensureBridge(t)
	hostIf, _ := tn.attach(t, newNetNS(t), 2)
	if got := readSys(t, "/sys/class/net/"+hostIf+"/ifalias"); got != VethMark+" "+tn.owner {
		t.Errorf("veth alias = %q, want %q", got, VethMark+" "+tn.owner)
	}

	// Beside them: a bridge of another owner, one of a berth that recorded no owner,
	// and one berth did not make.
	other, legacy, foreign := tn.vethPrefix+"o", tn.vethPrefix+"l", tn.vethPrefix+"f"
	if err := EnsureBridge(other, "berth-test-other", nil, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { DeleteBridge(other) })
	for _, name := range []string{legacy, foreign} {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = name
		br := &netlink.Bridge{LinkAttrs: attrs}
		if err := netlink.LinkAdd(br); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { netlink.LinkDel(br) })
		if name == legacy {
			if err := netlink.LinkSetAlias(br, BridgeMark); err != nil {
				t.Fatal(err)
			}
		}
	}

	owned := func() string {
		t.Helper()
		made, err := Owned(tn.owner)
		if err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, m := range made {
			s = append(s, fmt.Sprintf("%s bridge=%v ports=%v", m.Name, m.Bridge, m.Ports))
		}
		return strings.Join(s, "; ")
	}
	want := fmt.Sprintf("%s bridge=true ports=[%s]; %s bridge=false ports=[]", tn.bridge, hostIf, hostIf)
	if got := owned(); got != want {
		t.Errorf("Owned:\n got %s\nwant %s", got, want)
	}
	if _, err := Owned(""); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Owned(\"\") = %v, want invalid argument", err)
	}

	// An older berth's bridge is adopted under the owner's mark; another owner's is
	// adopted too when asked for by name (its network is the caller's).
	if err := EnsureBridge(legacy, tn.owner, nil, 0); err != nil {
		t.Fatalf("adopting a bridge of an older berth: %v", err)
	}
	if got := readSys(t, "/sys/class/net/"+legacy+"/ifalias"); got != BridgeMark+" "+tn.owner {
		t.Errorf("adopted bridge alias = %q", got)
	}
	// Compared entry by entry: the veth's generated name may begin with another's.
	got := owned()
	entries := strings.Split(got, "; ")
	if !slices.Contains(entries, legacy+" bridge=true ports=[]") {
		t.Errorf("Owned after adopting %s lacks it: %s", legacy, got)
	}
	for _, e := range entries {
		if name, _, _ := strings.Cut(e, " "); name == other || name == foreign {
			t.Errorf("Owned after adopting %s lists %s: %s", legacy, name, got)
		}
	}
}

func TestSetSysctl(t *testing.T) {
	for _, bad := range []string{"", "../../etc/passwd", "net/../../x", "/proc/sys/net/ipv4/ip_forward"} {
		if err := SetSysctl(bad, "1"); !errdefs.IsInvalidArgument(err) {
			t.Errorf("SetSysctl(%q): err = %v, want invalid argument", bad, err)
		}
	}
	tn := newTestNet(t)
	tn.ensureBridge(t)
	key := "net/ipv4/conf/" + tn.bridge + "/route_localnet"
	for range 2 { // the second call finds it set
		if err := SetSysctl(key, "1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := readSys(t, "/proc/sys/"+key); got != "1" {
		t.Fatalf("%s = %s", key, got)
	}
	if err := SetSysctl("net.ipv4.conf.nonexistent-if.forwarding", "1"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing parameter: err = %v", err)
	}
}

// BenchmarkAttachDetach measures what a container start and removal on a bridge cost in
// plumbing: go test -run XXX -bench AttachDetach (as root).
func BenchmarkAttachDetach(b *testing.B) {
	testutil.RequireRoot(b, "creates bridges and veth pairs")
	tn := &testNet{bridge: "berth-test-" + randHex(4), vethPrefix: "btl" + randHex(4), n: randByte()}
	if err := EnsureBridge(tn.bridge, tn.owner, []netip.Prefix{netip.PrefixFrom(tn.v4(1), 24)}, 0); err != nil {
		b.Fatal(err)
	}
	defer DeleteBridge(tn.bridge)
	nsPath := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			close(nsPath)
			return
		}
		nsPath <- fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		<-done
	}()
	ns, ok := <-nsPath
	if !ok {
		b.Fatal("unshare failed")
	}
	b.ResetTimer()
	for b.Loop() {
		hostIf, _, err := AttachVeth(VethOptions{
			Bridge: tn.bridge, HostPrefix: tn.vethPrefix, EndpointID: randHex(64), NetNS: ns, IfName: "eth0",
			Addrs: []netip.Prefix{netip.PrefixFrom(tn.v4(2), 24)}, Gateways: []netip.Addr{tn.v4(1)},
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := DetachVeth(hostIf); err != nil {
			b.Fatal(err)
		}
	}
}
