package dns

import (
	"fmt"
	"maps"
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
	// Links are its legacy links on this network, alias -> the name of the
	// container it stands for (--link NAME:ALIAS with a user-defined network).
	// Only this container resolves them, to whatever answers to NAME on this
	// network when asked: NAME may join after the link was made.
	Links map[string]string
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
// A container's legacy links come first, as Docker's: when it asks for one of
// its link aliases (or "ALIAS.NETWORK") it gets the linked container's
// addresses on that network, even if another container answers to the alias
// itself; when nothing on the network answers to the linked name (yet), the
// alias is looked up as any other name.
//
// Networks are keyed by name, which appears in "NAME.NETWORK". Docker's
// network names may hold any character: in "NAME.NETWORK" a name is matched,
// and given in PTR answers, in DNS presentation form (see escapeName), so
// "web.test\ 01" is web on "test 01".
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
	ep.Links = maps.Clone(ep.Links)
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
	if addrs, found := d.lookupLocked(from, name, true); found {
		return addrs, true
	}
	return d.lookupLocked(from, name, false)
}

// lookupLocked finds name, plain or as "NAME.NETWORK", on each network from is
// on; viaLinks: only as one of from's link aliases there, standing for the
// linked container's name.
func (d *Directory) lookupLocked(from, name string, viaLinks bool) ([]netip.Addr, bool) {
	var addrs []netip.Addr
	found := false
	for netName, eps := range d.nets {
		self, ok := eps[from]
		if !ok {
			continue
		}
		names := []string{name}
		if short, qualified := strings.CutSuffix(name, "."+strings.ToLower(escapeName(netName))); qualified {
			names = append(names, short)
		}
		if viaLinks {
			names = self.linked(names)
		}
		for _, ep := range eps {
			for _, n := range names {
				if ep.answersTo(n) {
					found = true
					addrs = appendNew(addrs, ep.Addrs...)
					break
				}
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
					names = append(names, escapeName(ep.displayName())+"."+escapeName(netName))
					break
				}
			}
		}
	}
	return names, len(names) > 0
}

// answersTo reports whether name (canonical) is one of ep's names.
func (ep *Endpoint) answersTo(name string) bool {
	if sameName(ep.Name, name) || sameName(ep.Hostname, name) {
		return true
	}
	if len(name) == 12 && len(ep.Container) >= 12 && strings.EqualFold(ep.Container[:12], name) {
		return true
	}
	for _, a := range ep.Aliases {
		if sameName(a, name) {
			return true
		}
	}
	return false
}

// linked are the names of the containers that names (canonical) stand for as
// ep's link aliases.
func (ep *Endpoint) linked(names []string) []string {
	var out []string
	for alias, target := range ep.Links {
		for _, n := range names {
			if sameName(alias, n) {
				out = append(out, escapeName(target))
			}
		}
	}
	return out
}

// sameName reports whether raw, a name as berth keeps it (a container's name,
// an alias), is canonical, a name as a question gives it.
func sameName(raw, canonical string) bool {
	return raw != "" && strings.EqualFold(escapeName(raw), canonical)
}

// escapeName is a name as it appears in a question (canonicalName) and is
// written in an answer: DNS presentation form as github.com/miekg/dns reads
// and writes it, where a byte of a label other than a printable ASCII one is
// \DDD, and the printable ones special in a zone file (space, double and
// single quote, parentheses, semicolon, at sign, backslash) are escaped with a
// backslash. Dots stay label separators: "web.local" is two labels, as the
// alias means.
func escapeName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '\'' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
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
