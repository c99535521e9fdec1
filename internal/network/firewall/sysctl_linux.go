package firewall

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// procSys is where sysctls are written; a variable for tests.
var procSys = "/proc/sys"

// EnableRouteLocalnet sets net.ipv4.conf.<bridge>.route_localnet=1, which
// lets packets with a 127.0.0.0/8 address be routed to and from the bridge.
// Publishing to the host's 127.0.0.1 needs it: the host's connection leaves
// with source 127.0.0.1 after DNAT in the output hook (the postrouting
// masquerade then rewrites it to the bridge's address), and the container's
// answer comes back to 127.0.0.1 through the bridge. It acts on the network
// namespace of the calling thread, and must be set again whenever the bridge
// is created.
func EnableRouteLocalnet(bridge string) error {
	if err := validIfname(bridge); err != nil {
		return err
	}
	return writeSysctl(filepath.Join("net/ipv4/conf", bridge, "route_localnet"), "1")
}

// EnableBridgeNetfilter sets net.bridge.bridge-nf-call-iptables=1 and
// bridge-nf-call-ip6tables=1 in the calling thread's network namespace, so
// that IP traffic switched between two ports of a bridge passes the inet
// forward hook (with iifname and oifname both the bridge). Networks with
// ICC=false need it; without it their drop rule never sees the traffic. The
// setting holds for every bridge in the namespace, berth's or not. It fails
// with fs.ErrNotExist when the kernel has no br_netfilter (load the module:
// modprobe br_netfilter).
func EnableBridgeNetfilter() error {
	for _, key := range []string{"net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables"} {
		if err := writeSysctl(key, "1"); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w (is the br_netfilter module loaded?)", err)
			}
			return err
		}
	}
	return nil
}

func writeSysctl(key, value string) error {
	p := filepath.Join(procSys, key)
	if err := os.WriteFile(p, []byte(value), 0); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, value, err)
	}
	return nil
}
