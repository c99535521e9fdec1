package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/testutil"
)

// testNetns is a new network namespace held by one locked OS thread, which
// runs the functions given to run inside it. The namespace has no name
// anywhere: it ends when the thread leaves it (at test cleanup) and the last
// socket in it is closed, and with the test process at the latest.
type testNetns struct {
	path string
	tid  int
	do   chan func()
}

func newTestNetns(t *testing.T) *testNetns {
	t.Helper()
	testutil.RequireRoot(t, "creates network namespaces")
	ns := &testNetns{do: make(chan func())}
	ready := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		runtime.LockOSThread()
		home, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ready <- err
			return
		}
		defer unix.Close(home)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ready <- fmt.Errorf("unshare network namespace: %w", err)
			return
		}
		ns.tid = unix.Gettid()
		ns.path = fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), ns.tid)
		ready <- nil
		for fn := range ns.do {
			fn()
		}
		// Back home, the thread may run other goroutines; if that fails it
		// stays locked and the runtime ends it.
		if unix.Setns(home, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(ns.do)
		<-exited
	})
	return ns
}

// homeNetns is the network namespace of the test process's threads.
func homeNetns(t *testing.T) string {
	t.Helper()
	var home string
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // not on a thread a testNetns holds
		defer runtime.UnlockOSThread()
		home, err = os.Readlink("/proc/thread-self/ns/net")
	}()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return home
}

// run calls fn on the namespace's thread: sockets it creates are inside.
func (ns *testNetns) run(fn func()) {
	done := make(chan struct{})
	ns.do <- func() { defer close(done); fn() }
	<-done
}

// ask sends a question to the embedded server from inside the namespace.
func (ns *testNetns) ask(t *testing.T, network, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	var conn net.Conn
	var err error
	ns.run(func() { conn, err = net.DialTimeout(network, "127.0.0.11:53", 10*time.Second) })
	if err != nil {
		t.Fatalf("dial 127.0.0.11:53/%s inside the namespace: %v", network, err)
	}
	defer conn.Close()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	c := mdns.Client{Timeout: 10 * time.Second}
	resp, _, err := c.ExchangeWithConn(m, &mdns.Conn{Conn: conn})
	if err != nil {
		t.Fatalf("%s %s over %s inside the namespace: %v", name, mdns.TypeToString[qtype], network, err)
	}
	return resp
}

// goResolver is Go's own stub resolver, as a program in the container would
// use it, talking to 127.0.0.11 from inside the namespace.
func (ns *testNetns) goResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var conn net.Conn
		var err error
		ns.run(func() {
			var d net.Dialer
			conn, err = d.DialContext(ctx, network, "127.0.0.11:53")
		})
		return conn, err
	}}
}

func loUp(t *testing.T, ns *testNetns) bool {
	t.Helper()
	var up bool
	ns.run(func() {
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			t.Errorf("lo: %v", err)
			return
		}
		up = lo.Flags&net.FlagUp != 0
	})
	return up
}

func TestListenInNetns(t *testing.T) {
	testutil.RequireRoot(t, "creates network namespaces")
	home := homeNetns(t)
	nsDB := newTestNetns(t)
	nsWeb := newTestNetns(t)
	up := newFakeUpstream(t, mdns.RcodeSuccess) // in the test's own namespace
	r := newTestResolver(t, Options{})

	if loUp(t, nsDB) {
		t.Fatal("lo of a new namespace is already up")
	}
	lDB, err := r.ListenInNetns(nsDB.path, ListenConfig{Container: idDB, Upstreams: []netip.AddrPort{up.addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lDB.Close() })
	if !loUp(t, nsDB) {
		t.Error("ListenInNetns left lo down")
	}
	lWeb, err := r.ListenInNetns(nsWeb.path, ListenConfig{Container: idWeb, Upstreams: []netip.AddrPort{up.addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lWeb.Close() })
	assertThreadsHome(t, home, nsDB.tid, nsWeb.tid)

	// A container name and an alias, over UDP and TCP.
	for _, network := range []string{"udp", "tcp"} {
		for name, want := range map[string][]netip.Addr{"web.": addrs("172.18.0.2"), "WWW.": addrs("172.18.0.2"), "database.": addrs("172.19.0.3")} {
			if got := answerAddrs(t, nsDB.ask(t, network, name, mdns.TypeA), 600); !sameAddrs(got, want) {
				t.Errorf("db asks %s over %s: %v, want %v", name, network, got, want)
			}
		}
	}
	// Each namespace is answered for its own container: web does not see db
	// on back.
	if got := answerAddrs(t, nsWeb.ask(t, "udp", "db.", mdns.TypeA), 600); !sameAddrs(got, addrs("172.18.0.3")) {
		t.Errorf("web asks db.: %v, want 172.18.0.3 only", got)
	}
	if resp := nsWeb.ask(t, "udp", "database.", mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Errorf("web asks database. (an alias on a network web is not on): %s, want NXDOMAIN from upstream", mdns.RcodeToString[resp.Rcode])
	}
	// An unknown name goes to the upstream on 127.0.0.1 of the host's
	// namespace (127.0.0.1 inside has nothing): forwarded from the host side.
	before := up.queries.Load()
	if got := answerAddrs(t, nsDB.ask(t, "udp", "www.example.test.", mdns.TypeA), 30); !sameAddrs(got, addrs("192.0.2.1")) {
		t.Errorf("forwarded name: %v, want 192.0.2.1", got)
	}
	if up.queries.Load() != before+1 {
		t.Errorf("upstream got %d questions, want 1", up.queries.Load()-before)
	}
	// PTR.
	resp := nsDB.ask(t, "udp", "2.0.18.172.in-addr.arpa.", mdns.TypePTR)
	if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.PTR).Ptr != "web.front." {
		t.Errorf("PTR 172.18.0.2: %v, want web.front.", resp.Answer)
	}

	// Go's resolver, as a program in the container uses it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := nsDB.goResolver()
	if got, err := res.LookupNetIP(ctx, "ip4", "web."); err != nil || !sameAddrs(got, addrs("172.18.0.2")) {
		t.Errorf("Go resolver web.: %v %v, want 172.18.0.2", got, err)
	}
	if got, err := res.LookupAddr(ctx, "172.18.0.3"); err != nil || !slices.Equal(got, []string{"db.front."}) {
		t.Errorf("Go resolver PTR 172.18.0.3: %v %v, want db.front.", got, err)
	}
	if got, err := res.LookupNetIP(ctx, "ip4", "mail.example.test."); err != nil || !sameAddrs(got, addrs("192.0.2.1")) {
		t.Errorf("Go resolver mail.example.test.: %v %v, want 192.0.2.1 from upstream", got, err)
	}

	// The port is taken while the listener lives, and free once it is closed.
	if _, err := r.ListenInNetns(nsDB.path, ListenConfig{Container: idDB}); !errors.Is(err, unix.EADDRINUSE) {
		t.Errorf("second listener in one namespace: %v, want address in use", err)
	}
	if err := lDB.Close(); err != nil {
		t.Fatal(err)
	}
	nsDB.run(func() {
		for _, typ := range []int{unix.SOCK_DGRAM, unix.SOCK_STREAM} {
			fd, err := boundSocket(typ, listenAddr)
			if err != nil {
				t.Errorf("bind 127.0.0.11:53 after Close: %v, want the port free", err)
				continue
			}
			unix.Close(fd)
		}
	})
	assertThreadsHome(t, home, nsDB.tid, nsWeb.tid)
}

func TestListenInNetnsErrors(t *testing.T) {
	testutil.RequireRoot(t, "enters network namespaces")
	home := homeNetns(t)
	r := newTestResolver(t, Options{})
	for _, path := range []string{filepath.Join(t.TempDir(), "missing"), "/proc/self/ns/mnt"} {
		if l, err := r.ListenInNetns(path, ListenConfig{}); err == nil {
			l.Close()
			t.Errorf("ListenInNetns(%s) succeeded", path)
		}
	}
	assertThreadsHome(t, home)
}

// assertThreadsHome checks that every thread of the process but the given
// ones is in the network namespace home: ListenInNetns returned each thread
// it used (or the runtime ended it).
func assertThreadsHome(t *testing.T, home string, except ...int) {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		var tid int
		fmt.Sscan(task.Name(), &tid)
		if slices.Contains(except, tid) {
			continue
		}
		ns, err := os.Readlink(filepath.Join("/proc/self/task", task.Name(), "ns/net"))
		if err != nil {
			continue // the thread ended meanwhile
		}
		if ns != home {
			t.Errorf("thread %d is in %s, not the process's %s", tid, ns, home)
		}
	}
}
