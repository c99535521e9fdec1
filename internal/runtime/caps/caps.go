// Package caps sets a process's Linux capabilities from an OCI spec, without
// libcap.
//
// A thread has five capability sets (capabilities(7)):
//
//	bounding     the most it (and anything it execs) can ever gain; only shrinks
//	permitted    what it may turn on in effective (or pass to inheritable)
//	effective    what the kernel checks right now
//	inheritable  what survives execve of a file carrying the same file caps
//	ambient      what survives execve of a plain file for a non-root user;
//	             a subset of permitted and inheritable
//
// The runtime's init applies a spec's sets in this order, on one locked OS
// thread that then calls execve:
//
//	sets, warnings, err := caps.FromSpec(spec.Process.Capabilities) // names -> bits, before pivot_root
//	sets.ApplyBounding()   // needs CAP_SETPCAP, so before dropping it
//	caps.KeepCaps(true)    // keep permitted across setuid to a non-root user
//	setresuid / setresgid  // (only the calling thread)
//	caps.KeepCaps(false)
//	sets.Apply()           // capset(effective, permitted, inheritable), then ambient
//	execve
//
// Every call acts on the calling thread only, which is what the kernel offers;
// the caller locks its goroutine to the OS thread and does not unlock it.
package caps

import (
	"fmt"
	"math/bits"
	"strings"
)

// Cap is a capability number, as in <linux/capability.h>.
type Cap uint

// names are the capabilities this package knows, indexed by number, up to
// CAP_CHECKPOINT_RESTORE (Linux 5.9).
var names = [...]string{
	0: "CAP_CHOWN", 1: "CAP_DAC_OVERRIDE", 2: "CAP_DAC_READ_SEARCH", 3: "CAP_FOWNER",
	4: "CAP_FSETID", 5: "CAP_KILL", 6: "CAP_SETGID", 7: "CAP_SETUID",
	8: "CAP_SETPCAP", 9: "CAP_LINUX_IMMUTABLE", 10: "CAP_NET_BIND_SERVICE", 11: "CAP_NET_BROADCAST",
	12: "CAP_NET_ADMIN", 13: "CAP_NET_RAW", 14: "CAP_IPC_LOCK", 15: "CAP_IPC_OWNER",
	16: "CAP_SYS_MODULE", 17: "CAP_SYS_RAWIO", 18: "CAP_SYS_CHROOT", 19: "CAP_SYS_PTRACE",
	20: "CAP_SYS_PACCT", 21: "CAP_SYS_ADMIN", 22: "CAP_SYS_BOOT", 23: "CAP_SYS_NICE",
	24: "CAP_SYS_RESOURCE", 25: "CAP_SYS_TIME", 26: "CAP_SYS_TTY_CONFIG", 27: "CAP_MKNOD",
	28: "CAP_LEASE", 29: "CAP_AUDIT_WRITE", 30: "CAP_AUDIT_CONTROL", 31: "CAP_SETFCAP",
	32: "CAP_MAC_OVERRIDE", 33: "CAP_MAC_ADMIN", 34: "CAP_SYSLOG", 35: "CAP_WAKE_ALARM",
	36: "CAP_BLOCK_SUSPEND", 37: "CAP_AUDIT_READ", 38: "CAP_PERFMON", 39: "CAP_BPF",
	40: "CAP_CHECKPOINT_RESTORE",
}

// maxCap is the highest number a Set can hold: the kernel's capability ABI
// (version 3) has two 32-bit words per set.
const maxCap Cap = 63

// String returns the capability's name, such as "CAP_KILL", or "CAP_<n>" for
// a number this package has no name for (one a newer kernel added).
func (c Cap) String() string {
	if int(c) < len(names) {
		return names[c]
	}
	return fmt.Sprintf("CAP_%d", uint(c))
}

// Parse returns the number of a capability name such as "CAP_NET_RAW". Names
// are matched exactly, as the OCI spec writes them.
func Parse(name string) (Cap, error) {
	for i, n := range names {
		if n == name {
			return Cap(i), nil
		}
	}
	return 0, fmt.Errorf("unknown capability %q", name)
}

// Known returns the names of all capabilities this package knows, in number
// order (for `berth-runtime features`).
func Known() []string {
	return append([]string(nil), names[:]...)
}

// Set is a set of capabilities, bit n standing for capability n, the layout
// the kernel uses.
type Set uint64

// Has reports whether c is in s.
func (s Set) Has(c Cap) bool { return c <= maxCap && s&(1<<c) != 0 }

// Add returns s with c added.
func (s Set) Add(c Cap) Set { return s | 1<<c }

// List returns the capabilities in s in increasing order.
func (s Set) List() []Cap {
	var out []Cap
	for s != 0 {
		c := Cap(bits.TrailingZeros64(uint64(s)))
		out = append(out, c)
		s &^= 1 << c
	}
	return out
}

// String returns the names in s separated by commas, or "none".
func (s Set) String() string {
	if s == 0 {
		return "none"
	}
	var b strings.Builder
	for i, c := range s.List() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// Sets are the five capability sets of a process.
type Sets struct {
	Bounding, Effective, Inheritable, Permitted, Ambient Set
}

// capNames is the part of specs.LinuxCapabilities that fromSpec reads, so
// that the conversion can be tested with any kernel's last capability.
type capNames struct {
	Bounding, Effective, Inheritable, Permitted, Ambient []string
}

// fromNames converts names to Sets for a kernel whose highest capability is
// last. See FromSpec.
func fromNames(n capNames, last Cap) (*Sets, []string, error) {
	var warnings []string
	warned := map[string]bool{}
	parse := func(set string, list []string) (Set, error) {
		var s Set
		for _, name := range list {
			c, err := Parse(name)
			if err != nil {
				return 0, fmt.Errorf("%s capabilities: %w", set, err)
			}
			if c > last || c > maxCap {
				if !warned[name] {
					warned[name] = true
					warnings = append(warnings, fmt.Sprintf(
						"capability %s is not supported by the running kernel (last is %s); ignored", name, last))
				}
				continue
			}
			s = s.Add(c)
		}
		return s, nil
	}
	var sets Sets
	var err error
	for _, f := range []struct {
		name string
		list []string
		dst  *Set
	}{
		{"bounding", n.Bounding, &sets.Bounding},
		{"effective", n.Effective, &sets.Effective},
		{"inheritable", n.Inheritable, &sets.Inheritable},
		{"permitted", n.Permitted, &sets.Permitted},
		{"ambient", n.Ambient, &sets.Ambient},
	} {
		if *f.dst, err = parse(f.name, f.list); err != nil {
			return nil, nil, err
		}
	}
	if extra := sets.Effective &^ sets.Permitted; extra != 0 {
		return nil, nil, fmt.Errorf("effective capabilities %s are not in the permitted set", extra)
	}
	// The kernel refuses to raise an ambient capability that is not both
	// permitted and inheritable. runc warns and goes on; so do we.
	if extra := sets.Ambient &^ (sets.Permitted & sets.Inheritable); extra != 0 {
		warnings = append(warnings, fmt.Sprintf(
			"ambient capabilities %s are not both permitted and inheritable; ignored", extra))
		sets.Ambient &^= extra
	}
	return &sets, warnings, nil
}
