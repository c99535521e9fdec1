package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"
)

// listenAddr is where the embedded server listens inside a container.
var listenAddr = netip.AddrPortFrom(EmbeddedServer, 53)

// ListenInNetns starts answering for a container: it creates a UDP and a TCP
// socket bound to 127.0.0.11:53 inside the network namespace at nsPath
// (bringing that namespace's lo up first, which puts 127.0.0.0/8 on it) and
// serves them until the Listener or the Resolver is closed.
//
// The sockets are made on a locked OS thread that enters the namespace and
// returns to the daemon's; should returning fail, that thread is left locked
// so the Go runtime ends it rather than run other goroutines in the
// container's namespace.
func (r *Resolver) ListenInNetns(nsPath string, cfg ListenConfig) (*Listener, error) {
	var udp, tcp int
	err := inNetns(nsPath, func() error {
		if err := loopbackUp(); err != nil {
			return err
		}
		var err error
		udp, tcp, err = bindSockets(listenAddr, listenAddr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("embedded dns in %s: %w", nsPath, err)
	}
	l, err := r.serve(udp, tcp, cfg)
	if err != nil {
		return nil, fmt.Errorf("embedded dns in %s: %w", nsPath, err)
	}
	return l, nil
}

// inNetns runs fn on an OS thread inside the network namespace at nsPath.
func inNetns(nsPath string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Unlocked only once the thread is back in its own namespace.
		restored := false
		defer func() {
			if restored {
				runtime.UnlockOSThread()
			}
		}()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			restored = true
			done <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer unix.Close(self)
		target, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			restored = true
			done <- fmt.Errorf("open network namespace: %w", err)
			return
		}
		defer unix.Close(target)
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			restored = true
			done <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := unix.Setns(self, unix.CLONE_NEWNET); err != nil {
			done <- errors.Join(ferr, fmt.Errorf("return to own network namespace (thread discarded): %w", err))
			return
		}
		restored = true
		done <- ferr
	}()
	return <-done
}

// loopbackUp sets lo up in the calling thread's network namespace; the
// kernel then gives it 127.0.0.1/8 (routing all of 127.0.0.0/8 to it) and ::1.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket for lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	flags := ifr.Uint16()
	if flags&unix.IFF_UP != 0 {
		return nil
	}
	ifr.SetUint16(flags | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set lo up: %w", err)
	}
	return nil
}

// bindSockets creates a non-blocking UDP socket bound to udpAddr and a
// listening TCP socket bound to tcpAddr (IPv4), in the calling thread's
// network namespace.
func bindSockets(udpAddr, tcpAddr netip.AddrPort) (udp, tcp int, err error) {
	udp, err = boundSocket(unix.SOCK_DGRAM, udpAddr)
	if err != nil {
		return -1, -1, fmt.Errorf("udp %s: %w", udpAddr, err)
	}
	tcp, err = boundSocket(unix.SOCK_STREAM, tcpAddr)
	if err != nil {
		unix.Close(udp)
		return -1, -1, fmt.Errorf("tcp %s: %w", tcpAddr, err)
	}
	if err := unix.Listen(tcp, 128); err != nil {
		unix.Close(udp)
		unix.Close(tcp)
		return -1, -1, fmt.Errorf("listen tcp %s: %w", tcpAddr, err)
	}
	return udp, tcp, nil
}

func boundSocket(typ int, addr netip.AddrPort) (int, error) {
	if !addr.Addr().Is4() {
		return -1, fmt.Errorf("not an IPv4 address")
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if typ == unix.SOCK_STREAM {
		// Rebind at once after a restart of the daemon, whatever its old
		// connections left in TIME_WAIT.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("SO_REUSEADDR: %w", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EADDRNOTAVAIL) {
			return -1, fmt.Errorf("bind: %w (is 127.0.0.0/8 on lo?)", err)
		}
		return -1, fmt.Errorf("bind: %w", err)
	}
	return fd, nil
}
