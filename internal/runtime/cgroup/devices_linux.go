package cgroup

import (
	"encoding/binary"
	"fmt"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Device rules.
//
// The spec's list is read the way the v1 kernel reads writes to devices.allow and
// devices.deny, one rule after another, starting from "deny all":
//
//	a rule of type "a" (or no type)   resets: everything allowed (or denied), no exceptions
//	a rule against the default        adds an exception ("allow c 1:3 rw" under deny-all),
//	                                  merging access letters into one for the same device
//	a rule agreeing with the default  takes its letters out of the exception for exactly
//	                                  that device, if there is one
//
// v1 gets the writes themselves. For cgroup2 the same walk (devState) leaves a default and
// a list of exceptions, compiled into an eBPF program (deviceProgram) that answers each
// open/mknod: under deny-all, allow when one exception covers the device and every
// requested letter; under allow-all, deny when one exception covers the device and any
// requested letter.

// DefaultDeviceRules are the rules runc adds for every container: deny all, then the
// devices every program expects (null, zero, full, random, urandom, tty, the console and
// ptys) plus mknod of any char or block device (mknod alone opens nothing). The spec's
// own rules go after these.
func DefaultDeviceRules() []specs.LinuxDeviceCgroup {
	dev := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
		if major >= 0 {
			r.Major = &major
		}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		dev("c", -1, -1, "m"),
		dev("b", -1, -1, "m"),
		dev("c", 1, 3, "rwm"),    // /dev/null
		dev("c", 1, 5, "rwm"),    // /dev/zero
		dev("c", 1, 7, "rwm"),    // /dev/full
		dev("c", 1, 8, "rwm"),    // /dev/random
		dev("c", 1, 9, "rwm"),    // /dev/urandom
		dev("c", 5, 0, "rwm"),    // /dev/tty
		dev("c", 5, 1, "rwm"),    // /dev/console
		dev("c", 5, 2, "rwm"),    // /dev/ptmx
		dev("c", 136, -1, "rwm"), // /dev/pts/*
	}
}

// devRule is a parsed rule; major and minor -1 stand for "*".
type devRule struct {
	allow        bool
	typ          byte // 'a', 'b' or 'c'
	major, minor int64
	access       uint8 // unix.BPF_DEVCG_ACC_* bits
}

func parseDeviceRule(r specs.LinuxDeviceCgroup) (devRule, error) {
	d := devRule{allow: r.Allow, major: -1, minor: -1}
	switch r.Type {
	case "", "a":
		d.typ = 'a'
	case "b", "c":
		d.typ = r.Type[0]
	default:
		return d, fmt.Errorf("cgroup: invalid device rule type %q: want a, b or c", r.Type)
	}
	if r.Major != nil {
		if *r.Major < 0 || *r.Major > 0xffffffff {
			return d, fmt.Errorf("cgroup: invalid device rule major %d", *r.Major)
		}
		d.major = *r.Major
	}
	if r.Minor != nil {
		if *r.Minor < 0 || *r.Minor > 0xffffffff {
			return d, fmt.Errorf("cgroup: invalid device rule minor %d", *r.Minor)
		}
		d.minor = *r.Minor
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	for _, c := range access {
		switch c {
		case 'r':
			d.access |= unix.BPF_DEVCG_ACC_READ
		case 'w':
			d.access |= unix.BPF_DEVCG_ACC_WRITE
		case 'm':
			d.access |= unix.BPF_DEVCG_ACC_MKNOD
		default:
			return d, fmt.Errorf("cgroup: invalid device rule access %q: want letters of rwm", r.Access)
		}
	}
	return d, nil
}

// deviceRuleLine renders a rule as a line for devices.allow or devices.deny.
func deviceRuleLine(r specs.LinuxDeviceCgroup) (string, error) {
	d, err := parseDeviceRule(r)
	if err != nil {
		return "", err
	}
	if d.typ == 'a' {
		return "a", nil // the kernel reads any "a" rule as "all devices", whatever follows
	}
	num := func(n int64) string {
		if n < 0 {
			return "*"
		}
		return fmt.Sprint(n)
	}
	var acc strings.Builder
	for _, l := range []struct {
		bit uint8
		c   byte
	}{{unix.BPF_DEVCG_ACC_READ, 'r'}, {unix.BPF_DEVCG_ACC_WRITE, 'w'}, {unix.BPF_DEVCG_ACC_MKNOD, 'm'}} {
		if d.access&l.bit != 0 {
			acc.WriteByte(l.c)
		}
	}
	return fmt.Sprintf("%c %s:%s %s", d.typ, num(d.major), num(d.minor), acc.String()), nil
}

// devState is the v1 device controller's model: a default and exceptions to it.
type devState struct {
	defaultAllow bool
	exceptions   []devRule // allow field unused; in order of first appearance
}

// newDevState replays rules from "deny all".
func newDevState(rules []specs.LinuxDeviceCgroup) (*devState, error) {
	s := &devState{}
	for _, r := range rules {
		d, err := parseDeviceRule(r)
		if err != nil {
			return nil, err
		}
		s.apply(d)
	}
	return s, nil
}

func (s *devState) apply(d devRule) {
	if d.typ == 'a' {
		s.defaultAllow, s.exceptions = d.allow, nil
		return
	}
	i := s.find(d)
	if d.allow == s.defaultAllow { // agrees with the default: narrow an exception
		if i >= 0 {
			s.exceptions[i].access &^= d.access
			if s.exceptions[i].access == 0 {
				s.exceptions = append(s.exceptions[:i], s.exceptions[i+1:]...)
			}
		}
		return
	}
	if i >= 0 {
		s.exceptions[i].access |= d.access
		return
	}
	s.exceptions = append(s.exceptions, d)
}

func (s *devState) find(d devRule) int {
	for i, e := range s.exceptions {
		if e.typ == d.typ && e.major == d.major && e.minor == d.minor {
			return i
		}
	}
	return -1
}

// allows answers one request as the kernel would under this state (the reference the
// compiled program is tested against).
func (s *devState) allows(typ byte, major, minor int64, access uint8) bool {
	for _, e := range s.exceptions {
		if e.typ != typ || e.major >= 0 && e.major != major || e.minor >= 0 && e.minor != minor {
			continue
		}
		if s.defaultAllow && access&e.access != 0 {
			return false
		}
		if !s.defaultAllow && access&^e.access == 0 {
			return true
		}
	}
	return s.defaultAllow
}

// A BPF instruction (struct bpf_insn).
type insn struct {
	code     uint8
	dst, src uint8
	off      int16
	imm      int32
}

const (
	opLdxMemW   = unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W   // dst = *(u32 *)(src + off)
	opAndK32    = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K   // w_dst &= imm
	opRshK32    = unix.BPF_ALU | unix.BPF_RSH | unix.BPF_K   // w_dst >>= imm
	opMovX32    = unix.BPF_ALU | unix.BPF_MOV | unix.BPF_X   // w_dst = w_src
	opMovK64    = unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K // dst = imm
	opJneK32    = unix.BPF_JMP32 | unix.BPF_JNE | unix.BPF_K // if w_dst != imm goto +off
	opJeqK32    = unix.BPF_JMP32 | unix.BPF_JEQ | unix.BPF_K // if w_dst == imm goto +off
	opExit      = unix.BPF_JMP | unix.BPF_EXIT               // return r0
	devTypeMask = 0xffff
)

// deviceProgram compiles the state into a BPF_PROG_TYPE_CGROUP_DEVICE program. Its
// context is struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }, where
// access_type is (access << 16) | type; it returns 1 to allow, 0 to deny.
//
//	w2 = type, w3 = access, w4 = major, w5 = minor
//	for each exception:  if w2 != type goto next; [if w4 != major goto next;]
//	                     [if w5 != minor goto next;] w1 = w3 & mask;
//	                     if w1 <test> goto next; return verdict
//	next...              return default
func (s *devState) program() []insn {
	prog := []insn{
		{code: opLdxMemW, dst: 2, src: 1, off: 0},
		{code: opMovX32, dst: 3, src: 2},
		{code: opAndK32, dst: 2, imm: devTypeMask},
		{code: opRshK32, dst: 3, imm: 16},
		{code: opLdxMemW, dst: 4, src: 1, off: 4},
		{code: opLdxMemW, dst: 5, src: 1, off: 8},
	}
	verdict, dflt := int32(1), int32(0)
	if s.defaultAllow {
		verdict, dflt = 0, 1
	}
	for _, e := range s.exceptions {
		typ := int32(unix.BPF_DEVCG_DEV_CHAR)
		if e.typ == 'b' {
			typ = unix.BPF_DEVCG_DEV_BLOCK
		}
		// Jumps hold -1 until the block's length is known ("to next").
		block := []insn{{code: opJneK32, dst: 2, imm: typ, off: -1}}
		if e.major >= 0 {
			block = append(block, insn{code: opJneK32, dst: 4, imm: int32(uint32(e.major)), off: -1})
		}
		if e.minor >= 0 {
			block = append(block, insn{code: opJneK32, dst: 5, imm: int32(uint32(e.minor)), off: -1})
		}
		block = append(block, insn{code: opMovX32, dst: 1, src: 3})
		if s.defaultAllow {
			// A deny exception: hit when any requested letter is one of its letters.
			block = append(block,
				insn{code: opAndK32, dst: 1, imm: int32(e.access)},
				insn{code: opJeqK32, dst: 1, imm: 0, off: -1})
		} else {
			// An allow exception: hit when no requested letter is outside its letters.
			block = append(block,
				insn{code: opAndK32, dst: 1, imm: int32(^uint32(e.access) & 0x7)},
				insn{code: opJneK32, dst: 1, imm: 0, off: -1})
		}
		block = append(block, insn{code: opMovK64, dst: 0, imm: verdict}, insn{code: opExit})
		for i := range block {
			if block[i].off == -1 {
				block[i].off = int16(len(block) - i - 1)
			}
		}
		prog = append(prog, block...)
	}
	return append(prog, insn{code: opMovK64, dst: 0, imm: dflt}, insn{code: opExit})
}

// encode lays instructions out as the kernel's struct bpf_insn array, in the machine's
// byte order (the register nibbles swap places on big-endian machines, as C bitfields do).
func encode(prog []insn) []byte {
	bigEndian := binary.NativeEndian.Uint16([]byte{0, 1}) == 1
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		regs := in.dst&0xf | in.src<<4
		if bigEndian {
			regs = in.dst<<4 | in.src&0xf
		}
		out = append(out, in.code, regs)
		out = binary.NativeEndian.AppendUint16(out, uint16(in.off))
		out = binary.NativeEndian.AppendUint32(out, uint32(in.imm))
	}
	return out
}
