package seccomp

import (
	"errors"
	"fmt"
)

// Classic BPF opcodes used by the generated filters (linux/bpf_common.h).
const (
	opLdAbsW = 0x20 // BPF_LD | BPF_W | BPF_ABS: A = seccomp_data[k:k+4]
	opAndK   = 0x54 // BPF_ALU | BPF_AND | BPF_K: A &= k
	opJA     = 0x05 // BPF_JMP | BPF_JA: pc += k
	opJEQ    = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	opJGT    = 0x25 // BPF_JMP | BPF_JGT | BPF_K
	opJGE    = 0x35 // BPF_JMP | BPF_JGE | BPF_K
	opRetK   = 0x06 // BPF_RET | BPF_K
)

// maxInsns is BPF_MAXINSNS, the kernel's limit on one filter's length.
const maxInsns = 4096

// maxShortJump is the farthest a conditional jump's 8-bit offset reaches.
const maxShortJump = 255

// label names a position in the program; it is bound to the index of an
// instruction once that instruction is emitted.
type label int32

const noLabel label = -1

// insn is an instruction before jump resolution. Conditional jumps name
// their targets by label (jt, jf); JA uses jt.
type insn struct {
	code   uint16
	k      uint32
	jt, jf label
}

// comment annotates an instruction for disassembly. It is kept in two
// parts so that compiling does not build strings nobody may read.
type comment struct{ prefix, text string }

func (c comment) String() string { return c.prefix + c.text }

func note(text string) comment { return comment{text: text} }

// rawInsn is a resolved instruction, laid out like struct sock_filter.
type rawInsn struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

// assembler collects instructions with symbolic jump targets and resolves
// them into a program. Classic BPF only jumps forward, and a conditional
// jump reaches at most 255 instructions; resolve turns a farther branch
// into a short hop to an inserted JA, whose offset is 32 bits.
type assembler struct {
	insns  []insn
	labels []int32 // label -> index of the instruction it is bound to, or -1

	annotate bool      // keep notes, for disassembly
	notes    []comment // notes[i] annotates insns[i] when annotate is set
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

// bind attaches l to the next instruction emitted.
func (a *assembler) bind(l label) {
	a.labels[l] = int32(len(a.insns))
}

func (a *assembler) emit(i insn, c comment) int {
	a.insns = append(a.insns, i)
	if a.annotate {
		a.notes = append(a.notes, c)
	}
	return len(a.insns) - 1
}

func (a *assembler) load(off uint32, c comment) {
	a.emit(insn{code: opLdAbsW, k: off, jt: noLabel, jf: noLabel}, c)
}

func (a *assembler) and(k uint32) {
	a.emit(insn{code: opAndK, k: k, jt: noLabel, jf: noLabel}, comment{})
}

func (a *assembler) ret(k uint32, c comment) {
	a.emit(insn{code: opRetK, k: k, jt: noLabel, jf: noLabel}, c)
}

func (a *assembler) jump(to label) {
	a.emit(insn{code: opJA, jt: to, jf: noLabel}, comment{})
}

// branch emits "if A <code> k goto jt else goto jf"; a noLabel target
// means the next instruction.
func (a *assembler) branch(code uint16, k uint32, jt, jf label, c comment) int {
	var next label = noLabel
	if jt == noLabel || jf == noLabel {
		next = a.newLabel()
	}
	if jt == noLabel {
		jt = next
	}
	if jf == noLabel {
		jf = next
	}
	i := a.emit(insn{code: code, k: k, jt: jt, jf: jf}, c)
	if next != noLabel {
		a.bind(next)
	}
	return i
}

// Expansion bits of a conditional jump whose branch is too far for 8 bits.
const (
	farTrue  = 1 // the true branch goes through an inserted JA
	farFalse = 2 // the false branch goes through an inserted JA
)

func (i *insn) isCond() bool {
	return i.code == opJEQ || i.code == opJGT || i.code == opJGE
}

// size is the number of instructions insn i becomes with expansion e.
func (i *insn) size(e uint8) int {
	if !i.isCond() || i.jt == i.jf {
		return 1
	}
	return 1 + int(e&farTrue) + int(e&farFalse)>>1
}

// resolve lays the program out, inserting long jumps until every
// conditional offset fits in 8 bits. Expansions only grow, so the loop
// ends; in practice after two or three rounds.
func (a *assembler) resolve() ([]rawInsn, []comment, error) {
	n := len(a.insns)
	for l, at := range a.labels {
		if at < 0 || int(at) >= n {
			return nil, nil, fmt.Errorf("seccomp: internal error: label %d bound to %d of %d instructions", l, at, n)
		}
	}
	exp := make([]uint8, n)
	pos := make([]int, n)
	for {
		p := 0
		for i := range a.insns {
			pos[i] = p
			p += a.insns[i].size(exp[i])
		}
		changed := false
		for i := range a.insns {
			in := &a.insns[i]
			if !in.isCond() || in.jt == in.jf {
				continue
			}
			t, f := pos[a.labels[in.jt]], pos[a.labels[in.jf]]
			if exp[i]&farTrue == 0 && t-(pos[i]+1) > maxShortJump {
				exp[i] |= farTrue
				changed = true
			}
			if exp[i]&farFalse == 0 && f-(pos[i]+1) > maxShortJump {
				exp[i] |= farFalse
				changed = true
			}
		}
		if !changed {
			return a.encode(pos, exp, p)
		}
	}
}

func (a *assembler) encode(pos []int, exp []uint8, total int) ([]rawInsn, []comment, error) {
	if total > maxInsns {
		return nil, nil, fmt.Errorf("seccomp: filter needs %d BPF instructions, over the kernel's limit of %d", total, maxInsns)
	}
	out := make([]rawInsn, 0, total)
	var comments []comment
	if a.annotate {
		comments = make([]comment, 0, total)
	}
	annotate := func(i int) {
		if a.annotate {
			comments = append(comments, a.notes[i])
		}
	}
	rel := func(from, to int) (uint32, error) {
		if to < from {
			return 0, errors.New("seccomp: internal error: backward jump")
		}
		return uint32(to - from), nil
	}
	for i := range a.insns {
		in := &a.insns[i]
		here := pos[i]
		switch {
		case in.code == opJA || (in.isCond() && in.jt == in.jf):
			k, err := rel(here+1, pos[a.labels[in.jt]])
			if err != nil {
				return nil, nil, err
			}
			out = append(out, rawInsn{code: opJA, k: k})
			annotate(i)
		case in.isCond():
			t, f := pos[a.labels[in.jt]], pos[a.labels[in.jf]]
			e := exp[i]
			c := rawInsn{code: in.code, k: in.k}
			var jas []int // targets of the JAs after the branch
			slot := 0     // offset of the next JA after the branch
			if e&farTrue != 0 {
				c.jt = uint8(slot)
				jas = append(jas, t)
				slot++
			}
			if e&farFalse != 0 {
				c.jf = uint8(slot)
				jas = append(jas, f)
				slot++
			}
			if e&farTrue == 0 {
				k, err := rel(here+1, t)
				if err != nil || k > maxShortJump {
					return nil, nil, fmt.Errorf("seccomp: internal error: true branch of instruction %d (%d)", i, k)
				}
				c.jt = uint8(k)
			}
			if e&farFalse == 0 {
				k, err := rel(here+1, f)
				if err != nil || k > maxShortJump {
					return nil, nil, fmt.Errorf("seccomp: internal error: false branch of instruction %d (%d)", i, k)
				}
				c.jf = uint8(k)
			}
			out = append(out, c)
			annotate(i)
			for j, to := range jas {
				k, err := rel(here+2+j, to)
				if err != nil {
					return nil, nil, err
				}
				out = append(out, rawInsn{code: opJA, k: k})
				if a.annotate {
					comments = append(comments, note("long jump"))
				}
			}
		default:
			out = append(out, rawInsn{code: in.code, k: in.k})
			annotate(i)
		}
	}
	return out, comments, nil
}
