package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Profile is a seccomp profile in Docker's format (the JSON that
// `--security-opt seccomp=profile.json` and dockerd --seccomp-profile take). It
// is runtime-spec's LinuxSeccomp plus conditions that Resolve settles for one
// container on one host:
//
//	archMap            per native architecture, the sub-architectures to allow
//	                   too (x86_64 also runs i386 and x32 code)
//	includes/excludes  a rule applies only if every listed capability is in
//	                   the container's bounding set, the native architecture
//	                   is listed, the kernel is at least minKernel (includes);
//	                   it is dropped if any listed capability is held, the
//	                   architecture is listed, or the kernel is that new (excludes)
//	name               the old single-name form of names
type Profile struct {
	DefaultAction    specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet  *uint                    `json:"defaultErrnoRet,omitempty"`
	Architectures    []specs.Arch             `json:"architectures,omitempty"`
	ArchMap          []ArchMap                `json:"archMap,omitempty"`
	Flags            []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	ListenerPath     string                   `json:"listenerPath,omitempty"`
	ListenerMetadata string                   `json:"listenerMetadata,omitempty"`
	Syscalls         []SyscallRule            `json:"syscalls"`
}

// ArchMap names a native architecture and the others its kernel also runs.
type ArchMap struct {
	Arch      specs.Arch   `json:"architecture"`
	SubArches []specs.Arch `json:"subArchitectures"`
}

// SyscallRule is one entry of a profile's syscalls.
type SyscallRule struct {
	Name     string                   `json:"name,omitempty"`
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Comment  string                   `json:"comment,omitempty"`
	Includes *Condition               `json:"includes,omitempty"`
	Excludes *Condition               `json:"excludes,omitempty"`
}

// Condition is the includes or excludes test of a SyscallRule. Arches use
// libseccomp's native names: amd64, x86, x32, arm64, arm, s390x, ppc64le,
// riscv64, ...
type Condition struct {
	Caps      []string       `json:"caps,omitempty"`
	Arches    []string       `json:"arches,omitempty"`
	MinKernel *KernelVersion `json:"minKernel,omitempty"`
}

// SeccompTarget is what a profile's conditions are settled against.
type SeccompTarget struct {
	// Arch is a GOARCH ("amd64"); empty means this binary's.
	Arch string
	// Caps is the container's bounding set ("CAP_SYS_ADMIN", ...).
	Caps []string
	// Kernel is the host's version; zero satisfies every minKernel.
	Kernel KernelVersion
}

// ParseProfile decodes a profile in Docker's JSON format.
func ParseProfile(data []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, invalid("Decoding seccomp profile failed: %v", err)
	}
	return &p, nil
}

// goArchNames maps a GOARCH to libseccomp's name for it (used by a
// condition's arches) and to the runtime-spec architecture (archMap's keys).
var goArchNames = map[string]struct {
	native string
	arch   specs.Arch
}{
	"386":      {"x86", specs.ArchX86},
	"amd64":    {"amd64", specs.ArchX86_64},
	"arm":      {"arm", specs.ArchARM},
	"arm64":    {"arm64", specs.ArchAARCH64},
	"loong64":  {"loong64", specs.ArchLOONGARCH64},
	"mips64":   {"mips64", specs.ArchMIPS64},
	"mips64le": {"mipsel64", specs.ArchMIPSEL64},
	"mipsle":   {"mipsel", specs.ArchMIPSEL},
	"ppc64":    {"ppc64", specs.ArchPPC64},
	"ppc64le":  {"ppc64le", specs.ArchPPC64LE},
	"riscv64":  {"riscv64", specs.ArchRISCV64},
	"s390x":    {"s390x", specs.ArchS390X},
}

// Resolve settles p's conditions for t and returns the runtime-spec profile:
// the archMap entry of t's architecture becomes the architectures list, and
// each rule whose conditions fail is dropped. A profile with neither a
// default action nor rules means no filter (nil), as in Docker.
func (p *Profile) Resolve(t SeccompTarget) (*specs.LinuxSeccomp, error) {
	if p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return nil, nil
	}
	if len(p.Architectures) != 0 && len(p.ArchMap) != 0 {
		return nil, invalid("both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'")
	}
	goarch := t.Arch
	if goarch == "" {
		goarch = Host{}.arch()
	}
	names := goArchNames[goarch]
	out := &specs.LinuxSeccomp{
		DefaultAction:    p.DefaultAction,
		DefaultErrnoRet:  p.DefaultErrnoRet,
		Architectures:    slices.Clone(p.Architectures),
		Flags:            slices.Clone(p.Flags),
		ListenerPath:     p.ListenerPath,
		ListenerMetadata: p.ListenerMetadata,
	}
	for _, m := range p.ArchMap {
		if names.arch != "" && m.Arch == names.arch {
			out.Architectures = append(append(out.Architectures, m.Arch), m.SubArches...)
			break
		}
	}
	for _, r := range p.Syscalls {
		callNames := r.Names
		if r.Name != "" {
			if len(r.Names) != 0 {
				return nil, invalid("both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'")
			}
			callNames = []string{r.Name}
		}
		if !r.applies(names.native, t) {
			continue
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{
			Names:    slices.Clone(callNames),
			Action:   r.Action,
			ErrnoRet: r.ErrnoRet,
			Args:     slices.Clone(r.Args),
		})
	}
	return out, nil
}

// applies reports whether r's includes hold and its excludes do not, for the
// native architecture name arch.
func (r SyscallRule) applies(arch string, t SeccompTarget) bool {
	if ex := r.Excludes; ex != nil {
		if slices.Contains(ex.Arches, arch) {
			return false
		}
		for _, c := range ex.Caps {
			if slices.Contains(t.Caps, c) {
				return false
			}
		}
		if ex.MinKernel != nil && t.Kernel.AtLeast(*ex.MinKernel) {
			return false
		}
	}
	if in := r.Includes; in != nil {
		if len(in.Arches) > 0 && !slices.Contains(in.Arches, arch) {
			return false
		}
		for _, c := range in.Caps {
			if !slices.Contains(t.Caps, c) {
				return false
			}
		}
		if in.MinKernel != nil && !t.Kernel.AtLeast(*in.MinKernel) {
			return false
		}
	}
	return true
}

// seccompFor returns the filter of a container: none when unconfined or
// privileged without an explicit profile, else the profile asked for (the
// container's, else the daemon's, else the built-in one) resolved for the
// container's capabilities.
func seccompFor(opt string, daemon string, privileged bool, t SeccompTarget) (*specs.LinuxSeccomp, error) {
	if opt == SeccompUnconfined || (privileged && opt == "") {
		return nil, nil
	}
	if opt == "" {
		opt = daemon
	}
	var p *Profile
	switch {
	case opt == SeccompUnconfined:
		return nil, nil
	case opt == "" || opt == SeccompBuiltin:
		p = DefaultProfile()
	case strings.HasPrefix(strings.TrimSpace(opt), "{"):
		var err error
		if p, err = ParseProfile([]byte(opt)); err != nil {
			return nil, err
		}
	default:
		b, err := os.ReadFile(opt)
		if errors.Is(err, os.ErrNotExist) {
			return nil, invalid("opening seccomp profile (%s) failed: %v", opt, err)
		}
		if err != nil {
			return nil, fmt.Errorf("opening seccomp profile (%s) failed: %w", opt, err)
		}
		if p, err = ParseProfile(b); err != nil {
			return nil, err
		}
	}
	return p.Resolve(t)
}
