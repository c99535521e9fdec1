package firewall

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/testutil"
)

// world is a private set of network namespaces a test builds with `ip`:
// one plays the host (berth's rules are applied there, never in the test
// process's own namespace), the others play containers and remote hosts.
// Everything is deleted when the test ends.
type world struct {
	t      *testing.T
	prefix string // berth-test-fw-<rand>
}

func newWorld(t *testing.T) *world {
	t.Helper()
	testutil.RequireRoot(t, "network namespaces and nftables")
	for _, bin := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s (apt-get install iproute2 nftables): %v", bin, err)
		}
	}
	return &world{t: t, prefix: testutil.UniqueID("fw")}
}

// netns creates a namespace and returns its name.
func (w *world) netns(name string) string {
	w.t.Helper()
	ns := w.prefix + "-" + name
	w.run("ip", "netns", "add", ns)
	w.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			w.t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	w.run("ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

func (w *world) run(name string, args ...string) string {
	w.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		w.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// ip runs `ip -n ns ARGS...`.
func (w *world) ip(ns string, args ...string) {
	w.t.Helper()
	w.run("ip", append([]string{"-n", ns}, args...)...)
}

// fd opens a namespace for nftables.WithNetNSFd; closed at cleanup.
func (w *world) fd(ns string) int {
	w.t.Helper()
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { f.Close() })
	return int(f.Fd())
}

// in runs f on an OS thread that has joined ns. The thread is thrown away
// afterwards (the goroutine exits still locked), so no other goroutine ever
// runs in the wrong namespace. Sockets made in f stay in ns.
func in(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := unix.Setns(int(h.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// nft runs `nft ARGS...` inside ns; tests only read rulesets with it.
func nft(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, "nft"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// serveTCP listens on addr inside ns and answers every connection with
// "<name> <remote address>\n": who answered, and whom it saw.
func (w *world) serveTCP(ns, name, addr string) {
	w.t.Helper()
	var l net.Listener
	if err := in(ns, func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		w.t.Fatal(err)
	}
	var wg sync.WaitGroup
	w.t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s %s\n", name, c.RemoteAddr())
			c.Close()
		}
	}()
}

// serveUDP answers every datagram to addr inside ns with
// "<name> <remote address>\n".
func (w *world) serveUDP(ns, name, addr string) {
	w.t.Helper()
	var pc net.PacketConn
	if err := in(ns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		w.t.Fatal(err)
	}
	var wg sync.WaitGroup
	w.t.Cleanup(func() { pc.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(fmt.Sprintf("%s %s\n", name, from)), from)
		}
	}()
}

// Timeouts: a connection that should work gets a generous one (a fresh
// bridge port may take a moment); one that should be dropped is given
// a short one, and is only checked after a working path proved the world
// ready.
const (
	reachTimeout = 5 * time.Second
	dropTimeout  = 400 * time.Millisecond
)

// dial connects from ns to addr over network ("tcp" or "udp") and returns
// the server's answer: "<server name> <address it saw us from>".
func dial(ns, network, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	if err := in(ns, func() (err error) { c, err = net.DialTimeout(network, addr, timeout); return err }); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if network == "udp" {
		if _, err := c.Write([]byte("hello\n")); err != nil {
			return "", err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// reach asserts that a connection from ns to addr is answered by want
// (a server name, and optionally " <source host>" as the server saw it).
func reach(t testing.TB, ns, network, addr, want string) {
	t.Helper()
	got, err := dial(ns, network, addr, reachTimeout)
	if err != nil {
		t.Fatalf("%s from %s to %s: %v", network, ns, addr, err)
	}
	if !matches(got, want) {
		t.Fatalf("%s from %s to %s: answered %q, want %q", network, ns, addr, got, want)
	}
}

// matches compares "name host:port" with "name" or "name host".
func matches(got, want string) bool {
	gn, gaddr, _ := strings.Cut(got, " ")
	wn, whost, hasHost := strings.Cut(want, " ")
	if gn != wn {
		return false
	}
	if !hasHost {
		return true
	}
	h, _, err := net.SplitHostPort(gaddr)
	return err == nil && h == whost
}

// dropped asserts that a TCP connection from ns to addr gets no answer at
// all (a drop), as opposed to a refusal, which would prove the path open.
func dropped(t testing.TB, ns, addr string) {
	t.Helper()
	got, err := dial(ns, "tcp", addr, dropTimeout)
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("tcp from %s to %s: want it dropped (a timeout), got answer %q, error %v", ns, addr, got, err)
	}
}

// refused asserts that the host answered a TCP connection with a reset:
// nothing listens, and nothing translated it.
func refused(t testing.TB, ns, addr string) {
	t.Helper()
	got, err := dial(ns, "tcp", addr, reachTimeout)
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("tcp from %s to %s: want connection refused, got answer %q, error %v", ns, addr, got, err)
	}
}

// nftJSON is `nft -j list ...` made comparable: handles dropped (they grow
// with every batch) and set elements sorted (a hash set lists them in
// seed order).
func nftJSON(t testing.TB, ns string, args ...string) (normalized string, rules int, elems map[string]int) {
	t.Helper()
	var doc struct {
		Nftables []map[string]map[string]any `json:"nftables"`
	}
	out := nft(t, ns, append([]string{"-j", "list"}, args...)...)
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("nft -j: %v: %s", err, out)
	}
	elems = map[string]int{}
	for _, obj := range doc.Nftables {
		for kind, v := range obj {
			delete(v, "handle")
			if kind == "rule" {
				rules++
			}
			if e, ok := v["elem"].([]any); ok {
				elems[fmt.Sprint(v["name"])] = len(e)
				strs := make([]string, len(e))
				for i, x := range e {
					b, _ := json.Marshal(x)
					strs[i] = string(b)
				}
				sort.Strings(strs)
				v["elem"] = strs
			}
		}
	}
	b, err := json.MarshalIndent(doc, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b), rules, elems
}
