package oci

import (
	"slices"
	"testing"

	"github.com/berth-engine/berth/internal/runtime/seccomp"
	"golang.org/x/sys/unix"
)

// The profile spells out Linux numbers so that it builds anywhere; they must
// be the kernel's.
func TestSeccompConstants(t *testing.T) {
	if errnoEPERM != int(unix.EPERM) || errnoENOSYS != int(unix.ENOSYS) || afALG != unix.AF_ALG || afVSOCK != unix.AF_VSOCK {
		t.Error("errno or address family numbers differ from the kernel's")
	}
	want := unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
		unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP
	if namespaceCloneFlags != want {
		t.Errorf("namespaceCloneFlags = %#x, want %#x", namespaceCloneFlags, want)
	}
}

// TestDefaultProfileCompiles runs the resolved profiles through berth-runtime's
// compiler, as the container's init will: every name must be known to it and
// the program must fit the kernel's limit. (The compiler adds the native
// architecture to those a profile lists.)
func TestDefaultProfileCompiles(t *testing.T) {
	all := allCapabilities(Host{})
	for _, tc := range []struct {
		name string
		caps []string
	}{
		{"default capabilities", DefaultCapabilities},
		{"no capabilities", nil},
		{"all capabilities", all},
	} {
		// Not s390x: the compiler does not know its 31-bit sub-architecture
		// SCMP_ARCH_S390, which the profile's archMap lists with it.
		for _, arch := range []string{"amd64", "arm64", "386", "ppc64le", "riscv64", "loong64"} {
			p, err := DefaultProfile().Resolve(SeccompTarget{Arch: arch, Caps: tc.caps, Kernel: KernelVersion{6, 18}})
			if err != nil {
				t.Fatal(err)
			}
			f, err := seccomp.Compile(p)
			if err != nil {
				t.Fatalf("%s, %s: %v", tc.name, arch, err)
			}
			if len(f.Program) == 0 || len(f.Program) > 4096 {
				t.Errorf("%s: %d instructions", tc.name, len(f.Program))
			}
		}
	}
}

// Every name the profile allows on some architecture is one the compiler
// knows: a name it did not know would fail every container's start there.
func TestDefaultProfileNamesKnown(t *testing.T) {
	known := map[string]bool{}
	for _, arch := range seccomp.KnownArchitectures() {
		for _, n := range seccomp.Syscalls(arch) {
			known[n] = true
		}
	}
	var unknown []string
	for _, r := range DefaultProfile().Syscalls {
		for _, n := range r.Names {
			if !known[n] && !slices.Contains(unknown, n) {
				unknown = append(unknown, n)
			}
		}
	}
	if len(unknown) > 0 {
		t.Errorf("names unknown to internal/runtime/seccomp: %v", unknown)
	}
}
