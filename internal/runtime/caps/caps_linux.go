package caps

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// LastCap returns the highest capability number the running kernel knows,
// from /proc/sys/kernel/cap_last_cap or, without /proc, by probing the
// bounding set. It is computed once per process; call it (or FromSpec) before
// the mount namespace changes.
func LastCap() Cap { return lastCap() }

var lastCap = sync.OnceValue(func() Cap {
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 {
			return min(Cap(n), maxCap)
		}
	}
	// PR_CAPBSET_READ fails with EINVAL for a number the kernel does not know.
	last := Cap(0)
	for c := Cap(0); c <= maxCap; c++ {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0); err != nil {
			break
		}
		last = c
	}
	return last
})

// FromSpec converts the capability names of an OCI process to Sets.
//
// A nil c means no capabilities at all, as in runc. A name this package does
// not know is an error ("unknown capability"); a known name the running kernel
// is too old for is left out with a warning, as runc does. An ambient
// capability that is not both permitted and inheritable, which the kernel
// would refuse, is also dropped with a warning. Effective capabilities must be
// permitted.
func FromSpec(c *specs.LinuxCapabilities) (*Sets, []string, error) {
	if c == nil {
		return &Sets{}, nil, nil
	}
	return fromNames(capNames{
		Bounding:    c.Bounding,
		Effective:   c.Effective,
		Inheritable: c.Inheritable,
		Permitted:   c.Permitted,
		Ambient:     c.Ambient,
	}, LastCap())
}

// ApplyBounding removes from the calling thread's bounding set every
// capability not in s.Bounding. Dropping needs CAP_SETPCAP in the effective
// set, so it runs before Apply; capabilities already absent are not dropped
// again, so it also succeeds without CAP_SETPCAP when there is nothing to do.
func (s *Sets) ApplyBounding() error {
	for c := Cap(0); c <= LastCap(); c++ {
		if s.Bounding.Has(c) {
			continue
		}
		in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break // beyond the kernel's last capability
		}
		if err != nil {
			return fmt.Errorf("read bounding capability %s: %w", c, err)
		}
		if in == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s from the bounding set: %w", c, err)
		}
	}
	return nil
}

// Apply sets the calling thread's effective, permitted and inheritable sets
// with capset(2), then makes its ambient set exactly s.Ambient. The thread can
// only keep or lose permitted capabilities, never gain them; after a setuid to
// a non-root user, KeepCaps(true) must have preserved them.
func (s *Sets) Apply() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := range data {
		shift := 32 * i
		data[i].Effective = uint32(s.Effective >> shift)
		data[i].Permitted = uint32(s.Permitted >> shift)
		data[i].Inheritable = uint32(s.Inheritable >> shift)
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset effective=%s permitted=%s inheritable=%s: %w",
			s.Effective, s.Permitted, s.Inheritable, err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear the ambient set: %w", err)
	}
	for _, c := range s.Ambient.List() {
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(c), 0, 0); err != nil {
			return fmt.Errorf("raise ambient capability %s: %w", c, err)
		}
	}
	return nil
}

// KeepCaps sets or clears the calling thread's "keep capabilities" flag: while
// set, a setuid from root to a non-root user keeps the permitted set (the
// effective set is still cleared). execve clears the flag.
func KeepCaps(on bool) error {
	var v uintptr
	if on {
		v = 1
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, v, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_KEEPCAPS %d: %w", v, err)
	}
	return nil
}
