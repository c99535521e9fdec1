package seccomp

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// call is one syscall as the kernel hands it to the filter.
type call struct {
	arch *archInfo // nil with audit set: an architecture we have no table for
	nr   uint32
	args [maxArgs]uint64
}

func (c call) audit() uint32 { return c.arch.audit }

func (c call) String() string {
	return fmt.Sprintf("%s nr=%#x args=%#x", c.arch.name, c.nr, c.args)
}

// seccompData lays c out as struct seccomp_data for x/net/bpf's VM. The VM
// loads words big-endian while the kernel loads them in its own order, so
// each 32-bit word is stored big-endian at the offset where the kernel of
// c's architecture keeps it.
func seccompData(audit uint32, c call) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[offNr:], c.nr)
	binary.BigEndian.PutUint32(b[offArch:], audit)
	for i, v := range c.args {
		lo, hi := offArgs+8*i, offArgs+8*i+4
		if c.arch != nil && c.arch.bigEndian {
			lo, hi = hi, lo
		}
		binary.BigEndian.PutUint32(b[lo:], uint32(v))
		binary.BigEndian.PutUint32(b[hi:], uint32(v>>32))
	}
	return b
}

func newVM(t testing.TB, f *Filter) *bpf.VM {
	t.Helper()
	vm, err := bpf.NewVM(toBPF(t, f))
	if err != nil {
		t.Fatalf("x/net/bpf rejects the program: %v", err)
	}
	return vm
}

func run(t testing.TB, vm *bpf.VM, audit uint32, c call) uint32 {
	t.Helper()
	r, err := vm.Run(seccompData(audit, c))
	if err != nil {
		t.Fatalf("%v: %v", c, err)
	}
	return uint32(r)
}

func arch(t testing.TB, name specs.Arch) *archInfo {
	t.Helper()
	a, ok := lookupArch(name)
	if !ok {
		t.Fatalf("no arch %s", name)
	}
	return a
}

func nr(t testing.TB, a specs.Arch, name string) uint32 {
	t.Helper()
	n, ok := SyscallNumber(string(a), name)
	if !ok {
		t.Fatalf("%s has no syscall %q", a, name)
	}
	return n
}

func u(v uint) *uint { return &v }

// TestVMCases runs hand-picked calls through compiled programs and checks
// the action a user would expect.
func TestVMCases(t *testing.T) {
	x64, x86, x32, s390 := arch(t, specs.ArchX86_64), arch(t, specs.ArchX86), arch(t, specs.ArchX32), arch(t, specs.ArchS390X)
	eq := func(i uint, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: v, Op: specs.OpEqualTo}
	}
	cfg := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: u(38),
		Architectures:   []specs.Arch{specs.ArchX86, specs.ArchS390X},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "socket", "getpid"}, Action: specs.ActAllow},
			// A specific rule wins over the general one listed before it.
			{Names: []string{"socket"}, Action: specs.ActErrno, ErrnoRet: u(97), Args: []specs.LinuxSeccompArg{eq(0, 40)}},
			// First matching conditional rule wins.
			{Names: []string{"kill"}, Action: specs.ActKillProcess, Args: []specs.LinuxSeccompArg{eq(1, 9)}},
			{Names: []string{"kill"}, Action: specs.ActLog, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 5, Op: specs.OpGreaterThan}}},
			// 64-bit comparisons: both halves count.
			{Names: []string{"lseek"}, Action: specs.ActTrap, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0x1_0000_0000, Op: specs.OpGreaterEqual}}},
			{Names: []string{"mmap"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 3, Value: 0xF0_0000_000F, ValueTwo: 0x10_0000_0001, Op: specs.OpMaskedEqual}}},
			// ANDed conditions.
			{Names: []string{"fcntl"}, Action: specs.ActTrace, ErrnoRet: u(3), Args: []specs.LinuxSeccompArg{eq(0, 1), {Index: 1, Value: 4, Op: specs.OpLessThan}}},
			// The same argument twice: ORed, as runc does.
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{eq(0, 0), eq(0, 8)}},
			{Names: []string{"getppid"}, Action: specs.ActNotify},
		},
	}
	f, err := compileFor(cfg, specs.ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	vm := newVM(t, f)
	const (
		allow   = retAllow
		enosys  = retErrno | 38
		killAll = retKillProcess
	)
	tests := []struct {
		name string
		c    call
		want uint32
	}{
		{"listed syscall", call{arch: x64, nr: nr(t, specs.ArchX86_64, "read")}, allow},
		{"unlisted syscall gets defaultErrnoRet", call{arch: x64, nr: nr(t, specs.ArchX86_64, "mount")}, enosys},
		{"number past every table", call{arch: x64, nr: 0x3fffffff}, enosys},
		{"x32 number when x32 is not listed", call{arch: x64, nr: x32SyscallBit | 0}, retKillThread},
		{"x32 number 0xffffffff", call{arch: x64, nr: 0xffffffff}, retKillThread},
		{"x86 compat read", call{arch: x86, nr: nr(t, specs.ArchX86, "read")}, allow},
		{"x86 compat mount", call{arch: x86, nr: nr(t, specs.ArchX86, "mount")}, enosys},
		{"s390x read", call{arch: s390, nr: nr(t, specs.ArchS390X, "read")}, allow},
		{"socket(AF_INET)", call{arch: x64, nr: nr(t, specs.ArchX86_64, "socket"), args: [6]uint64{2}}, allow},
		{"socket(AF_VSOCK) specific rule", call{arch: x64, nr: nr(t, specs.ArchX86_64, "socket"), args: [6]uint64{40}}, retErrno | 97},
		{"socket(AF_VSOCK | 1<<32) high half differs", call{arch: x64, nr: nr(t, specs.ArchX86_64, "socket"), args: [6]uint64{1<<32 | 40}}, allow},
		{"socket(AF_VSOCK) on s390x (big-endian args)", call{arch: s390, nr: nr(t, specs.ArchS390X, "socket"), args: [6]uint64{40}}, retErrno | 97},
		{"socket(AF_VSOCK | 1<<32) on x86 compares low half only", call{arch: x86, nr: nr(t, specs.ArchX86, "socket"), args: [6]uint64{1<<32 | 40}}, retErrno | 97},
		{"kill(_, 9) first rule", call{arch: x64, nr: nr(t, specs.ArchX86_64, "kill"), args: [6]uint64{1, 9}}, killAll},
		{"kill(_, 6) second rule", call{arch: x64, nr: nr(t, specs.ArchX86_64, "kill"), args: [6]uint64{1, 6}}, retLog},
		{"kill(_, 5) no rule", call{arch: x64, nr: nr(t, specs.ArchX86_64, "kill"), args: [6]uint64{1, 5}}, enosys},
		{"lseek 2^32-1 < 2^32", call{arch: x64, nr: nr(t, specs.ArchX86_64, "lseek"), args: [6]uint64{0, 0xffffffff}}, enosys},
		{"lseek 2^32 >= 2^32", call{arch: x64, nr: nr(t, specs.ArchX86_64, "lseek"), args: [6]uint64{0, 0x1_0000_0000}}, retTrap},
		{"lseek 2^33 low half 0", call{arch: x64, nr: nr(t, specs.ArchX86_64, "lseek"), args: [6]uint64{0, 0x2_0000_0000}}, retTrap},
		{"mmap masked match", call{arch: x64, nr: nr(t, specs.ArchX86_64, "mmap"), args: [6]uint64{0, 0, 0, 0x1F_0000_0FF1}}, allow},
		{"mmap masked high mismatch", call{arch: x64, nr: nr(t, specs.ArchX86_64, "mmap"), args: [6]uint64{0, 0, 0, 0x2F_0000_0FF1}}, enosys},
		{"mmap masked low mismatch", call{arch: x64, nr: nr(t, specs.ArchX86_64, "mmap"), args: [6]uint64{0, 0, 0, 0x1F_0000_0FF2}}, enosys},
		{"fcntl both conditions", call{arch: x64, nr: nr(t, specs.ArchX86_64, "fcntl"), args: [6]uint64{1, 3}}, retTrace | 3},
		{"fcntl one condition", call{arch: x64, nr: nr(t, specs.ArchX86_64, "fcntl"), args: [6]uint64{1, 4}}, enosys},
		{"personality(0)", call{arch: x64, nr: nr(t, specs.ArchX86_64, "personality"), args: [6]uint64{0}}, allow},
		{"personality(8)", call{arch: x64, nr: nr(t, specs.ArchX86_64, "personality"), args: [6]uint64{8}}, allow},
		{"personality(4)", call{arch: x64, nr: nr(t, specs.ArchX86_64, "personality"), args: [6]uint64{4}}, enosys},
		{"getppid notify", call{arch: x64, nr: nr(t, specs.ArchX86_64, "getppid")}, retUserNotif},
	}
	for _, tc := range tests {
		if got := run(t, vm, tc.c.audit(), tc.c); got != tc.want {
			t.Errorf("%s (%v): got %s, want %s", tc.name, tc.c, actionString(got), actionString(tc.want))
		}
	}
	// An architecture the filter does not list.
	for _, audit := range []uint32{auditAArch64, x32.audit + 1, 0} {
		c := call{arch: x64, nr: nr(t, specs.ArchX86_64, "read")}
		if got := run(t, vm, audit, c); got != retKillThread {
			t.Errorf("arch %#x: got %s, want SCMP_ACT_KILL_THREAD", audit, actionString(got))
		}
	}
}

// reference decides a call straight from the spec, the slow and obvious
// way, to check compiled programs against.
func reference(cfg *specs.LinuxSeccomp, native specs.Arch, audit uint32, c call) uint32 {
	var a *archInfo
	for _, name := range append([]specs.Arch{native}, cfg.Architectures...) {
		ai, _ := lookupArch(name)
		if ai.audit == audit && c.nr >= ai.nrMin && c.nr <= ai.nrMax {
			a = ai
		}
	}
	if a == nil {
		return retKillThread
	}
	names := func(sc specs.LinuxSyscall) bool {
		for _, n := range sc.Names {
			if e := lookupSyscall(n); e != nil && e.nr[a.column] >= 0 && uint32(e.nr[a.column]) == c.nr {
				return true
			}
		}
		return false
	}
	action := func(act specs.LinuxSeccompAction, errno *uint) uint32 {
		r, err := parseAction(act, errno)
		if err != nil {
			panic(err)
		}
		return r
	}
	for _, sc := range cfg.Syscalls {
		if len(sc.Args) > 0 && names(sc) && argsMatch(sc.Args, a.bits64, c.args) {
			return action(sc.Action, sc.ErrnoRet)
		}
	}
	for _, sc := range cfg.Syscalls {
		if len(sc.Args) == 0 && names(sc) {
			return action(sc.Action, sc.ErrnoRet)
		}
	}
	return action(cfg.DefaultAction, cfg.DefaultErrnoRet)
}

func argsMatch(conds []specs.LinuxSeccompArg, bits64 bool, args [maxArgs]uint64) bool {
	seen := map[uint]bool{}
	or := false
	for _, c := range conds {
		or = or || seen[c.Index]
		seen[c.Index] = true
	}
	for _, c := range conds {
		m := argMatch(c, bits64, args[c.Index])
		if or && m {
			return true
		}
		if !or && !m {
			return false
		}
	}
	return !or
}

func argMatch(c specs.LinuxSeccompArg, bits64 bool, arg uint64) bool {
	v, v2 := c.Value, c.ValueTwo
	if !bits64 {
		arg, v, v2 = uint64(uint32(arg)), uint64(uint32(v)), uint64(uint32(v2))
	}
	switch c.Op {
	case specs.OpEqualTo:
		return arg == v
	case specs.OpNotEqual:
		return arg != v
	case specs.OpLessThan:
		return arg < v
	case specs.OpLessEqual:
		return arg <= v
	case specs.OpGreaterEqual:
		return arg >= v
	case specs.OpGreaterThan:
		return arg > v
	case specs.OpMaskedEqual:
		return arg&v == v2
	}
	panic(c.Op)
}

// interestingValues are argument values near v: the same, one off, and
// with the high or low half changed.
func interestingValues(v uint64) []uint64 {
	return []uint64{v, v + 1, v - 1, v ^ 1<<32, v + 1<<32, v - 1<<32, v &^ 0xffffffff, v | 0xffffffff, v & 0xffffffff}
}

// checkAgainstReference compares the compiled program with reference over
// every syscall the profile names (and their neighbours), on every listed
// architecture, with argument values around those in the profile.
func checkAgainstReference(t *testing.T, cfg *specs.LinuxSeccomp, native specs.Arch, rng *rand.Rand, perCall int) {
	t.Helper()
	f, err := compileFor(cfg, native)
	if err != nil {
		t.Fatal(err)
	}
	vm := newVM(t, f)
	values := []uint64{0, 1, 0xffffffff, 1 << 32, ^uint64(0), 1<<63 | 5}
	for _, sc := range cfg.Syscalls {
		for _, a := range sc.Args {
			values = append(values, interestingValues(a.Value)...)
			values = append(values, interestingValues(a.ValueTwo)...)
		}
	}
	var archs []*archInfo
	for _, name := range append([]specs.Arch{native}, cfg.Architectures...) {
		archs = append(archs, arch(t, name))
	}
	checked, failed := 0, 0
	for _, a := range archs {
		nrs := []uint32{0, a.nrMin, a.nrMax, a.nrMax + 1, a.nrMin - 1, x32SyscallBit, 0xffffffff}
		for _, sc := range cfg.Syscalls {
			for _, n := range sc.Names {
				if e := lookupSyscall(n); e != nil && e.nr[a.column] >= 0 {
					v := uint32(e.nr[a.column])
					nrs = append(nrs, v, v-1, v+1)
				}
			}
		}
		for _, n := range nrs {
			for range perCall {
				c := call{arch: a, nr: n}
				for i := range c.args {
					c.args[i] = values[rng.Intn(len(values))]
				}
				for _, audit := range []uint32{a.audit, auditPPC} {
					want := reference(cfg, native, audit, c)
					got := run(t, vm, audit, c)
					checked++
					if got != want {
						failed++
						if failed <= 10 {
							t.Errorf("audit %#x %v: filter says %s, spec says %s", audit, c, actionString(got), actionString(want))
						}
					}
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d calls checked", checked)
	}
	t.Logf("%d calls checked, %d instructions", checked, len(f.Program))
}

func TestVMMatchesReferenceOnTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	rng := rand.New(rand.NewSource(1))
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".json"), func(t *testing.T) {
			checkAgainstReference(t, loadConfig(t, path), goldenNative, rng, 20)
		})
	}
}

// TestVMRandomProfiles compiles random profiles mixing every operator,
// 64-bit values, several rules per syscall and several architectures.
func TestVMRandomProfiles(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	ops := knownOperators
	actions := []specs.LinuxSeccompAction{specs.ActAllow, specs.ActErrno, specs.ActKillProcess, specs.ActLog, specs.ActTrace, specs.ActTrap}
	archChoices := []specs.Arch{specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM, specs.ArchS390X, specs.ArchMIPS, specs.ArchPPC64}
	names := []string{"read", "write", "openat", "close", "mmap", "ioctl", "socket", "kill", "clone", "uname", "getpid", "lseek", "futex", "personality"}
	baseValues := []uint64{0, 1, 40, 0xffffffff, 1 << 32, 0x1_0000_0028, 0xdead_beef_0000_0001, ^uint64(0)}
	for iter := range 60 {
		cfg := &specs.LinuxSeccomp{DefaultAction: actions[rng.Intn(len(actions))], DefaultErrnoRet: u(uint(rng.Intn(200)))}
		for _, a := range archChoices {
			if rng.Intn(3) == 0 {
				cfg.Architectures = append(cfg.Architectures, a)
			}
		}
		uncond := map[string]bool{}
		for range 1 + rng.Intn(12) {
			sc := specs.LinuxSyscall{Action: actions[rng.Intn(len(actions))], ErrnoRet: u(uint(rng.Intn(100)))}
			for range 1 + rng.Intn(3) {
				sc.Names = append(sc.Names, names[rng.Intn(len(names))])
			}
			for range rng.Intn(4) {
				v := baseValues[rng.Intn(len(baseValues))]
				sc.Args = append(sc.Args, specs.LinuxSeccompArg{
					Index: uint(rng.Intn(maxArgs)), Op: ops[rng.Intn(len(ops))],
					Value: v, ValueTwo: v & baseValues[rng.Intn(len(baseValues))],
				})
			}
			if len(sc.Args) == 0 {
				// Disagreeing unconditional rules are an error; keep one per name.
				kept := sc.Names[:0]
				for _, n := range sc.Names {
					if !uncond[n] {
						uncond[n] = true
						kept = append(kept, n)
					}
				}
				if len(kept) == 0 {
					continue
				}
				sc.Names = kept
			}
			cfg.Syscalls = append(cfg.Syscalls, sc)
		}
		t.Run(fmt.Sprint(iter), func(t *testing.T) {
			checkAgainstReference(t, cfg, specs.ArchX86_64, rng, 8)
		})
	}
}

// TestLongJumps builds a program of thousands of instructions, whose
// branches must go through JA, and checks it still decides correctly.
func TestLongJumps(t *testing.T) {
	cfg := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86, specs.ArchAARCH64},
	}
	for i, n := range Syscalls(string(specs.ArchX86_64))[:150] {
		cfg.Syscalls = append(cfg.Syscalls, specs.LinuxSyscall{
			Names: []string{n}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: uint(i % maxArgs), Value: uint64(i) << 31, Op: specs.OpGreaterThan}},
		})
	}
	f, err := compileFor(cfg, specs.ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Program) < 1500 {
		t.Fatalf("program has only %d instructions; the test wants long jumps", len(f.Program))
	}
	longJumps := 0
	for _, c := range f.comments {
		if c.String() == "long jump" {
			longJumps++
		}
	}
	if longJumps == 0 {
		t.Fatal("no long jump was needed")
	}
	checkAgainstReference(t, cfg, specs.ArchX86_64, rand.New(rand.NewSource(3)), 4)
}
