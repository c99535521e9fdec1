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
type PortRequest struct {
	Proto            firewall.Protocol `json:"proto"`
	HostIP           netip.Addr        `json:"hostIP,omitzero"` // zero: every host address
	HostPort         uint16            `json:"hostPort,omitempty"`
	HostPortEnd      uint16            `json:"hostPortEnd,omitempty"`
	ContainerPort    uint16            `json:"containerPort"`
	ContainerPortEnd uint16            `json:"containerPortEnd,omitempty"`
}

// Binding is one published port as it ended up: what `docker port` shows.
type Binding struct {
	Proto         firewall.Protocol `json:"proto"`
	HostIP        netip.Addr        `json:"hostIP,omitzero"`
	HostPort      uint16            `json:"hostPort"`
	ContainerPort uint16            `json:"containerPort"`
	// ContainerIP is the address the port goes to (the endpoint's on the network
	// that gives the container its default route).
	ContainerIP netip.Addr `json:"containerIP"`
}

func (b Binding) mapping() firewall.PortMapping {
	return firewall.PortMapping{Protocol: b.Proto, HostIP: b.HostIP, HostPort: b.HostPort, ContainerIP: b.ContainerIP, ContainerPort: b.ContainerPort}
}

// portKey names a host port as the kernel sees a conflict: protocol, address (zero
// for every address) and port.
type portKey struct {
	proto firewall.Protocol
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

// taken says whether k conflicts with a port in use: the same port and protocol on
// the same address, or either of them on every address.
func (t *portTable) taken(k portKey) bool {
	if _, ok := t.used[k]; ok {
		return true
	}
	if k.ip.IsValid() {
		_, ok := t.used[portKey{k.proto, netip.Addr{}, k.port}]
		return ok
	}
	for u := range t.used {
		if u.proto == k.proto && u.port == k.port {
			return true
		}
	}
	return false
}

// allocate turns requests into bindings to ip (and ip6, when valid) and marks them
// used by container; all or nothing.
func (t *portTable) allocate(container string, reqs []PortRequest, ip, ip6 netip.Addr) ([]Binding, error) {
	var out []Binding
	var keys []portKey
	undo := func() {
		for _, k := range keys {
			delete(t.used, k)
		}
	}
	take := func(k portKey) {
		t.used[k] = container
		keys = append(keys, k)
	}
	for _, r := range reqs {
		if r.ContainerPort == 0 {
			undo()
			return nil, errdefs.ErrInvalidArgument.WithMessage("invalid port specification: container port 0")
		}
		cEnd := max(r.ContainerPortEnd, r.ContainerPort)
		n := int(cEnd-r.ContainerPort) + 1
		hEnd := max(r.HostPortEnd, r.HostPort)
		target := ip
		if r.HostIP.IsValid() && r.HostIP.Is6() && !r.HostIP.Is4In6() {
			target = ip6
		}
		if !target.IsValid() {
			undo()
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("cannot publish %s: the container has no address of that family", r.HostIP))
		}
		var hosts []uint16
		switch {
		case r.HostPort == 0:
			for range n {
				p, ok := t.pick(r.Proto, r.HostIP)
				if !ok {
					undo()
					return nil, errdefs.ErrUnavailable.WithMessage("no free port in the ephemeral range to publish to")
				}
				take(portKey{r.Proto, r.HostIP, p})
				hosts = append(hosts, p)
			}
		case int(hEnd-r.HostPort)+1 == n:
			for i := range n {
				k := portKey{r.Proto, r.HostIP, r.HostPort + uint16(i)}
				if t.taken(k) {
					undo()
					return nil, allocatedError(k)
				}
				take(k)
				hosts = append(hosts, k.port)
			}
		case n == 1 && hEnd > r.HostPort:
			// Any one port of the host range.
			found := false
			for p := int(r.HostPort); p <= int(hEnd); p++ {
				k := portKey{r.Proto, r.HostIP, uint16(p)}
				if !t.taken(k) {
					take(k)
					hosts = append(hosts, k.port)
					found = true
					break
				}
			}
			if !found {
				undo()
				return nil, allocatedError(portKey{r.Proto, r.HostIP, r.HostPort})
			}
		default:
			undo()
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid port specification: host ports %d-%d and container ports %d-%d differ in length", r.HostPort, hEnd, r.ContainerPort, cEnd))
		}
		for i, hp := range hosts {
			out = append(out, Binding{Proto: r.Proto, HostIP: r.HostIP, HostPort: hp, ContainerPort: r.ContainerPort + uint16(i), ContainerIP: target})
		}
	}
	return out, nil
}

// pick finds a free port of the ephemeral range, round robin.
func (t *portTable) pick(proto firewall.Protocol, ip netip.Addr) (uint16, bool) {
	lo, hi := t.ephemeral[0], t.ephemeral[1]
	span := int(hi-lo) + 1
	p := t.next
	for range span {
		if p < lo || p > hi {
			p = lo
		}
		if !t.taken(portKey{proto, ip, p}) {
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
		delete(t.used, portKey{b.Proto, b.HostIP, b.HostPort})
	}
}

// mark records restored bindings as used by container.
func (t *portTable) mark(container string, bs []Binding) {
	for _, b := range bs {
		t.used[portKey{b.Proto, b.HostIP, b.HostPort}] = container
	}
}

// allocatedError is Docker's message for a host port in use.
func allocatedError(k portKey) error {
	ip := "0.0.0.0"
	if k.ip.IsValid() {
		ip = k.ip.String()
	}
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Bind for %s failed: port is already allocated", netip.AddrPortFrom(mustAddr(ip), k.port)))
}

func mustAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}
