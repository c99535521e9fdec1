package dns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
)

// EmbeddedServer is the address of the embedded DNS server inside a container
// on a user-defined network, Docker's.
var EmbeddedServer = netip.MustParseAddr("127.0.0.11")

// Google's public resolvers: what Docker writes into a container's
// resolv.conf when the host has no nameserver a container can reach (only
// loopback ones, or none at all). berth does the same, so a container on the
// default bridge of such a host still resolves names.
var (
	fallbackNameservers4 = []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("8.8.4.4")}
	fallbackNameservers6 = []netip.Addr{netip.MustParseAddr("2001:4860:4860::8888"), netip.MustParseAddr("2001:4860:4860::8844")}
)

// ResolvConf is what berth reads from and writes to resolv.conf files.
type ResolvConf struct {
	Nameservers []netip.Addr
	// Search is the search list ("search" line, or the older "domain"; the
	// last of them wins, as in glibc).
	Search []string
	// Options are the words of the "options" lines ("ndots:2", "edns0").
	Options []string
}

// ParseResolvConf reads resolv.conf content. Lines it does not know and
// nameservers that are not IP addresses are ignored, as the C library does.
func ParseResolvConf(content []byte) ResolvConf {
	var rc ResolvConf
	sc := bufio.NewScanner(bytes.NewReader(content))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") || strings.HasPrefix(fields[0], ";") {
			continue
		}
		args := fields[1:]
		for i, a := range args { // comments may follow the values
			if strings.HasPrefix(a, "#") || strings.HasPrefix(a, ";") {
				args = args[:i]
				break
			}
		}
		switch fields[0] {
		case "nameserver":
			if len(args) > 0 {
				if a, err := netip.ParseAddr(args[0]); err == nil {
					rc.Nameservers = append(rc.Nameservers, a)
				}
			}
		case "search":
			rc.Search = append([]string(nil), args...)
		case "domain":
			rc.Search = append([]string(nil), args[:min(len(args), 1)]...)
		case "options":
			rc.Options = append(rc.Options, args...)
		}
	}
	return rc
}

// Bytes renders rc as a resolv.conf file: nameservers, then the search and
// options lines when they have words.
func (rc ResolvConf) Bytes() []byte {
	var b bytes.Buffer
	for _, ns := range rc.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	if len(rc.Search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(rc.Search, " "))
	}
	if len(rc.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(rc.Options, " "))
	}
	return b.Bytes()
}

// Overrides are a container's --dns, --dns-search and --dns-option. Each one
// given replaces the host's line as a whole; --dns-search "." means no search
// list at all.
type Overrides struct {
	Nameservers []netip.Addr
	Search      []string
	Options     []string
}

// apply returns host with o's replacements made.
func (o Overrides) apply(host ResolvConf) ResolvConf {
	rc := ResolvConf{
		Nameservers: host.Nameservers,
		Search:      host.Search,
		Options:     host.Options,
	}
	if len(o.Nameservers) > 0 {
		rc.Nameservers = o.Nameservers
	}
	if len(o.Search) > 0 {
		rc.Search = o.Search
		if len(o.Search) == 1 && o.Search[0] == "." {
			rc.Search = nil
		}
	}
	if len(o.Options) > 0 {
		rc.Options = o.Options
	}
	rc.Nameservers = append([]netip.Addr(nil), rc.Nameservers...)
	rc.Search = append([]string(nil), rc.Search...)
	rc.Options = append([]string(nil), rc.Options...)
	return rc
}

// UserNetworkResolvConf renders the resolv.conf of a container on a
// user-defined network: the embedded server as its only nameserver, the
// host's search list and options (or the container's --dns-search and
// --dns-option), and "ndots:0" unless an ndots option is already there, so
// that a single-label name ("web") is asked as it is before the search list
// is tried, as Docker writes it. The container's --dns servers do not appear:
// the embedded server forwards to them (see Upstreams).
func UserNetworkResolvConf(host []byte, o Overrides) []byte {
	rc := o.apply(ParseResolvConf(host))
	rc.Nameservers = []netip.Addr{EmbeddedServer}
	if _, ok := option(rc.Options, "ndots"); !ok {
		rc.Options = append(rc.Options, "ndots:0")
	}
	return rc.Bytes()
}

// DefaultBridgeResolvConf renders the resolv.conf of a container on the
// default bridge (no embedded server): the container's --dns servers, else the
// host's nameservers less those the container cannot reach — loopback ones
// (127.0.0.0/8, ::1: the container's loopback is its own), and IPv6 ones when
// the container has no IPv6 (ipv6 false). When none is left, Google's public
// resolvers (8.8.8.8 and 8.8.4.4, plus 2001:4860:4860::8888 and ::8844 with
// IPv6), as Docker does. Search and options are the host's, or the
// container's overrides.
func DefaultBridgeResolvConf(host []byte, o Overrides, ipv6 bool) []byte {
	hostRC := ParseResolvConf(host)
	rc := o.apply(hostRC)
	if len(o.Nameservers) == 0 {
		rc.Nameservers = reachableNameservers(hostRC.Nameservers, ipv6)
	}
	return rc.Bytes()
}

// reachableNameservers is nameservers less those a container on a bridge
// cannot reach, or Docker's fallback resolvers when none is left.
func reachableNameservers(nameservers []netip.Addr, ipv6 bool) []netip.Addr {
	var out []netip.Addr
	for _, ns := range nameservers {
		ns = ns.Unmap()
		if ns.IsLoopback() || (ns.Is6() && !ipv6) {
			continue
		}
		out = append(out, ns)
	}
	if len(out) == 0 {
		out = append(out, fallbackNameservers4...)
		if ipv6 {
			out = append(out, fallbackNameservers6...)
		}
	}
	return out
}

// Upstreams returns the resolvers the embedded server forwards a container's
// other names to: its --dns servers, else the host's nameservers, loopback
// ones included (the server forwards from the daemon's network namespace,
// where they answer). When the host has none, Google's public resolvers, as
// Docker does. Each is on port 53.
//
// A container whose networks are all --internal must not reach any resolver:
// give it no upstreams instead (its unknown names then get NXDOMAIN).
func Upstreams(host []byte, o Overrides) []netip.AddrPort {
	servers := o.Nameservers
	if len(servers) == 0 {
		servers = ParseResolvConf(host).Nameservers
	}
	if len(servers) == 0 {
		servers = fallbackNameservers4
	}
	out := make([]netip.AddrPort, 0, len(servers))
	for _, s := range servers {
		out = append(out, netip.AddrPortFrom(s.Unmap(), 53))
	}
	return out
}

// option returns the value of the resolv.conf option key ("ndots" in
// "ndots:2"), the last one set.
func option(options []string, key string) (string, bool) {
	val, found := "", false
	for _, o := range options {
		k, v, _ := strings.Cut(o, ":")
		if k == key {
			val, found = v, true
		}
	}
	return val, found
}

// Where the host's resolver configuration lives. systemd-resolved's stub
// listener makes /etc/resolv.conf say only "nameserver 127.0.0.53"; the
// servers it forwards to are listed in the second file.
const (
	hostResolvConf    = "/etc/resolv.conf"
	systemdResolvConf = "/run/systemd/resolve/resolv.conf"
)

// systemdStub is the address of systemd-resolved's stub listener.
var systemdStub = netip.MustParseAddr("127.0.0.53")

// HostResolvConf reads the host's resolver configuration, as Docker picks it:
// /etc/resolv.conf, unless its only nameserver is systemd-resolved's stub
// (127.0.0.53) and /run/systemd/resolve/resolv.conf exists, which then lists
// the real servers. It returns the path read and its content; a host without
// /etc/resolv.conf has an empty configuration.
func HostResolvConf() (path string, content []byte, err error) {
	return hostResolvConfAt(os.DirFS("/"))
}

func hostResolvConfAt(root fs.FS) (string, []byte, error) {
	content, err := fs.ReadFile(root, strings.TrimPrefix(hostResolvConf, "/"))
	if errors.Is(err, fs.ErrNotExist) {
		return hostResolvConf, nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("read host resolver configuration: %w", err)
	}
	ns := ParseResolvConf(content).Nameservers
	if len(ns) == 1 && ns[0] == systemdStub {
		if sd, err := fs.ReadFile(root, strings.TrimPrefix(systemdResolvConf, "/")); err == nil {
			return systemdResolvConf, sd, nil
		}
	}
	return hostResolvConf, content, nil
}
