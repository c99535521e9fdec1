package seccomp

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCompileRejectsBadInput(t *testing.T) {
	allow := func(names ...string) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: names, Action: specs.ActAllow}
	}
	withArg := func(a specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{a}}
	}
	tooLong := &specs.LinuxSeccomp{DefaultAction: specs.ActErrno}
	for i, n := range Syscalls(string(specs.ArchX86_64)) {
		var args []specs.LinuxSeccompArg
		for j := range maxArgs {
			args = append(args, specs.LinuxSeccompArg{Index: uint(j), Value: uint64(i*maxArgs + j), Op: specs.OpEqualTo})
		}
		tooLong.Syscalls = append(tooLong.Syscalls, specs.LinuxSyscall{Names: []string{n}, Action: specs.ActAllow, Args: args})
	}

	tests := []struct {
		name string
		cfg  *specs.LinuxSeccomp
		want string
	}{
		{"nil", nil, "seccomp: no configuration"},
		{"unknown default action", &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"},
			`seccomp: defaultAction: unknown action "SCMP_ACT_BOGUS"`},
		{"empty default action", &specs.LinuxSeccomp{},
			`seccomp: defaultAction: unknown action ""`},
		{"unknown action", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			allow("read"), {Names: []string{"write"}, Action: "SCMP_ACT_MAYBE"}}},
			`seccomp: syscalls[1] "write": unknown action "SCMP_ACT_MAYBE"`},
		{"unknown operator", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			withArg(specs.LinuxSeccompArg{Index: 0, Value: 1, Op: "SCMP_CMP_ROUGHLY"})}},
			`seccomp: syscalls[0] "read": args[0]: unknown operator "SCMP_CMP_ROUGHLY"`},
		{"argument index 6", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			withArg(specs.LinuxSeccompArg{Index: 6, Value: 1, Op: specs.OpEqualTo})}},
			`seccomp: syscalls[0] "read": args[0]: argument index 6 out of range (0-5)`},
		{"unknown architecture", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86, "SCMP_ARCH_Z80"}},
			`seccomp: unknown architecture "SCMP_ARCH_Z80"`},
		{"spec architecture without a table", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchPARISC}},
			`seccomp: unsupported architecture "SCMP_ARCH_PARISC"`},
		{"unknown flag", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, "SECCOMP_FILTER_FLAG_FAST"}},
			`seccomp: unknown flag "SECCOMP_FILTER_FLAG_FAST"`},
		{"listener flag is not the user's to set", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_NEW_LISTENER"}},
			`seccomp: unknown flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"`},
		{"unknown syscall", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{allow("read", "frobnicate")}},
			`seccomp: unknown syscall "frobnicate"`},
		{"no names", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Action: specs.ActAllow}}},
			`seccomp: syscalls[0]: no syscall names`},
		{"errnoRet too big", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: u(70000)},
			`seccomp: defaultAction: errnoRet 70000 out of range (0-65535)`},
		{"conflicting unconditional rules", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			allow("read", "write"), {Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: u(5)}}},
			`seccomp: syscall "write" has conflicting actions SCMP_ACT_ALLOW and SCMP_ACT_ERRNO(5)`},
		{"program too long", tooLong, "over the kernel's limit of 4096"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := compileFor(tc.cfg, specs.ArchX86_64)
			if err == nil {
				t.Fatalf("compiled (%d instructions), want error %q", len(f.Program), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestCompileAcceptsEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		cfg  *specs.LinuxSeccomp
	}{
		// A name only some architecture has is skipped elsewhere, even when
		// no listed architecture has it (Docker's profile lists arm and
		// s390 names on every host).
		{"name of another architecture", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "breakpoint", "s390_runtime_instr"}, Action: specs.ActAllow}}}},
		{"unconditional rules that agree", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write"}, Action: specs.ActAllow}, {Names: []string{"write"}, Action: specs.ActAllow}}}},
		{"errnoRet on ALLOW is ignored", &specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read"}, Action: specs.ActAllow, ErrnoRet: u(5)}}}},
		{"native architecture listed again", &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86_64}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := compileFor(tc.cfg, specs.ArchX86_64); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestFlags(t *testing.T) {
	tests := []struct {
		name   string
		cfg    specs.LinuxSeccomp
		flags  uint
		notify bool
	}{
		{"none", specs.LinuxSeccomp{DefaultAction: specs.ActAllow}, 0, false},
		{"log and spec allow", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}}, flagLog | flagSpecAllow, false},
		{"wait killable without a listener is dropped", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}, 0, false},
		{"notify rule adds a listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
			Flags:    []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdirat"}, Action: specs.ActNotify}}}, flagNewListener | flagWaitKillableRecv, true},
		{"notify default with tsync", specs.LinuxSeccomp{DefaultAction: specs.ActNotify,
			Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC"}}, flagTSYNC | flagNewListener | flagTSYNCESRCH, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := compileFor(&tc.cfg, specs.ArchX86_64)
			if err != nil {
				t.Fatal(err)
			}
			if f.Flags != tc.flags || f.Notify != tc.notify {
				t.Errorf("flags %#x notify %v, want %#x %v", f.Flags, f.Notify, tc.flags, tc.notify)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		arch, name string
		nr         uint32
	}{
		{"SCMP_ARCH_X86_64", "read", 0},
		{"SCMP_ARCH_X86_64", "listns", 470},
		{"SCMP_ARCH_X86", "socketcall", 102},
		{"SCMP_ARCH_X32", "read", 0x40000000},
		{"SCMP_ARCH_X32", "rt_sigaction", 0x40000000 + 512},
		{"SCMP_ARCH_AARCH64", "openat", 56},
		{"SCMP_ARCH_ARM", "set_tls", 0x0f0005},
		{"SCMP_ARCH_MIPSEL", "read", 4003},
		{"SCMP_ARCH_MIPS64", "read", 5000},
	}
	for _, tc := range tests {
		n, ok := SyscallNumber(tc.arch, tc.name)
		if !ok || n != tc.nr {
			t.Errorf("SyscallNumber(%s, %s) = %#x, %v; want %#x", tc.arch, tc.name, n, ok, tc.nr)
		}
		if name, ok := SyscallName(tc.arch, tc.nr); !ok || name != tc.name {
			t.Errorf("SyscallName(%s, %#x) = %q, %v; want %q", tc.arch, tc.nr, name, ok, tc.name)
		}
	}
	for _, missing := range [][2]string{{"SCMP_ARCH_X86_64", "socketcall"}, {"SCMP_ARCH_X32", "uselib"}, {"SCMP_ARCH_AARCH64", "open"}, {"SCMP_ARCH_Z80", "read"}} {
		if n, ok := SyscallNumber(missing[0], missing[1]); ok {
			t.Errorf("SyscallNumber(%s, %s) = %d, want none", missing[0], missing[1], n)
		}
	}
	if NativeArch() == "" {
		t.Errorf("no native arch for this GOARCH")
	}
	for _, list := range [][]string{KnownActions(), KnownArchitectures(), KnownFlags(), KnownOperators()} {
		if len(list) == 0 {
			t.Error("empty Known* list")
		}
	}
	if got := len(Syscalls("SCMP_ARCH_X86_64")); got < 350 {
		t.Errorf("x86_64 has %d syscalls, want at least 350", got)
	}
}
