package seccomp

import (
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Seccomp filter flags (SECCOMP_FILTER_FLAG_* in linux/seccomp.h).
const (
	flagTSYNC            = 0x1
	flagLog              = 0x2
	flagSpecAllow        = 0x4
	flagNewListener      = 0x8
	flagTSYNCESRCH       = 0x10
	flagWaitKillableRecv = 0x20
)

// knownFlags maps the runtime-spec flag names Compile accepts to their bits.
// NEW_LISTENER and TSYNC_ESRCH are not among them: Compile sets those
// itself when the filter has a SCMP_ACT_NOTIFY action.
var knownFlags = []struct {
	name specs.LinuxSeccompFlag
	bit  uint
}{
	{"SECCOMP_FILTER_FLAG_TSYNC", flagTSYNC},
	{specs.LinuxSeccompFlagLog, flagLog},
	{specs.LinuxSeccompFlagSpecAllow, flagSpecAllow},
	{specs.LinuxSeccompFlagWaitKillableRecv, flagWaitKillableRecv},
}

var knownActions = []specs.LinuxSeccompAction{
	specs.ActKill, specs.ActKillProcess, specs.ActKillThread, specs.ActTrap,
	specs.ActErrno, specs.ActTrace, specs.ActAllow, specs.ActLog, specs.ActNotify,
}

var knownOperators = []specs.LinuxSeccompOperator{
	specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
	specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual,
}

// KnownActions returns the actions Compile accepts, spelled as in
// runtime-spec ("SCMP_ACT_ALLOW", ...), for `berth-runtime features`.
func KnownActions() []string {
	out := make([]string, len(knownActions))
	for i, a := range knownActions {
		out[i] = string(a)
	}
	return out
}

// KnownOperators returns the argument comparison operators Compile accepts.
func KnownOperators() []string {
	out := make([]string, len(knownOperators))
	for i, o := range knownOperators {
		out[i] = string(o)
	}
	return out
}

// KnownArchitectures returns the architectures Compile has syscall tables
// for ("SCMP_ARCH_X86_64", ...). Other runtime-spec architectures are
// rejected as unsupported.
func KnownArchitectures() []string {
	out := make([]string, len(arches))
	for i, a := range arches {
		out[i] = string(a.name)
	}
	return out
}

// KnownFlags returns the filter flags Compile accepts. Whether the running
// kernel supports each one is answered by SupportedFlags.
func KnownFlags() []string {
	out := make([]string, len(knownFlags))
	for i, f := range knownFlags {
		out[i] = string(f.name)
	}
	return out
}

// SyscallNumber returns the number of syscall name on arch (a
// "SCMP_ARCH_*" name). x32 numbers include __X32_SYSCALL_BIT.
func SyscallNumber(arch, name string) (uint32, bool) {
	a, ok := lookupArch(specs.Arch(arch))
	if !ok {
		return 0, false
	}
	e := lookupSyscall(name)
	if e == nil || e.nr[a.column] < 0 {
		return 0, false
	}
	return uint32(e.nr[a.column]), true
}

// SyscallName returns the name of syscall number nr on arch. Where two
// names share a number (ARM's sync_file_range2 and arm_sync_file_range),
// the alphabetically first is returned.
func SyscallName(arch string, nr uint32) (string, bool) {
	a, ok := lookupArch(specs.Arch(arch))
	if !ok {
		return "", false
	}
	for i := range syscallTable {
		if syscallTable[i].nr[a.column] == int32(nr) && syscallTable[i].nr[a.column] >= 0 {
			return syscallTable[i].name, true
		}
	}
	return "", false
}

// Syscalls returns the sorted names of the syscalls arch has.
func Syscalls(arch string) []string {
	a, ok := lookupArch(specs.Arch(arch))
	if !ok {
		return nil
	}
	var out []string
	for i := range syscallTable {
		if syscallTable[i].nr[a.column] >= 0 {
			out = append(out, syscallTable[i].name)
		}
	}
	sort.Strings(out)
	return out
}
