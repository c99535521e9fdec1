package network

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/network/firewall"
	"github.com/berth-engine/berth/internal/network/ipam"
	"github.com/berth-engine/berth/internal/network/link"
	"github.com/berth-engine/berth/internal/testutil"
)

// testController opens a Controller whose every name is the test's own (bridges,
// veths, nftables table, subnets), and removes all of it afterwards.
func testController(t *testing.T, root string) (*Controller, Config) {
	t.Helper()
	testutil.RequireRoot(t, "the network controller makes bridges, veths and nftables rules")
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft to read the ruleset back (apt-get install nftables)")
	}
	// Open turns on IP forwarding host-wide, as berthd must; put back what the machine had.
	for _, k := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if was, err := os.ReadFile(k); err == nil {
			t.Cleanup(func() { os.WriteFile(k, was, 0o644) })
		}
	}
	tag := fmt.Sprintf("%05x", rand.IntN(1<<20))
	cfg := Config{
		Root:                root,
		DefaultBridge:       "bct" + tag,
		DefaultBridgeCIDR:   netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.1/24", 200+rand.IntN(50), rand.IntN(256))),
		DefaultAddressPools: []ipam.AddressPool{{Base: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", 100+rand.IntN(100))), Size: 24}},
		FirewallTable:       "berth-test-ctl-" + tag,
		ICC:                 true,
		BridgePrefix:        "bcu" + tag,
		VethPrefix:          "bcv",
	}
	c, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		if fw, err := firewall.New(firewall.Options{Table: cfg.FirewallTable}); err == nil {
			fw.Remove()
		}
		names, _ := link.ListByPrefix("bc")
		for _, n := range names {
			if strings.HasPrefix(n, "bct"+tag) || strings.HasPrefix(n, "bcu"+tag) {
				link.DeleteBridge(n)
			}
		}
	})
	return c, cfg
}

// netns makes a network namespace for one "container", removed afterwards.
func netns(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("berth-test-ctl-%05x", rand.IntN(1<<20))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	return "/run/netns/" + name
}

// portElements counts the published-port elements in the controller's table.
func portElements(t *testing.T, table string) int {
	t.Helper()
	out, err := exec.Command("nft", "list", "map", "inet", table, "ports_v4").CombinedOutput()
	if err != nil {
		t.Fatalf("nft list map: %v: %s", err, out)
	}
	i := strings.Index(string(out), "elements = {")
	if i < 0 {
		return 0
	}
	body := string(out)[i:]
	return strings.Count(body[:strings.Index(body, "}")], " : ")
}

func TestControllerJoinRestoreLeave(t *testing.T) {
	root := t.TempDir()
	c, cfg := testController(t, root)
	if err := c.Restore(nil); err != nil {
		t.Fatal(err)
	}
	n, err := c.Create(CreateRequest{Name: "front"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(CreateRequest{Name: "front"}); !errdefs.IsConflict(err) {
		t.Errorf("a second network named front: %v", err)
	}

	ns := netns(t)
	sb, err := c.Join(JoinRequest{
		ContainerID: "c1", Name: "one", Hostname: "one", NetNS: ns,
		Endpoints: []EndpointRequest{{Network: DefaultBridgeName}, {Network: "front", Aliases: []string{"www"}}},
		Ports:     []PortRequest{{Proto: firewall.TCP, ContainerPort: 80}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sb.Endpoints) != 2 || sb.Endpoints[0].IfName != "eth0" || sb.Endpoints[1].IfName != "eth1" ||
		!cfg.DefaultBridgeCIDR.Masked().Contains(sb.Endpoints[0].IPv4.Addr()) || !n.IPv4.Prefix.Contains(sb.Endpoints[1].IPv4.Addr()) {
		t.Fatalf("endpoints %+v", sb.Endpoints)
	}
	out, _ := exec.Command("ip", "-n", ns[len("/run/netns/"):], "-4", "addr").CombinedOutput()
	for _, ep := range sb.Endpoints {
		if !strings.Contains(string(out), ep.IPv4.String()) {
			t.Errorf("the namespace lacks %s:\n%s", ep.IPv4, out)
		}
	}
	if len(sb.Bindings) != 1 || sb.Bindings[0].HostPort == 0 || portElements(t, cfg.FirewallTable) != 1 {
		t.Fatalf("bindings %+v, %d elements", sb.Bindings, portElements(t, cfg.FirewallTable))
	}
	if err := c.Remove("front"); !errdefs.IsPermissionDenied(err) {
		t.Errorf("removing a network in use: %v", err)
	}

	// A new controller on the same root (berthd restarted) takes the container back:
	// one element per port, the addresses still held.
	c.Close()
	c2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	again := *sb
	again.NetNS = ns
	if err := c2.Restore([]*Sandbox{&again}); err != nil {
		t.Fatal(err)
	}
	if got := portElements(t, cfg.FirewallTable); got != 1 {
		t.Errorf("%d port elements after Restore, want 1", got)
	}
	held := sb.Endpoints[0].IPv4.Addr()
	if _, err := c2.ipam.Request(poolKey(sb.Endpoints[0].NetworkID, true), held); err == nil {
		t.Errorf("the restored container's address %s was handed out again", held)
	}

	// The ports of the running container change without a restart.
	sb2, err := c2.SetPorts("c1", []PortRequest{{Proto: firewall.TCP, HostPort: 30123, ContainerPort: 80}, {Proto: firewall.UDP, HostPort: 30124, ContainerPort: 53}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sb2.Bindings) != 2 || portElements(t, cfg.FirewallTable) != 2 {
		t.Errorf("after SetPorts: bindings %+v, %d elements", sb2.Bindings, portElements(t, cfg.FirewallTable))
	}

	// Leave gives everything back.
	c2.Leave(sb2)
	if got := portElements(t, cfg.FirewallTable); got != 0 {
		t.Errorf("%d port elements after Leave", got)
	}
	if got, err := c2.ipam.Request(poolKey(sb.Endpoints[1].NetworkID, true), sb.Endpoints[1].IPv4.Addr()); err != nil || got != sb.Endpoints[1].IPv4.Addr() {
		t.Errorf("the address on front after Leave: %v, %v", got, err)
	}
	c2.ipam.Release(poolKey(sb.Endpoints[1].NetworkID, true), sb.Endpoints[1].IPv4.Addr())
	if err := c2.Remove("front"); err != nil {
		t.Fatalf("removing the network once unused: %v", err)
	}
	if names, _ := link.ListByPrefix(n.Bridge); len(names) != 0 {
		t.Errorf("the network's bridge is still there: %v", names)
	}
}

// linkExists says whether the host has a link of that name.
func linkExists(t *testing.T, name string) bool {
	t.Helper()
	names, err := link.ListByPrefix(name)
	if err != nil {
		t.Fatal(err)
	}
	return slices.Contains(names, name)
}

// forgetNetwork drops network id from networks.json, as a file restored from before
// the network existed would.
func forgetNetwork(t *testing.T, root, id string) {
	t.Helper()
	path := filepath.Join(root, "networks.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r records
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	r.Networks = slices.DeleteFunc(r.Networks, func(n *Network) bool { return n.ID == id })
	if b, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A berthd that starts removes the bridges and veths it made that nothing needs any
// more, keeps a bridge a running container still hangs on, and touches no link of
// another daemon or of nobody's.
func TestControllerRemovesItsLeftoverLinks(t *testing.T) {
	root := t.TempDir()
	c, cfg := testController(t, root)
	if err := c.Restore(nil); err != nil {
		t.Fatal(err)
	}
	gone, err := c.Create(CreateRequest{Name: "gone"})
	if err != nil {
		t.Fatal(err)
	}
	// Two containers on the default bridge: the first still runs after the restart,
	// the second's record was lost (berthd died before writing it).
	join := func(id string) *Sandbox {
		t.Helper()
		sb, err := c.Join(JoinRequest{ContainerID: id, Name: id, Hostname: id, NetNS: netns(t), Endpoints: []EndpointRequest{{Network: DefaultBridgeName}}})
		if err != nil {
			t.Fatal(err)
		}
		return sb
	}
	kept, lost := join("kept"), join("lost")
	keptIf, lostIf := kept.Endpoints[0].HostIf, lost.Endpoints[0].HostIf

	// Beside them, with names like berth's: a bridge nobody marked (a user's) and one
	// another daemon made.
	foreign, other := cfg.BridgePrefix+"f", cfg.BridgePrefix+"o"
	if out, err := exec.Command("ip", "link", "add", foreign, "type", "bridge").CombinedOutput(); err != nil {
		t.Fatalf("ip link add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", foreign).Run() })
	if err := link.EnsureBridge(other, "berth-test-another-daemon", nil, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.DeleteBridge(other) })

	// berthd restarts with another --bridge and a networks.json that lacks "gone".
	c.Close()
	forgetNetwork(t, root, gone.ID)
	cfg2 := cfg
	cfg2.DefaultBridge = cfg.DefaultBridge + "n"
	c2, err := Open(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if linkExists(t, gone.Bridge) {
		t.Errorf("the bridge %s of a network that is gone is still there after Open", gone.Bridge)
	}
	if _, err := c2.ipam.Pool(poolKey(gone.ID, true)); !errdefs.IsNotFound(err) {
		t.Errorf("the address pool of a network that is gone: %v", err)
	}
	if !linkExists(t, cfg.DefaultBridge) || !linkExists(t, cfg2.DefaultBridge) {
		t.Errorf("after Open: old default bridge %s (it has ports) %v, new %s %v",
			cfg.DefaultBridge, linkExists(t, cfg.DefaultBridge), cfg2.DefaultBridge, linkExists(t, cfg2.DefaultBridge))
	}

	// Restore with the container that still runs: the lost one's veth goes.
	again := *kept
	again.NetNS = netns(t) // any namespace: Restore does not enter it on the default bridge
	if err := c2.Restore([]*Sandbox{&again}); err != nil {
		t.Fatal(err)
	}
	if linkExists(t, lostIf) || !linkExists(t, keptIf) {
		t.Errorf("after Restore: veth of the lost container %s exists: %v, of the running one %s: %v",
			lostIf, linkExists(t, lostIf), keptIf, linkExists(t, keptIf))
	}
	if !linkExists(t, cfg.DefaultBridge) {
		t.Errorf("the old default bridge went while a running container hangs on it")
	}

	// Once that container is gone, the next start removes the old bridge too.
	c2.Leave(&again)
	if err := link.DetachVeth(keptIf); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	c3, err := Open(cfg2)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if linkExists(t, cfg.DefaultBridge) {
		t.Errorf("the old default bridge %s is still there once no port holds it", cfg.DefaultBridge)
	}
	for _, name := range []string{foreign, other, cfg2.DefaultBridge} {
		if !linkExists(t, name) {
			t.Errorf("bridge %s was removed", name)
		}
	}
}

// An IPv6 subnet given without EnableIPv6 is recorded and left unused, as Docker
// 20.10 does (docker-py's suite relies on it): no pool, no address on the bridge
// or for containers, an --ip6 asked for ignored; an --ip6 on a network with no IPv6
// subnet at all is refused, as Docker does. The network's name has a space: Docker
// takes any non-blank name, and berth derives nothing from it (the bridge is named
// after the ID).
func TestControllerIPv6SubnetWithoutIPv6(t *testing.T) {
	root := t.TempDir()
	c, cfg := testController(t, root)
	if err := c.Restore(nil); err != nil {
		t.Fatal(err)
	}
	v6 := netip.MustParsePrefix(fmt.Sprintf("fd%02x:%x::1/64", rand.IntN(256), rand.IntN(0xffff)))
	n, err := c.Create(CreateRequest{Name: "test 01", Subnets: []SubnetRequest{{Prefix: v6}}})
	if err != nil {
		t.Fatal(err)
	}
	if n.EnableIPv6 || n.IPv6 == nil || n.IPv6.Prefix != v6 || n.IPv4 == nil {
		t.Fatalf("network %+v: want IPv4 and the IPv6 subnet %s recorded, IPv6 off", n, v6)
	}
	if !strings.HasPrefix(n.Bridge, cfg.BridgePrefix) {
		t.Errorf("bridge %q: not named after the network's ID", n.Bridge)
	}
	if _, err := c.ipam.Pool(poolKey(n.ID, false)); !errdefs.IsNotFound(err) {
		t.Errorf("an IPv6 pool was taken: %v", err)
	}
	if out, _ := exec.Command("ip", "-6", "addr", "show", "dev", n.Bridge, "scope", "global").CombinedOutput(); len(out) != 0 {
		t.Errorf("the bridge has an IPv6 address:\n%s", out)
	}
	want := v6.Masked().Addr().Next().Next()
	sb, err := c.Join(JoinRequest{ContainerID: "c1", Name: "one", Hostname: "one", NetNS: netns(t),
		Endpoints: []EndpointRequest{{Network: "test 01", IPv6: want}}})
	if err != nil {
		t.Fatal(err)
	}
	if ep := sb.Endpoints[0]; !ep.IPv4.IsValid() || ep.IPv6.IsValid() {
		t.Errorf("endpoint %+v: want an IPv4 address only", ep)
	}

	// Opened again (berthd restarted), the subnet is still unused.
	c.Close()
	c2, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Restore([]*Sandbox{sb}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ipam.Pool(poolKey(n.ID, false)); !errdefs.IsNotFound(err) {
		t.Errorf("after Open, an IPv6 pool: %v", err)
	}
	if _, err := c2.Create(CreateRequest{Name: "v4only"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Connect("c1", EndpointRequest{Network: "v4only", IPv6: want}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("--ip6 on a network without an IPv6 subnet: %v", err)
	}
	c2.Leave(sb)
	for _, name := range []string{"test 01", "v4only"} {
		if err := c2.Remove(name); err != nil {
			t.Errorf("remove %s: %v", name, err)
		}
	}
}
