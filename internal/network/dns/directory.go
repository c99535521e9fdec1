package dns

import (
	"net/netip"
	"strings"
	"sync"
)

// Endpoint is one container on one network, as the names it answers to there.
type Endpoint struct {
	// Container is the container's full ID. Its first 12 characters (the
	// short ID Docker prints) are one of its names.
	Container string
	// Name is the container's name, without Docker's leading "/".
	Name string
	// Hostname is the container's hostname (--hostname, else the short ID).
	Hostname string
	// Aliases are its --network-alias names on this network.
	Aliases []string
	// Addrs are its addresses on this network (IPv4 and IPv6).
	Addrs []netip.Addr
}

// Directory is a Lookup over the endpoints of each network, safe for
// concurrent use. A container sees the containers (itself included) of every
// network it has an endpoint on, by name, short ID, hostname or alias, in any
// case, and also as "NAME.NETWORK" (only on that network); an address of one of
// them is named "NAME.NETWORK" (PTR), as Docker names it.
//
// Two containers answering to the same name (a shared alias) both answer: the
// name has the addresses of both.
//
// Networks are keyed by name, which appears in "NAME.NETWORK".
type Directory struct {
	mu   sync.RWMutex
	nets map[string]map[string]Endpoint // network -> container ID -> endpoint
}

// NewDirectory returns an empty Directory.
func NewDirectory() *Directory {
	return &Directory{nets: map[string]map[string]Endpoint{}}
}

// Add records ep on network, replacing an endpoint of the same container
// there (its aliases or addresses changed).
func (d *Directory) Add(network string, ep Endpoint) {
	ep.Aliases = append([]string(nil), ep.Aliases...)
	ep.Addrs = append([]netip.Addr(nil), ep.Addrs...)
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.nets[network]
	if n == nil {
		n = map[string]Endpoint{}
		d.nets[network] = n
	}
	n[ep.Container] = ep
}

// Remove forgets container's endpoint on network (network disconnect,
// container stop); removing what is not there does nothing.
func (d *Directory) Remove(network, container string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.nets[network], container)
	if len(d.nets[network]) == 0 {
		delete(d.nets, network)
	}
}

// LookupHost implements Lookup.
func (d *Directory) LookupHost(from, name string) ([]netip.Addr, bool) {
	name = canonicalName(name)
	if name == "" {
		return nil, false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	var addrs []netip.Addr
	found := false
	for netName, eps := range d.nets {
		if _, ok := eps[from]; !ok {
			continue
		}
		short, qualified := strings.CutSuffix(name, "."+strings.ToLower(netName))
		for _, ep := range eps {
			if ep.answersTo(name) || (qualified && ep.answersTo(short)) {
				found = true
				addrs = appendNew(addrs, ep.Addrs...)
			}
		}
	}
	return addrs, found
}

// LookupAddr implements Lookup.
func (d *Directory) LookupAddr(from string, addr netip.Addr) ([]string, bool) {
	addr = addr.Unmap()
	d.mu.RLock()
	defer d.mu.RUnlock()
	var names []string
	for netName, eps := range d.nets {
		if _, ok := eps[from]; !ok {
			continue
		}
		for _, ep := range eps {
			for _, a := range ep.Addrs {
				if a.Unmap() == addr {
					names = append(names, ep.displayName()+"."+netName)
					break
				}
			}
		}
	}
	return names, len(names) > 0
}

// answersTo reports whether name (canonical) is one of ep's names.
func (ep *Endpoint) answersTo(name string) bool {
	if strings.EqualFold(ep.Name, name) || strings.EqualFold(ep.Hostname, name) {
		return true
	}
	if len(name) == 12 && len(ep.Container) >= 12 && strings.EqualFold(ep.Container[:12], name) {
		return true
	}
	for _, a := range ep.Aliases {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

func (ep *Endpoint) displayName() string {
	if ep.Name != "" {
		return ep.Name
	}
	if len(ep.Container) > 12 {
		return ep.Container[:12]
	}
	return ep.Container
}

// appendNew appends the addresses of add that addrs does not hold yet.
func appendNew(addrs []netip.Addr, add ...netip.Addr) []netip.Addr {
next:
	for _, a := range add {
		for _, have := range addrs {
			if have == a {
				continue next
			}
		}
		addrs = append(addrs, a)
	}
	return addrs
}
