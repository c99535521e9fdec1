package network

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/network/firewall"
)

// PortRequest is one -p: a container port (or range) and where on the host to
// publish it. A zero HostPort picks a free port (one per container port) from the
// ephemeral range, as Docker does; a HostPort range longer than the container range
// (-p 8000-8010:80) means any one free port of it.
//
// HostIP chooses the host addresses, as Docker's bridge driver does with ip6tables on
// and no userland proxy:
//
//	zero (-p 8080:80)         every address of each family the container has: on a
//	                          dual-stack network 0.0.0.0:8080 to its IPv4 address and
//	                          [::]:8080 to its IPv6 one, the same host port for both
//	0.0.0.0 (-p 0.0.0.0:...)  every IPv4 address, 127.0.0.1 included
//	:: (-p [::]:8080:80)      every IPv6 address but ::1, to the container's IPv6
//	                          address (an error if it has none)
//	one address               that address only, of its family
//
// [::1] is refused (Validate): Linux routes no packet from the IPv6 loopback to
// another interface (IPv6 has no route_localnet), so only a proxy process could
// serve it, and berth runs none. Publishing IPv6 host addresses on a container's
// IPv4 address is not possible either: the kernel does not translate between the
// families.
type PortRequest struct {
	Proto            firewall.Protocol `json:"proto"`
	HostIP           netip.Addr        `json:"hostIP,omitzero"`
	HostPort         uint16            `json:"hostPort,omitempty"`
	HostPortEnd      uint16            `json:"hostPortEnd,omitempty"`
	ContainerPort    uint16            `json:"containerPort"`
	ContainerPortEnd uint16            `json:"containerPortEnd,omitempty"`
}

// Validate checks r on its own, before any port is taken: a container port, host and
// container ranges of lengths that fit, and a host address that can be published on.
func (r PortRequest) Validate() error {
	if r.ContainerPort == 0 {
		return errdefs.ErrInvalidArgument.WithMessage("invalid port specification: container port 0")
	}
	if r.ContainerPortEnd != 0 && r.ContainerPortEnd < r.ContainerPort || r.HostPortEnd != 0 && r.HostPortEnd < r.HostPort {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port specification: a range ends below its start (%s)", r))
	}
	n, hn := r.containerPorts(), int(max(r.HostPortEnd, r.HostPort)-r.HostPort)+1
	if r.HostPort != 0 && hn != n && n != 1 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port specification: host ports %d-%d and container ports %d-%d differ in length",
			r.HostPort, max(r.HostPortEnd, r.HostPort), r.ContainerPort, int(r.ContainerPort)+n-1))
	}
	if h := r.HostIP.Unmap(); h.Is6() && h.IsLoopback() {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot publish %s: Linux cannot forward the IPv6 loopback address to a container (no route_localnet for IPv6); publish on [::], a host address or 127.0.0.1", r))
	}
	return nil
}

// containerPorts is the number of container ports r covers.
func (r PortRequest) containerPorts() int {
	return int(max(r.ContainerPortEnd, r.ContainerPort)-r.ContainerPort) + 1
}

// String is r as Docker's -p reads it: [::1]:8080:80/tcp.
func (r PortRequest) String() string {
	s := ""
	if r.HostIP.IsValid() {
		if r.HostIP.Is6() && !r.HostIP.Is4In6() {
			s = "[" + r.HostIP.String() + "]:"
		} else {
			s = r.HostIP.Unmap().String() + ":"
		}
	}
	if r.HostPort != 0 {
		s += strconv.Itoa(int(r.HostPort))
		if r.HostPortEnd > r.HostPort {
			s += "-" + strconv.Itoa(int(r.HostPortEnd))
		}
		s += ":"
	} else if s != "" {
		s += ":"
	}
	s += strconv.Itoa(int(r.ContainerPort))
	if r.ContainerPortEnd > r.ContainerPort {
		s += "-" + strconv.Itoa(int(r.ContainerPortEnd))
	}
	return s + "/" + string(r.Proto)
}

// Binding is one published port as it ended up: what `docker port` shows.
type Binding struct {
	Proto firewall.Protocol `json:"proto"`
	// HostIP is the one host address the port is published on; zero: every address
	// of ContainerIP's family (HostAddr).
	HostIP   netip.Addr `json:"hostIP,omitzero"`
	HostPort uint16     `json:"hostPort"`
	// ContainerPort is the port it goes to on ContainerIP, the endpoint's address
	// (of the host address's family) on the network that gives the container its
	// default route.
	ContainerPort uint16     `json:"containerPort"`
	ContainerIP   netip.Addr `json:"containerIP"`
}

// HostAddr is the host address as Docker shows it: 0.0.0.0 or :: for every address
// of the binding's family.
func (b Binding) HostAddr() netip.Addr {
	switch {
	case b.HostIP.IsValid():
		return b.HostIP
	case b.v6():
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

func (b Binding) v6() bool { return b.ContainerIP.Unmap().Is6() }

func (b Binding) key() portKey { return portKey{b.Proto, b.v6(), b.HostIP, b.HostPort} }

func (b Binding) mapping() firewall.PortMapping {
	return firewall.PortMapping{Protocol: b.Proto, HostIP: b.HostIP, HostPort: b.HostPort, ContainerIP: b.ContainerIP, ContainerPort: b.ContainerPort}
}

// portKey names a host port as the kernel sees a conflict: protocol, family, address
// (zero for every address of the family) and port. IPv4 and IPv6 ports never
// conflict: they are translated by separate maps.
type portKey struct {
	proto firewall.Protocol
	v6    bool
	ip    netip.Addr
	port  uint16
}

// portTable is the host ports berth has published, for conflicts and for picking
// free ones.
type portTable struct {
	used      map[portKey]string // -> container ID
	ephemeral [2]uint16          // the range free ports are picked from
	next      uint16             // where the next pick starts (round robin, as Docker)
}

func newPortTable() *portTable {
	lo, hi := ephemeralRange()
	return &portTable{used: map[portKey]string{}, ephemeral: [2]uint16{lo, hi}, next: lo}
}

// ephemeralRange is the kernel's ip_local_port_range, Docker's range for -p PORT.
func ephemeralRange() (uint16, uint16) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, err1 := strconv.Atoi(f[0])
			hi, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && lo > 0 && lo <= hi && hi <= 65535 {
				return uint16(lo), uint16(hi)
			}
		}
	}
	return 49153, 60999
}

// taken says whether k conflicts with a port in use: the same port, protocol and
// family on the same address, or either of them on every address of the family.
func (t *portTable) taken(k portKey) bool {
	if _, ok := t.used[k]; ok {
		return true
	}
	if k.ip.IsValid() {
		_, ok := t.used[portKey{k.proto, k.v6, netip.Addr{}, k.port}]
		return ok
	}
	for u := range t.used {
		if u.proto == k.proto && u.v6 == k.v6 && u.port == k.port {
			return true
		}
	}
	return false
}

// allocate turns requests into bindings to the container's addresses ip (IPv4) and
// ip6 (IPv6; either may be zero) and marks them used by container; all or nothing.
func (t *portTable) allocate(container string, reqs []PortRequest, ip, ip6 netip.Addr) ([]Binding, error) {
	var out []Binding
	var keys []portKey
	undo := func() {
		for _, k := range keys {
			delete(t.used, k)
		}
	}
	for _, r := range reqs {
		if err := r.Validate(); err != nil {
			undo()
			return nil, err
		}
		// The container addresses it goes to, one per family published.
		host := r.HostIP.Unmap()
		var targets []netip.Addr
		switch {
		case !host.IsValid():
			for _, a := range []netip.Addr{ip, ip6} {
				if a.IsValid() {
					targets = append(targets, a)
				}
			}
		case host.Is4():
			targets = []netip.Addr{ip}
		default:
			targets = []netip.Addr{ip6}
		}
		if len(targets) == 0 || !targets[0].IsValid() {
			undo()
			why := "the container has no IPv4 address"
			if host.Is6() {
				why = "the container has no IPv6 address (its network was created without --ipv6)"
			}
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot publish %s: %s", r, why))
		}
		if host.IsUnspecified() {
			host = netip.Addr{}
		}
		keysAt := func(port uint16) []portKey {
			var ks []portKey
			for _, a := range targets {
				ks = append(ks, portKey{r.Proto, a.Is6(), host, port})
			}
			return ks
		}
		// free returns the first key of port that is taken, or ok.
		free := func(port uint16) (portKey, bool) {
			for _, k := range keysAt(port) {
				if t.taken(k) {
					return k, false
				}
			}
			return portKey{}, true
		}
		take := func(port uint16) {
			for _, k := range keysAt(port) {
				t.used[k] = container
				keys = append(keys, k)
			}
		}
		n := r.containerPorts()
		hEnd := max(r.HostPortEnd, r.HostPort)
		var hosts []uint16
		switch {
		case r.HostPort == 0:
			for range n {
				p, ok := t.pick(free)
				if !ok {
					undo()
					return nil, errdefs.ErrUnavailable.WithMessage("no free port in the ephemeral range to publish to")
				}
				take(p)
				hosts = append(hosts, p)
			}
		case int(hEnd-r.HostPort)+1 == n:
			for i := range n {
				p := r.HostPort + uint16(i)
				if k, ok := free(p); !ok {
					undo()
					return nil, allocatedError(k)
				}
				take(p)
				hosts = append(hosts, p)
			}
		default: // n == 1 (Validate): any one port of the host range.
			found := false
			first := portKey{}
			for p := int(r.HostPort); p <= int(hEnd) && !found; p++ {
				k, ok := free(uint16(p))
				if ok {
					take(uint16(p))
					hosts = append(hosts, uint16(p))
					found = true
				} else if p == int(r.HostPort) {
					first = k
				}
			}
			if !found {
				undo()
				return nil, allocatedError(first)
			}
		}
		for i, hp := range hosts {
			for _, a := range targets {
				out = append(out, Binding{Proto: r.Proto, HostIP: host, HostPort: hp, ContainerPort: r.ContainerPort + uint16(i), ContainerIP: a})
			}
		}
	}
	return out, nil
}

// pick finds a port of the ephemeral range that free accepts, round robin.
func (t *portTable) pick(free func(uint16) (portKey, bool)) (uint16, bool) {
	lo, hi := t.ephemeral[0], t.ephemeral[1]
	span := int(hi-lo) + 1
	p := t.next
	for range span {
		if p < lo || p > hi {
			p = lo
		}
		if _, ok := free(p); ok {
			t.next = p + 1
			return p, true
		}
		p++
	}
	return 0, false
}

// release frees the ports of bindings.
func (t *portTable) release(bs []Binding) {
	for _, b := range bs {
		delete(t.used, b.key())
	}
}

// mark records restored bindings as used by container.
func (t *portTable) mark(container string, bs []Binding) {
	for _, b := range bs {
		t.used[b.key()] = container
	}
}

// allocatedError is Docker's message for a host port in use.
func allocatedError(k portKey) error {
	ip := k.ip
	switch {
	case ip.IsValid():
	case k.v6:
		ip = netip.IPv6Unspecified()
	default:
		ip = netip.IPv4Unspecified()
	}
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Bind for %s failed: port is already allocated", netip.AddrPortFrom(ip, k.port)))
}
