package dns

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// Bounds on the work one container, and all of them, can make the server do.
const (
	// maxInFlightPerListener is how many questions from one container are
	// answered at once; more get SERVFAIL at once.
	maxInFlightPerListener = 64
	// maxInFlight bounds the questions of all containers answered at once.
	maxInFlight = 1024
	// maxTCPConnsPerListener bounds one container's open TCP connections;
	// more are closed as they are accepted.
	maxTCPConnsPerListener = 16
	// tcpIdleTimeout closes a TCP connection that sends no question for
	// that long (RFC 7766 leaves the time to the server; miekg/dns's is 8 s).
	tcpIdleTimeout = 8 * time.Second
	// tcpMaxQueries bounds the questions on one TCP connection.
	tcpMaxQueries = 128
	// packetsPerWakeup bounds the datagrams read from one socket before the
	// loop looks at the others (the socket stays readable: level-triggered).
	packetsPerWakeup = 16
)

// Options tune a Resolver. The zero value is Docker's behaviour.
type Options struct {
	// ForwardTimeout is how long to wait for each upstream resolver
	// (DefaultForwardTimeout when 0).
	ForwardTimeout time.Duration
	// Logger receives forwarding failures at debug level (none when nil).
	Logger *slog.Logger
}

// ListenConfig describes the container a listener serves.
type ListenConfig struct {
	// Container identifies the container to the Lookup (its from argument).
	Container string
	// Upstreams are the resolvers other names are forwarded to, in order
	// (see Upstreams). None: names the Lookup does not know get NXDOMAIN.
	Upstreams []netip.AddrPort
}

// Resolver is the embedded DNS server of all containers: one epoll set over
// every container's sockets, watched by one goroutine parked in Go's
// netpoller. Make one with NewResolver; Close it when the daemon stops.
type Resolver struct {
	resp responder

	epoll *os.File // the epoll set, registered with Go's netpoller
	raw   syscall.RawConn

	ctx    context.Context // cancelled by Close: stops forwarding
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners map[uint32]*Listener // by id, the epoll data of their sockets
	nextID    uint32
	closed    bool

	inFlight atomic.Int32
	work     sync.WaitGroup // the loop and every answering goroutine
}

// Listener is the embedded server's pair of sockets in one container's
// network namespace.
type Listener struct {
	r         *Resolver
	id        uint32
	container string
	upstreams atomic.Pointer[[]netip.AddrPort]
	addr      netip.AddrPort // where the UDP socket is bound
	tcpAddr   netip.AddrPort

	ctx    context.Context
	cancel context.CancelFunc

	// mu guards the descriptors: held shared while they are used, exclusive
	// to close them, so a descriptor number is never used after Close
	// (when it may already name another file).
	mu       sync.RWMutex
	closed   bool
	udp, tcp int
	conns    map[net.Conn]struct{}

	inFlight atomic.Int32
}

// The socket an epoll event is about, in the event's Pad field.
const (
	kindUDP int32 = iota
	kindTCP
)

// NewResolver starts a Resolver that answers container names from lookup.
func NewResolver(lookup Lookup, opts Options) (*Resolver, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("embedded dns: epoll_create1: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("embedded dns: epoll set non-blocking: %w", err)
	}
	// A non-blocking descriptor given to os.NewFile joins Go's netpoller: the
	// loop parks until the epoll set has events, holding no thread.
	f := os.NewFile(uintptr(fd), "embedded-dns-epoll")
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded dns: epoll: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Resolver{
		resp:      responder{lookup: lookup, fwd: forwarder{timeout: opts.ForwardTimeout}, log: log},
		epoll:     f,
		raw:       raw,
		ctx:       ctx,
		cancel:    cancel,
		listeners: map[uint32]*Listener{},
	}
	r.work.Add(1)
	go r.loop()
	return r, nil
}

// Close stops every listener and the Resolver, and returns once no goroutine
// of it runs any more (questions being forwarded are abandoned).
func (r *Resolver) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	ls := make([]*Listener, 0, len(r.listeners))
	for _, l := range r.listeners {
		ls = append(ls, l)
	}
	r.mu.Unlock()
	r.cancel()
	var errs []error
	for _, l := range ls {
		errs = append(errs, l.Close())
	}
	errs = append(errs, r.epoll.Close())
	r.work.Wait()
	return errors.Join(errs...)
}

// serve takes over a bound UDP socket and a listening TCP socket (both
// non-blocking) and answers on them for cfg.Container. On error the sockets
// are closed.
func (r *Resolver) serve(udp, tcp int, cfg ListenConfig) (*Listener, error) {
	l := &Listener{r: r, container: cfg.Container, udp: udp, tcp: tcp, conns: map[net.Conn]struct{}{}}
	l.addr, _ = boundAddr(udp)
	l.tcpAddr, _ = boundAddr(tcp)
	l.SetUpstreams(cfg.Upstreams)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		unix.Close(udp)
		unix.Close(tcp)
		return nil, errors.New("embedded dns: resolver closed")
	}
	r.nextID++
	l.id = r.nextID
	l.ctx, l.cancel = context.WithCancel(r.ctx)
	err := r.control(func(ep int) error {
		for _, s := range []struct {
			fd   int
			kind int32
		}{{udp, kindUDP}, {tcp, kindTCP}} {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.id), Pad: s.kind}
			if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
				return fmt.Errorf("epoll_ctl add: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		l.cancel()
		unix.Close(udp) // closing removes them from the epoll set
		unix.Close(tcp)
		return nil, fmt.Errorf("embedded dns: %w", err)
	}
	r.listeners[l.id] = l
	return l, nil
}

// control runs fn on the epoll descriptor, kept open meanwhile.
func (r *Resolver) control(fn func(ep int) error) error {
	var ferr error
	if err := r.raw.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// loop waits for sockets to become readable and reads them, until the epoll
// descriptor is closed.
func (r *Resolver) loop() {
	defer r.work.Done()
	events := make([]unix.EpollEvent, 64)
	buf := make([]byte, mdns.MaxMsgSize)
	for {
		var n int
		var werr error
		err := r.raw.Read(func(fd uintptr) bool {
			n, werr = unix.EpollWait(int(fd), events, 0)
			if werr == unix.EINTR {
				n, werr = 0, nil
				return true // try again without waiting
			}
			return werr != nil || n > 0
		})
		if err != nil {
			return // closed
		}
		if werr != nil {
			r.resp.log.Error("embedded dns: epoll_wait", "err", werr)
			return
		}
		for _, ev := range events[:n] {
			r.mu.Lock()
			l := r.listeners[uint32(ev.Fd)]
			r.mu.Unlock()
			if l == nil {
				continue // closed meanwhile
			}
			switch ev.Pad {
			case kindUDP:
				l.readUDP(buf)
			case kindTCP:
				l.accept()
			}
		}
	}
}

// SetUpstreams changes the resolvers the listener forwards to (the container
// was connected to or disconnected from networks).
func (l *Listener) SetUpstreams(upstreams []netip.AddrPort) {
	u := append([]netip.AddrPort(nil), upstreams...)
	l.upstreams.Store(&u)
}

// Close stops answering for the container and closes the sockets and the
// TCP connections. Questions being forwarded are abandoned.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	r := l.r
	r.mu.Lock()
	delete(r.listeners, l.id)
	r.mu.Unlock()
	l.cancel()
	// Closing a descriptor removes it from the epoll set: this process holds
	// no other copy of it.
	err := errors.Join(closeFD(l.udp), closeFD(l.tcp))
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("embedded dns: close listener of %s: %w", l.container, err)
	}
	return nil
}

func closeFD(fd int) error {
	if err := unix.Close(fd); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// readUDP reads the datagrams waiting on the UDP socket (a few at most) and
// answers each on its own goroutine.
func (l *Listener) readUDP(buf []byte) {
	for range packetsPerWakeup {
		l.mu.RLock()
		if l.closed {
			l.mu.RUnlock()
			return
		}
		n, from, err := unix.Recvfrom(l.udp, buf, unix.MSG_DONTWAIT)
		l.mu.RUnlock()
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		if err != nil || n == 0 {
			continue // a pending socket error, or an empty datagram
		}
		req := new(mdns.Msg)
		if req.Unpack(bytes.Clone(buf[:n])) != nil { // buf is reused: the message may keep slices of it
			continue // not DNS: no answer, as any server
		}
		if !l.acquire() {
			l.sendUDP(reply(req, mdns.RcodeServerFailure), from, udpLimit(req))
			continue
		}
		l.r.work.Add(1)
		go func() {
			defer l.r.work.Done()
			defer l.release()
			if resp := l.r.resp.respond(l.ctx, l.container, *l.upstreams.Load(), req); resp != nil {
				l.sendUDP(resp, from, udpLimit(req))
			}
		}()
	}
}

// sendUDP sends resp to the client at to, truncated to limit bytes (the TC
// bit then tells the client to ask again over TCP).
func (l *Listener) sendUDP(resp *mdns.Msg, to unix.Sockaddr, limit int) {
	resp.Truncate(limit)
	out, err := resp.Pack()
	if err != nil {
		return
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if !l.closed {
		// A full socket buffer drops the answer; the client asks again.
		_ = unix.Sendto(l.udp, out, unix.MSG_DONTWAIT, to)
	}
}

// acquire reserves room for one more question in flight, for this container
// and in all.
func (l *Listener) acquire() bool {
	if l.inFlight.Add(1) > maxInFlightPerListener {
		l.inFlight.Add(-1)
		return false
	}
	if l.r.inFlight.Add(1) > maxInFlight {
		l.r.inFlight.Add(-1)
		l.inFlight.Add(-1)
		return false
	}
	return true
}

func (l *Listener) release() {
	l.r.inFlight.Add(-1)
	l.inFlight.Add(-1)
}

// accept takes the waiting TCP connections and serves each on its own
// goroutine.
func (l *Listener) accept() {
	for range packetsPerWakeup {
		l.mu.RLock()
		if l.closed {
			l.mu.RUnlock()
			return
		}
		fd, _, err := unix.Accept4(l.tcp, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		l.mu.RUnlock()
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		if err != nil {
			continue // the connection was reset before accept, or out of files
		}
		f := os.NewFile(uintptr(fd), "embedded-dns-tcp")
		c, err := net.FileConn(f) // a copy of fd in Go's netpoller
		f.Close()
		if err != nil {
			continue
		}
		if !l.track(c) {
			c.Close()
			continue
		}
		l.r.work.Add(1)
		go func() {
			defer l.r.work.Done()
			defer l.untrack(c)
			l.serveTCP(c)
		}()
	}
}

// track records an open TCP connection so Close can close it; false when the
// listener is closed or has its share of connections.
func (l *Listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || len(l.conns) >= maxTCPConnsPerListener {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
}

// serveTCP answers the questions of one TCP connection (each message
// preceded by its length in two bytes, RFC 1035 4.2.2) until the client
// closes it or stays idle.
func (l *Listener) serveTCP(c net.Conn) {
	var lenBuf [2]byte
	for range tcpMaxQueries {
		c.SetReadDeadline(time.Now().Add(tcpIdleTimeout))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		req := new(mdns.Msg)
		if req.Unpack(msg) != nil {
			return
		}
		var resp *mdns.Msg
		if l.acquire() {
			resp = l.r.resp.respond(l.ctx, l.container, *l.upstreams.Load(), req)
			l.release()
		} else {
			resp = reply(req, mdns.RcodeServerFailure)
		}
		if resp == nil {
			continue
		}
		resp.Truncate(mdns.MaxMsgSize)
		out, err := resp.Pack()
		if err != nil {
			return
		}
		framed := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(out)), uint16(len(out)))
		c.SetWriteDeadline(time.Now().Add(tcpIdleTimeout))
		if _, err := c.Write(append(framed, out...)); err != nil {
			return
		}
	}
}

// boundAddr is the address a socket is bound to.
func boundAddr(fd int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), nil
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port)), nil
	}
	return netip.AddrPort{}, fmt.Errorf("not an IP socket: %T", sa)
}
