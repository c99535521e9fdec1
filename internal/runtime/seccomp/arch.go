package seccomp

import (
	"runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run mktables.go

// x32SyscallBit is __X32_SYSCALL_BIT: x32 processes run on the x86_64
// kernel with AUDIT_ARCH_X86_64, and only this bit in the syscall number
// tells their calls apart from native x86_64 ones.
const x32SyscallBit = 0x40000000

// archInfo describes one architecture a filter can name.
//
// A filter section is keyed by the audit value the kernel puts in
// seccomp_data.arch. x86_64 and x32 share one audit value; the section
// splits them by x32SyscallBit.
type archInfo struct {
	name      specs.Arch
	audit     uint32
	column    int  // column of syscallTable
	bits64    bool // arguments are 64 bits wide (else only the low 32 bits are compared)
	bigEndian bool // seccomp_data.args[i] stores its high half first
	// nrMin..nrMax is the part of the syscall number space this arch owns
	// inside its audit section (only x86_64 and x32 need less than all).
	nrMin, nrMax uint32
}

// Audit arch values (AUDIT_ARCH_* in linux/audit.h).
const (
	auditX86_64    = 0xc000003e
	auditI386      = 0x40000003
	auditAArch64   = 0xc00000b7
	auditARM       = 0x40000028
	auditRISCV64   = 0xc00000f3
	auditPPC64     = 0x80000015
	auditPPC64LE   = 0xc0000015
	auditPPC       = 0x00000014
	auditS390X     = 0x80000016
	auditMIPS      = 0x00000008
	auditMIPSEL    = 0x40000008
	auditMIPS64    = 0x80000008
	auditMIPSEL64  = 0xc0000008
	auditLoongArch = 0xc0000102
)

const maxNr = 0xffffffff

// arches lists the architectures this compiler has syscall tables for.
var arches = []archInfo{
	{specs.ArchX86_64, auditX86_64, colX86_64, true, false, 0, x32SyscallBit - 1},
	{specs.ArchX32, auditX86_64, colX32, true, false, x32SyscallBit, maxNr},
	{specs.ArchX86, auditI386, colX86, false, false, 0, maxNr},
	{specs.ArchAARCH64, auditAArch64, colAArch64, true, false, 0, maxNr},
	{specs.ArchARM, auditARM, colARM, false, false, 0, maxNr},
	{specs.ArchRISCV64, auditRISCV64, colRISCV64, true, false, 0, maxNr},
	{specs.ArchPPC64, auditPPC64, colPPC64, true, true, 0, maxNr},
	{specs.ArchPPC64LE, auditPPC64LE, colPPC64, true, false, 0, maxNr},
	{specs.ArchPPC, auditPPC, colPPC, false, true, 0, maxNr},
	{specs.ArchS390X, auditS390X, colS390X, true, true, 0, maxNr},
	{specs.ArchMIPS, auditMIPS, colMIPS, false, true, 0, maxNr},
	{specs.ArchMIPSEL, auditMIPSEL, colMIPS, false, false, 0, maxNr},
	{specs.ArchMIPS64, auditMIPS64, colMIPS64, true, true, 0, maxNr},
	{specs.ArchMIPSEL64, auditMIPSEL64, colMIPS64, true, false, 0, maxNr},
	{specs.ArchLOONGARCH64, auditLoongArch, colLoongArch64, true, false, 0, maxNr},
}

// isSpecArch reports whether name is an architecture runtime-spec defines.
// Those missing from arches are rejected as unsupported, not unknown.
func isSpecArch(name specs.Arch) bool {
	switch name {
	case specs.ArchX86, specs.ArchX86_64, specs.ArchX32,
		specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32,
		specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
		specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE,
		specs.ArchS390, specs.ArchS390X,
		specs.ArchPARISC, specs.ArchPARISC64,
		specs.ArchRISCV64, specs.ArchLOONGARCH64,
		specs.ArchM68K, specs.ArchSH, specs.ArchSHEB:
		return true
	}
	return false
}

func lookupArch(name specs.Arch) (*archInfo, bool) {
	for i := range arches {
		if arches[i].name == name {
			return &arches[i], true
		}
	}
	return nil, false
}

// NativeArch returns the seccomp name of the architecture this binary was
// built for ("SCMP_ARCH_X86_64" on amd64), or "" if it has no table.
// Compile always includes it.
func NativeArch() string {
	return string(nativeArchFor(runtime.GOARCH))
}

func nativeArchFor(goarch string) specs.Arch {
	switch goarch {
	case "amd64":
		return specs.ArchX86_64
	case "386":
		return specs.ArchX86
	case "arm64":
		return specs.ArchAARCH64
	case "arm":
		return specs.ArchARM
	case "riscv64":
		return specs.ArchRISCV64
	case "ppc64":
		return specs.ArchPPC64
	case "ppc64le":
		return specs.ArchPPC64LE
	case "s390x":
		return specs.ArchS390X
	case "mips":
		return specs.ArchMIPS
	case "mipsle":
		return specs.ArchMIPSEL
	case "mips64":
		return specs.ArchMIPS64
	case "mips64le":
		return specs.ArchMIPSEL64
	case "loong64":
		return specs.ArchLOONGARCH64
	}
	return ""
}

// lookupSyscall finds name in the generated table, or returns nil.
func lookupSyscall(name string) *sysEntry {
	if row := lookupRow(name); row >= 0 {
		return &syscallTable[row]
	}
	return nil
}

// lookupRow returns the row of name in syscallTable, or -1, through the
// generated hash index.
func lookupRow(name string) int {
	for h := fnv1a(name) % uint32(len(nameIndex)); nameIndex[h] != 0; h = (h + 1) % uint32(len(nameIndex)) {
		if row := int(nameIndex[h]) - 1; syscallTable[row].name == name {
			return row
		}
	}
	return -1
}

// fnv1a is the 32-bit FNV-1a hash; mktables.go hashes names the same way.
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// sysEntry is one row of syscallTable.
type sysEntry struct {
	name string
	nr   [numColumns]int32
	rank [numColumns]int16
}
