package firewall

import (
	"errors"
	"fmt"
	"sync"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Options configure a Firewall.
type Options struct {
	// Table is the name of berth's table (family inet); DefaultTable when
	// empty. Two daemons (or test runs) with different names never touch
	// each other's rules.
	Table string
	// NetNSFD, when not zero, is an open file descriptor of the network
	// namespace to program (/run/netns/NAME, /proc/PID/ns/net); zero means
	// the caller's. The caller keeps it open while the Firewall is used.
	NetNSFD int
}

// Firewall programs berth's table. Its methods are safe for concurrent use;
// each is one atomic netlink batch.
type Firewall struct {
	table string
	netns int
	mu    sync.Mutex
}

// New returns a Firewall for o. It touches nothing in the kernel.
func New(o Options) (*Firewall, error) {
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if err := validTable(o.Table); err != nil {
		return nil, err
	}
	return &Firewall{table: o.Table, netns: o.NetNSFD}, nil
}

// Table is the name of the table the Firewall owns.
func (f *Firewall) Table() string { return f.table }

// Ruleset renders s as the Firewall would program it, in nft's syntax (for
// logs, debugging and `nft -f` on a machine without berth).
func (f *Firewall) Ruleset(s State) (string, error) {
	p, err := buildPlan(f.table, s)
	if err != nil {
		return "", err
	}
	return p.render(), nil
}

// sndbuf is the socket send buffer forced on the netlink socket: a batch is
// sent in one sendmsg, and one publishing tens of thousands of ports is
// megabytes long (the default limit is about 200 KiB).
const sndbuf = 16 << 20

// conn opens a netlink connection for one batch.
func (f *Firewall) conn() (*nftables.Conn, error) {
	opts := []nftables.ConnOption{nftables.WithSockOptions(func(c *netlink.Conn) error {
		raw, err := c.SyscallConn()
		if err != nil {
			return err
		}
		return raw.Control(func(fd uintptr) {
			// Best effort: without CAP_NET_ADMIN this fails, and so would
			// the batch itself.
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndbuf)
		})
	})}
	if f.netns != 0 {
		opts = append(opts, nftables.WithNetNSFd(f.netns))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: open netlink: %w", err)
	}
	return c, nil
}

// elemChunk bounds the elements in one netlink message: the element list is
// one attribute, whose length is 16 bits.
const elemChunk = 512

// Apply makes berth's table hold exactly s: in one atomic batch it deletes
// the table (if any) and creates it anew, with its sets, maps, chains and
// rules. Either all of it takes effect or none: a failed Apply leaves the
// previous ruleset in place. Nothing outside berth's table is touched.
func (f *Firewall) Apply(s State) error {
	p, err := buildPlan(f.table, s)
	if err != nil {
		return fmt.Errorf("firewall: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn()
	if err != nil {
		return err
	}
	// "add" is a no-op for an existing table and makes the "delete" that
	// follows safe when there is none: the pair is "delete if it exists".
	c.AddTable(p.table)
	c.DelTable(p.table)
	c.AddTable(p.table)
	for _, sp := range p.sets {
		if err := c.AddSet(sp.set, nil); err != nil {
			return fmt.Errorf("firewall: set %s: %w", sp.set.Name, err)
		}
		if err := addElements(c, sp.set, sp.elems); err != nil {
			return err
		}
	}
	for _, cp := range p.chains {
		c.AddChain(cp.chain)
	}
	for _, cp := range p.chains {
		for _, r := range cp.rules {
			c.AddRule(&nftables.Rule{Table: p.table, Chain: cp.chain, Exprs: r.exprs})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: apply table inet %s: %w", f.table, err)
	}
	return nil
}

func addElements(c *nftables.Conn, s *nftables.Set, elems []nftables.SetElement) error {
	for len(elems) > 0 {
		n := min(len(elems), elemChunk)
		if err := c.SetAddElements(s, elems[:n]); err != nil {
			return fmt.Errorf("firewall: %s elements: %w", s.Name, err)
		}
		elems = elems[n:]
	}
	return nil
}

// Remove deletes berth's table, and with it every rule berth made. It is
// not an error if there is none.
func (f *Firewall) Remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn()
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: f.table, Family: nftables.TableFamilyINet}
	c.AddTable(t)
	c.DelTable(t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("firewall: remove table inet %s: %w", f.table, err)
	}
	return nil
}

// AddPorts publishes ports on top of the ruleset the last Apply made, in one
// batch that adds their elements to the port maps: no rule changes, no
// rebuild. The daemon must include them in the State of its next Apply,
// which stays the source of truth (after a restart, say). Adding a port that
// is already published to the same container address and port is a no-op;
// to another target, the kernel refuses it (EBUSY) and the batch changes
// nothing.
func (f *Firewall) AddPorts(ports ...PortMapping) error {
	return f.changePorts(ports, true)
}

// RemovePorts withdraws ports added by Apply or AddPorts, in one batch.
// Connections already established keep their translation until they end
// (conntrack remembers it). Removing a port that is not published fails the
// whole batch and changes nothing.
func (f *Firewall) RemovePorts(ports ...PortMapping) error {
	return f.changePorts(ports, false)
}

func (f *Firewall) changePorts(ports []PortMapping, add bool) error {
	if len(ports) == 0 {
		return nil
	}
	verb := "remove"
	if add {
		verb = "add"
	}
	if err := validatePorts(ports); err != nil {
		return fmt.Errorf("firewall: %s ports: %w", verb, err)
	}
	t := &nftables.Table{Name: f.table, Family: nftables.TableFamilyINet}
	pm := newPortMaps(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.conn()
	if err != nil {
		return err
	}
	// Elements grouped by map, then sent in as few messages as fit: one message per
	// port (a 1000-port range) would draw as many acknowledgements and overflow the
	// socket's receive buffer.
	var order []*nftables.Set
	bySet := map[*nftables.Set][]nftables.SetElement{}
	for _, m := range ports {
		elems, _ := m.elements()
		set := pm.pick(m)
		if _, ok := bySet[set]; !ok {
			order = append(order, set)
		}
		bySet[set] = append(bySet[set], elems...)
	}
	for _, set := range order {
		elems := bySet[set]
		for len(elems) > 0 {
			n := min(len(elems), elemChunk)
			if add {
				err = c.SetAddElements(set, elems[:n])
			} else {
				err = c.SetDeleteElements(set, elems[:n])
			}
			if err != nil {
				return fmt.Errorf("firewall: %s ports in map %s: %w", verb, set.Name, err)
			}
			elems = elems[n:]
		}
	}
	if err := c.Flush(); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("firewall: %s ports in table inet %s: a port or the table is missing: %w", verb, f.table, err)
		}
		return fmt.Errorf("firewall: %s ports in table inet %s: %w", verb, f.table, err)
	}
	return nil
}
