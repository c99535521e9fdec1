package cgroup

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func devRuleOf(allow bool, typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
	r := specs.LinuxDeviceCgroup{Allow: allow, Type: typ, Access: access}
	if major >= 0 {
		r.Major = ptr(major)
	}
	if minor >= 0 {
		r.Minor = ptr(minor)
	}
	return r
}

func TestDeviceRuleLines(t *testing.T) {
	for _, tc := range []struct {
		r    specs.LinuxDeviceCgroup
		want string
	}{
		{devRuleOf(false, "", -1, -1, "rwm"), "a"},
		{devRuleOf(true, "a", 1, 3, "r"), "a"},
		{devRuleOf(true, "c", 1, 3, "rwm"), "c 1:3 rwm"},
		{devRuleOf(true, "c", 136, -1, "wr"), "c 136:* rw"},
		{devRuleOf(true, "b", -1, -1, "m"), "b *:* m"},
		{devRuleOf(true, "b", 8, 0, ""), "b 8:0 rwm"},
	} {
		got, err := deviceRuleLine(tc.r)
		if err != nil || got != tc.want {
			t.Errorf("deviceRuleLine(%+v) = %q, %v; want %q", tc.r, got, err, tc.want)
		}
	}
	for _, r := range []specs.LinuxDeviceCgroup{devRuleOf(true, "u", 1, 3, "r"), devRuleOf(true, "c", 1, 3, "rx")} {
		if _, err := deviceRuleLine(r); err == nil {
			t.Errorf("deviceRuleLine(%+v): no error", r)
		}
	}
}

// TestDevStateReplaysV1 checks the model against what the v1 kernel documents for the
// same writes.
func TestDevStateReplaysV1(t *testing.T) {
	type req struct {
		typ          byte
		major, minor int64
		access       string
		want         bool
	}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		reqs  []req
	}{
		{"empty list denies everything", nil, []req{{'c', 1, 3, "r", false}, {'b', 8, 0, "m", false}}},
		{"runc defaults", DefaultDeviceRules(), []req{
			{'c', 1, 3, "rw", true}, {'c', 1, 5, "r", true}, {'c', 136, 7, "rw", true},
			{'c', 10, 200, "rw", false}, {'c', 10, 200, "m", true}, {'b', 8, 0, "m", true},
			{'b', 8, 0, "r", false}, {'b', 8, 0, "rm", false},
		}},
		{"letters merge for one device", []specs.LinuxDeviceCgroup{
			devRuleOf(false, "a", -1, -1, "rwm"), devRuleOf(true, "c", 1, 3, "r"), devRuleOf(true, "c", 1, 3, "w"),
		}, []req{{'c', 1, 3, "rw", true}, {'c', 1, 3, "m", false}}},
		{"a later deny narrows the same device's exception", []specs.LinuxDeviceCgroup{
			devRuleOf(false, "", -1, -1, ""), devRuleOf(true, "c", 1, 3, "rwm"), devRuleOf(false, "c", 1, 3, "w"),
		}, []req{{'c', 1, 3, "r", true}, {'c', 1, 3, "rw", false}, {'c', 1, 3, "w", false}}},
		{"a deny for another key does not narrow (the kernel matches keys exactly)", []specs.LinuxDeviceCgroup{
			devRuleOf(false, "", -1, -1, ""), devRuleOf(true, "c", 1, -1, "rwm"), devRuleOf(false, "c", 1, 3, "rwm"),
		}, []req{{'c', 1, 3, "r", true}, {'c', 1, 9, "r", true}, {'c', 2, 3, "r", false}}},
		{"allow all then deny one", []specs.LinuxDeviceCgroup{
			devRuleOf(true, "a", -1, -1, "rwm"), devRuleOf(false, "c", 1, 3, "w"),
		}, []req{{'c', 1, 3, "r", true}, {'c', 1, 3, "rw", false}, {'b', 8, 0, "rwm", true}}},
		{"allow all, deny, allow again", []specs.LinuxDeviceCgroup{
			devRuleOf(true, "a", -1, -1, "rwm"), devRuleOf(false, "c", 1, 3, "rw"), devRuleOf(true, "c", 1, 3, "w"),
		}, []req{{'c', 1, 3, "w", true}, {'c', 1, 3, "r", false}}},
		{"a later reset wins", []specs.LinuxDeviceCgroup{
			devRuleOf(true, "c", 1, 3, "rwm"), devRuleOf(false, "a", -1, -1, "rwm"),
		}, []req{{'c', 1, 3, "r", false}}},
	} {
		st, err := newDevState(tc.rules)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, r := range tc.reqs {
			d, _ := parseDeviceRule(specs.LinuxDeviceCgroup{Access: r.access})
			if got := st.allows(r.typ, r.major, r.minor, d.access); got != r.want {
				t.Errorf("%s: %c %d:%d %s allowed = %v, want %v", tc.name, r.typ, r.major, r.minor, r.access, got, r.want)
			}
			if got := runDeviceProgram(t, st.program(), r.typ, r.major, r.minor, d.access); got != r.want {
				t.Errorf("%s: program says %c %d:%d %s allowed = %v, want %v", tc.name, r.typ, r.major, r.minor, r.access, got, r.want)
			}
		}
	}
}

// TestDeviceProgramMatchesModel runs the compiled program on every request over a grid
// of devices and access letters and compares it with the model, for rule lists that
// exercise both defaults, wildcards and narrowing.
func TestDeviceProgramMatchesModel(t *testing.T) {
	lists := [][]specs.LinuxDeviceCgroup{
		DefaultDeviceRules(),
		append(DefaultDeviceRules(), devRuleOf(false, "c", 1, 5, "w"), devRuleOf(true, "b", 8, -1, "r")),
		{devRuleOf(true, "a", -1, -1, "rwm"), devRuleOf(false, "c", 1, -1, "m"), devRuleOf(false, "b", -1, 0, "rw"), devRuleOf(false, "c", 4294967295, 7, "r")},
		{devRuleOf(true, "c", 4294967295, 4294967295, "rw")},
	}
	majors := []int64{0, 1, 5, 8, 136, 4294967295}
	minors := []int64{0, 3, 5, 7, 4294967295}
	for i, rules := range lists {
		st, err := newDevState(rules)
		if err != nil {
			t.Fatal(err)
		}
		prog := st.program()
		for _, typ := range []byte{'b', 'c'} {
			for _, maj := range majors {
				for _, mn := range minors {
					for acc := uint8(1); acc <= 7; acc++ {
						want := st.allows(typ, maj, mn, acc)
						if got := runDeviceProgram(t, prog, typ, maj, mn, acc); got != want {
							t.Fatalf("list %d: %c %d:%d access %03b: program %v, model %v", i, typ, maj, mn, acc, got, want)
						}
					}
				}
			}
		}
	}
}

// runDeviceProgram interprets the instructions deviceProgram emits, on the context the
// kernel passes (struct bpf_cgroup_dev_ctx), after checking the encoding round-trips.
func runDeviceProgram(t *testing.T, prog []insn, typ byte, major, minor int64, access uint8) bool {
	t.Helper()
	if got := decodeForTest(encode(prog)); !slices.Equal(got, prog) {
		t.Fatalf("encode does not round-trip")
	}
	devType := uint32(unix.BPF_DEVCG_DEV_CHAR)
	if typ == 'b' {
		devType = unix.BPF_DEVCG_DEV_BLOCK
	}
	ctx := []uint32{uint32(access)<<16 | devType, uint32(major), uint32(minor)}
	var reg [11]uint64
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.code {
		case opLdxMemW:
			if in.src != 1 || in.off%4 != 0 || int(in.off/4) >= len(ctx) {
				t.Fatalf("pc %d: bad context load %+v", pc, in)
			}
			reg[in.dst] = uint64(ctx[in.off/4])
		case opMovX32:
			reg[in.dst] = uint64(uint32(reg[in.src]))
		case opAndK32:
			reg[in.dst] = uint64(uint32(reg[in.dst]) & uint32(in.imm))
		case opRshK32:
			reg[in.dst] = uint64(uint32(reg[in.dst]) >> uint32(in.imm))
		case opMovK64:
			reg[in.dst] = uint64(int64(in.imm))
		case opJneK32:
			if uint32(reg[in.dst]) != uint32(in.imm) {
				pc += int(in.off)
			}
		case opJeqK32:
			if uint32(reg[in.dst]) == uint32(in.imm) {
				pc += int(in.off)
			}
		case opExit:
			return reg[0] == 1
		default:
			t.Fatalf("pc %d: unexpected opcode %#x", pc, in.code)
		}
	}
	t.Fatalf("program fell off its end")
	return false
}

// decodeForTest reads the little-endian layout (the test machines are little endian).
func decodeForTest(b []byte) []insn {
	var out []insn
	for i := 0; i+8 <= len(b); i += 8 {
		in := insn{code: b[i], dst: b[i+1] & 0xf, src: b[i+1] >> 4}
		in.off = int16(uint16(b[i+2]) | uint16(b[i+3])<<8)
		in.imm = int32(uint32(b[i+4]) | uint32(b[i+5])<<8 | uint32(b[i+6])<<16 | uint32(b[i+7])<<24)
		out = append(out, in)
	}
	return out
}
