package dns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// fakeUpstream is a resolver on 127.0.0.1 (UDP and TCP on one port) that
// answers "*.test." names with 192.0.2.1, "big.test." with 40 addresses (too
// many for 512 bytes: truncated over UDP), "fail.test." with SERVFAIL and
// the rest with NXDOMAIN, and counts the questions it gets.
type fakeUpstream struct {
	addr    netip.AddrPort
	queries atomic.Int32
}

func newFakeUpstream(t *testing.T, rcode int) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{}
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		u.queries.Add(1)
		resp := new(mdns.Msg)
		resp.SetReply(req)
		q := req.Question[0]
		_, tcp := w.RemoteAddr().(*net.TCPAddr)
		switch {
		case rcode != mdns.RcodeSuccess:
			resp.Rcode = rcode
		case q.Name == "big.test.":
			for i := range 40 {
				resp.Answer = append(resp.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30},
					A: net.IPv4(192, 0, 2, byte(i+1))})
			}
			if !tcp {
				resp.Truncate(mdns.MinMsgSize)
			}
		case q.Qtype == mdns.TypeA && mdns.IsSubDomain("test.", q.Name):
			resp.Answer = append(resp.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30},
				A: net.IPv4(192, 0, 2, 1)})
		case q.Qtype == mdns.TypePTR:
			resp.Answer = append(resp.Answer, &mdns.PTR{Hdr: mdns.RR_Header{Name: q.Name, Rrtype: mdns.TypePTR, Class: mdns.ClassINET, Ttl: 30},
				Ptr: "upstream.test."})
		default:
			resp.Rcode = mdns.RcodeNameError
		}
		w.WriteMsg(resp)
	})
	// One port for UDP and TCP: the free UDP port the kernel picks may be taken for
	// TCP (other tests run beside this one), so a few tries.
	var pc net.PacketConn
	var ln net.Listener
	for try := 0; ; try++ {
		var err error
		if pc, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp4", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		if try == 20 {
			t.Fatal(err)
		}
	}
	u.addr = netip.MustParseAddrPort(pc.LocalAddr().String())
	for _, s := range []*mdns.Server{{PacketConn: pc, Handler: handler}, {Listener: ln, Handler: handler}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return u
}

// deadUpstream is an address where nothing listens: a UDP question there
// fails at once (ICMP port unreachable).
func deadUpstream(t *testing.T) netip.AddrPort {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close()
	return addr
}

// silentUpstream reads questions and never answers.
func silentUpstream(t *testing.T) netip.AddrPort {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

func newTestResolver(t *testing.T, opts Options) *Resolver {
	t.Helper()
	r, err := NewResolver(testDirectory(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Resolver.Close: %v", err)
		}
	})
	return r
}

// listenLocal serves cfg on sockets bound to 127.0.0.1 in the test's own
// namespace (random ports: UDP and TCP differ).
func listenLocal(t *testing.T, r *Resolver, cfg ListenConfig) *Listener {
	t.Helper()
	any := netip.MustParseAddrPort("127.0.0.1:0")
	udp, tcp, err := bindSockets(any, any)
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.serve(udp, tcp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func ask(t *testing.T, network string, server netip.AddrPort, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	resp, err := query(network, server, name, qtype, false)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, mdns.TypeToString[qtype], err)
	}
	return resp
}

func query(network string, server netip.AddrPort, name string, qtype uint16, edns bool) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(4096, false)
	}
	c := mdns.Client{Net: network, Timeout: 10 * time.Second}
	resp, _, err := c.Exchange(m, server.String())
	return resp, err
}

// answerAddrs are the A and AAAA records of resp, and checks their TTL.
func answerAddrs(t *testing.T, resp *mdns.Msg, ttl uint32) []netip.Addr {
	t.Helper()
	var out []netip.Addr
	for _, rr := range resp.Answer {
		if rr.Header().Ttl != ttl {
			t.Errorf("%v: TTL %d, want %d", rr, rr.Header().Ttl, ttl)
		}
		switch rr := rr.(type) {
		case *mdns.A:
			a, _ := netip.AddrFromSlice(rr.A.To4())
			out = append(out, a)
		case *mdns.AAAA:
			a, _ := netip.AddrFromSlice(rr.AAAA)
			out = append(out, a)
		}
	}
	return out
}

func TestResolverContainerNames(t *testing.T) {
	up := newFakeUpstream(t, mdns.RcodeSuccess)
	r := newTestResolver(t, Options{})
	fromDB := listenLocal(t, r, ListenConfig{Container: idDB, Upstreams: []netip.AddrPort{up.addr}})
	fromWeb := listenLocal(t, r, ListenConfig{Container: idWeb, Upstreams: []netip.AddrPort{up.addr}})

	for _, tc := range []struct {
		l     *Listener
		name  string
		qtype uint16
		want  []netip.Addr
	}{
		{fromDB, "web.", mdns.TypeA, addrs("172.18.0.2")},
		{fromDB, "WeB.", mdns.TypeA, addrs("172.18.0.2")},
		{fromDB, "www.", mdns.TypeA, addrs("172.18.0.2")},
		{fromDB, idWeb[:12] + ".", mdns.TypeA, addrs("172.18.0.2")},
		{fromDB, "webhost.", mdns.TypeA, addrs("172.18.0.2")},
		{fromDB, "web.", mdns.TypeAAAA, addrs("fd00::2")},
		{fromDB, "shared.", mdns.TypeA, addrs("172.18.0.2", "172.18.0.3")},
		{fromDB, "database.", mdns.TypeA, addrs("172.19.0.3")},
		{fromWeb, "db.", mdns.TypeA, addrs("172.18.0.3")},
		{fromWeb, "db.", mdns.TypeAAAA, nil}, // known, IPv4 only: empty NOERROR
		{fromWeb, "db.", mdns.TypeMX, nil},
	} {
		for _, network := range []string{"udp", "tcp"} {
			server := tc.l.addr
			if network == "tcp" {
				server = tc.l.tcpAddr
			}
			resp := ask(t, network, server, tc.name, tc.qtype)
			got := answerAddrs(t, resp, 600)
			if resp.Rcode != mdns.RcodeSuccess || !resp.Authoritative || !sameAddrs(got, tc.want) {
				t.Errorf("%s from %.12s: %s %s = %s aa=%v %v; want NOERROR aa %v", network, tc.l.container, tc.name,
					mdns.TypeToString[tc.qtype], mdns.RcodeToString[resp.Rcode], resp.Authoritative, got, tc.want)
			}
		}
	}
	if n := up.queries.Load(); n != 0 {
		t.Errorf("upstream asked %d questions about container names, want 0", n)
	}

	// PTR: the name is NAME.NETWORK.
	resp := ask(t, "udp", fromDB.addr, "2.0.18.172.in-addr.arpa.", mdns.TypePTR)
	if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.PTR).Ptr != "web.front." || resp.Answer[0].Header().Ttl != 600 {
		t.Errorf("PTR 172.18.0.2 = %v, want web.front. TTL 600", resp.Answer)
	}
	// web does not see db's address on back: asked upstream.
	resp = ask(t, "udp", fromWeb.addr, "3.0.19.172.in-addr.arpa.", mdns.TypePTR)
	if len(resp.Answer) != 1 || resp.Answer[0].(*mdns.PTR).Ptr != "upstream.test." {
		t.Errorf("PTR of an address on another network = %v, want the upstream's answer", resp.Answer)
	}
	// "other" is on no network of web's: not a container name for web.
	resp = ask(t, "udp", fromWeb.addr, "other.", mdns.TypeA)
	if resp.Rcode != mdns.RcodeNameError {
		t.Errorf("other. from web: %s, want the upstream's NXDOMAIN", mdns.RcodeToString[resp.Rcode])
	}
}

func TestResolverForwards(t *testing.T) {
	up := newFakeUpstream(t, mdns.RcodeSuccess)
	failing := newFakeUpstream(t, mdns.RcodeServerFailure)
	refusing := newFakeUpstream(t, mdns.RcodeRefused)
	r := newTestResolver(t, Options{})

	l := listenLocal(t, r, ListenConfig{Container: idDB,
		Upstreams: []netip.AddrPort{deadUpstream(t), failing.addr, refusing.addr, up.addr}})
	resp := ask(t, "udp", l.addr, "www.example.test.", mdns.TypeA)
	if got := answerAddrs(t, resp, 30); resp.Rcode != mdns.RcodeSuccess || !sameAddrs(got, addrs("192.0.2.1")) {
		t.Errorf("forwarded past a dead, a failing and a refusing upstream: %s %v, want 192.0.2.1", mdns.RcodeToString[resp.Rcode], got)
	}
	if failing.queries.Load() != 1 || refusing.queries.Load() != 1 || up.queries.Load() != 1 {
		t.Errorf("questions: failing %d, refusing %d, good %d; want 1 each", failing.queries.Load(), refusing.queries.Load(), up.queries.Load())
	}
	resp = ask(t, "udp", l.addr, "nosuch.example.", mdns.TypeA)
	if resp.Rcode != mdns.RcodeNameError {
		t.Errorf("unknown name: %s, want the upstream's NXDOMAIN", mdns.RcodeToString[resp.Rcode])
	}

	// All fail: SERVFAIL.
	l.SetUpstreams([]netip.AddrPort{deadUpstream(t), failing.addr})
	if resp := ask(t, "udp", l.addr, "www.example.test.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("every upstream failing: %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
	}

	// No upstreams (an --internal network): NXDOMAIN, container names still answer.
	l.SetUpstreams(nil)
	if resp := ask(t, "udp", l.addr, "www.example.test.", mdns.TypeA); resp.Rcode != mdns.RcodeNameError {
		t.Errorf("no upstreams: %s, want NXDOMAIN", mdns.RcodeToString[resp.Rcode])
	}
	if resp := ask(t, "udp", l.addr, "web.", mdns.TypeA); len(resp.Answer) != 1 {
		t.Errorf("no upstreams: web. = %v, want its address", resp.Answer)
	}
}

func TestResolverForwardTimeout(t *testing.T) {
	up := newFakeUpstream(t, mdns.RcodeSuccess)
	r := newTestResolver(t, Options{ForwardTimeout: 200 * time.Millisecond})
	l := listenLocal(t, r, ListenConfig{Container: idDB, Upstreams: []netip.AddrPort{silentUpstream(t), up.addr}})
	start := time.Now()
	resp := ask(t, "udp", l.addr, "a.test.", mdns.TypeA)
	if got := answerAddrs(t, resp, 30); !sameAddrs(got, addrs("192.0.2.1")) {
		t.Errorf("after a silent upstream: %s %v, want 192.0.2.1", mdns.RcodeToString[resp.Rcode], got)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Errorf("answered after %v, want the 200ms timeout of the silent upstream and then some", d)
	}
	l.SetUpstreams([]netip.AddrPort{silentUpstream(t)})
	if resp := ask(t, "udp", l.addr, "a.test.", mdns.TypeA); resp.Rcode != mdns.RcodeServerFailure {
		t.Errorf("only a silent upstream: %s, want SERVFAIL", mdns.RcodeToString[resp.Rcode])
	}
}

func TestResolverTruncation(t *testing.T) {
	up := newFakeUpstream(t, mdns.RcodeSuccess)
	r := newTestResolver(t, Options{})
	l := listenLocal(t, r, ListenConfig{Container: idDB, Upstreams: []netip.AddrPort{up.addr}})

	// The upstream truncates over UDP; the server asks again over TCP, and
	// gives a UDP client without EDNS0 512 bytes and the TC bit...
	resp := ask(t, "udp", l.addr, "big.test.", mdns.TypeA)
	if !resp.Truncated || len(resp.Answer) >= 40 {
		t.Errorf("big answer over UDP: tc=%v, %d records; want TC and fewer than 40", resp.Truncated, len(resp.Answer))
	}
	// ... a client with EDNS0 (4096 bytes) all of it ...
	resp, err := query("udp", l.addr, "big.test.", mdns.TypeA, true)
	if err != nil || resp.Truncated || len(resp.Answer) != 40 {
		t.Fatalf("big answer over UDP with EDNS0: %v, want 40 records (err %v)", resp, err)
	}
	// ... and a TCP client all of it.
	resp = ask(t, "tcp", l.tcpAddr, "big.test.", mdns.TypeA)
	if resp.Truncated || len(resp.Answer) != 40 {
		t.Errorf("big answer over TCP: tc=%v, %d records; want 40", resp.Truncated, len(resp.Answer))
	}
}

func TestResolverProtocol(t *testing.T) {
	r := newTestResolver(t, Options{})
	l := listenLocal(t, r, ListenConfig{Container: idDB})
	c := mdns.Client{Timeout: 10 * time.Second}

	m := new(mdns.Msg)
	m.SetQuestion("web.", mdns.TypeA)
	m.Opcode = mdns.OpcodeStatus
	if resp, _, err := c.Exchange(m, l.addr.String()); err != nil || resp.Rcode != mdns.RcodeNotImplemented {
		t.Errorf("STATUS opcode: %v %v, want NOTIMP", resp, err)
	}
	m = new(mdns.Msg)
	m.Id = mdns.Id()
	if resp, _, err := c.Exchange(m, l.addr.String()); err != nil || resp.Rcode != mdns.RcodeFormatError {
		t.Errorf("no question: %v %v, want FORMERR", resp, err)
	}
	m = new(mdns.Msg)
	m.SetQuestion("web.", mdns.TypeA)
	m.SetEdns0(1232, false)
	resp, _, err := c.Exchange(m, l.addr.String())
	if err != nil || resp.IsEdns0() == nil || resp.Id != m.Id || !resp.RecursionDesired {
		t.Errorf("EDNS0 question: %v %v, want an answer with EDNS0, same id, RD copied", resp, err)
	}
}

func TestListenerClose(t *testing.T) {
	r := newTestResolver(t, Options{})
	l := listenLocal(t, r, ListenConfig{Container: idDB})
	if resp := ask(t, "udp", l.addr, "web.", mdns.TypeA); len(resp.Answer) != 1 {
		t.Fatalf("before Close: %v", resp.Answer)
	}
	// An open TCP connection is closed with the listener.
	conn, err := net.Dial("tcp", l.tcpAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	co := &mdns.Conn{Conn: conn}
	m := new(mdns.Msg)
	m.SetQuestion("web.", mdns.TypeA)
	if err := co.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	if _, err := co.ReadMsg(); err != nil {
		t.Fatalf("TCP answer before Close: %v", err)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := co.ReadMsg(); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Errorf("TCP connection after Close: read %v, want EOF or reset", err)
	}
	if _, err := query("udp", l.addr, "web.", mdns.TypeA, false); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("UDP question after Close: %v, want connection refused (port closed)", err)
	}
	if _, err := net.Dial("tcp", l.tcpAddr.String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("TCP connect after Close: %v, want connection refused", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// An idle container costs the server sockets, not goroutines.
func TestListenersCostNoGoroutines(t *testing.T) {
	r := newTestResolver(t, Options{})
	before := runtime.NumGoroutine()
	var ls []*Listener
	for range 200 {
		ls = append(ls, listenLocal(t, r, ListenConfig{Container: idDB}))
	}
	if after := runtime.NumGoroutine(); after > before+5 {
		t.Errorf("200 listeners: %d goroutines, %d before; want no goroutine per listener", after, before)
	}
	// Each still answers, and for its own container.
	for _, l := range []*Listener{ls[0], ls[99], ls[199]} {
		if resp := ask(t, "udp", l.addr, "db.", mdns.TypeA); len(resp.Answer) != 2 {
			t.Errorf("listener %d: db. = %v, want db's two addresses", l.id, resp.Answer)
		}
	}
}

func TestResolverCloseStopsEverything(t *testing.T) {
	r, err := NewResolver(testDirectory(), Options{ForwardTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	l := listenLocal(t, r, ListenConfig{Container: idDB, Upstreams: []netip.AddrPort{silentUpstream(t)}})
	// A question stuck on a silent upstream must not hold Close up.
	m := new(mdns.Msg)
	m.SetQuestion("stuck.test.", mdns.TypeA)
	conn, err := net.Dial("udp", l.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	co := &mdns.Conn{Conn: conn}
	if err := co.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return r.inFlight.Load() == 1 })
	done := make(chan error)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Resolver.Close did not return with a question being forwarded")
	}
	if _, err := net.Dial("tcp", l.tcpAddr.String()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("TCP connect after Resolver.Close: %v, want connection refused", err)
	}
	if _, err := r.serve(-1, -1, ListenConfig{}); err == nil {
		t.Error("serve after Close succeeded")
	}
}

// waitFor polls cond until it holds (at most 10 s).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
