//go:build !linux

package link

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/containerd/errdefs"
)

var errNotLinux = fmt.Errorf("bridge networking needs Linux: %w", errdefs.ErrNotImplemented)

// EnsureBridge needs Linux.
func EnsureBridge(name, owner string, addrs []netip.Prefix, mtu int) error { return errNotLinux }

// DeleteBridge needs Linux.
func DeleteBridge(name string) error { return errNotLinux }

// AttachVeth needs Linux.
func AttachVeth(o VethOptions) (string, net.HardwareAddr, error) { return "", nil, errNotLinux }

// DetachVeth needs Linux.
func DetachVeth(hostIf string) error { return errNotLinux }

// ListByPrefix needs Linux.
func ListByPrefix(prefix string) ([]string, error) { return nil, errNotLinux }

// Owned needs Linux.
func Owned(owner string) ([]Made, error) { return nil, errNotLinux }

// EnableForwarding needs Linux.
func EnableForwarding(ipv6 bool) error { return errNotLinux }

// SetSysctl needs Linux.
func SetSysctl(name, value string) error { return errNotLinux }

// Routes is not implemented off Linux.
func Routes() ([]netip.Prefix, error) { return nil, errNotLinux }
