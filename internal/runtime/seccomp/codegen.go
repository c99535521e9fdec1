package seccomp

import (
	"sort"
	"strconv"
	"strings"
)

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// section is the code for one audit arch value: x86_64 and x32 share one.
type section struct {
	audit  uint32
	arches []*archPlan // by nrMin
}

// codegen turns a plan into BPF. See the package documentation for the
// shape of the program.
type codegen struct {
	p *plan
	a assembler

	// per section
	retOrder  []uint32         // return values used in the section, first use first
	retLabels []label          // retLabels[i] labels the ret of retOrder[i]
	blocks    map[string]label // rule block key -> its label
	todo      []*callPlan      // rule blocks to emit, in label order
	todoLbl   []label
	todoArch  []*archPlan
	ap        *archPlan // owner of the calls being dispatched
	arch      *archInfo // arch of the rule blocks being emitted
}

// generate returns the program and, if annotate is set, one comment per
// instruction.
func generate(p *plan, annotate bool) ([]rawInsn, []comment, error) {
	g := &codegen{p: p}
	g.a.insns = make([]insn, 0, 512)
	g.a.labels = make([]int32, 0, 512)
	g.a.annotate = annotate

	var sections []*section
	for _, ap := range p.arches {
		var s *section
		for _, have := range sections {
			if have.audit == ap.arch.audit {
				s = have
			}
		}
		if s == nil {
			s = &section{audit: ap.arch.audit}
			sections = append(sections, s)
		}
		s.arches = append(s.arches, ap)
		sort.Slice(s.arches, func(i, j int) bool { return s.arches[i].arch.nrMin < s.arches[j].arch.nrMin })
	}

	g.a.load(offArch, note("arch"))
	entries := make([]label, len(sections))
	for i, s := range sections {
		entries[i] = g.a.newLabel()
		g.a.branch(opJEQ, s.audit, entries[i], noLabel, note(sectionName(s)))
	}
	g.a.ret(badArchAction, comment{actionString(badArchAction), " (architecture not in filter)"})
	for i, s := range sections {
		g.a.bind(entries[i])
		g.section(s)
	}
	return g.a.resolve()
}

func sectionName(s *section) string {
	names := make([]string, len(s.arches))
	for i, ap := range s.arches {
		names[i] = string(ap.arch.name)
	}
	return strings.Join(names, "+")
}

// segment is a run of syscall numbers, from start up to the next
// segment's start, that all go to target.
type segment struct {
	start  uint32
	target label
	note   comment
}

func (g *codegen) retLabel(action uint32) label {
	for i, a := range g.retOrder { // a handful: faster than a map
		if a == action {
			return g.retLabels[i]
		}
	}
	l := g.a.newLabel()
	g.retOrder = append(g.retOrder, action)
	g.retLabels = append(g.retLabels, l)
	return l
}

// target is where the dispatch goes for c: straight to a return, or to a
// rule block that checks arguments.
func (g *codegen) target(c *callPlan) label {
	if c.ruleSet == 0 {
		return g.retLabel(c.fallback)
	}
	key := blockKey(c, g.ap.rules(c))
	if l, ok := g.blocks[key]; ok {
		return l
	}
	l := g.a.newLabel()
	g.blocks[key] = l
	g.todo = append(g.todo, c)
	g.todoLbl = append(g.todoLbl, l)
	g.todoArch = append(g.todoArch, g.ap)
	return l
}

// blockKey identifies a rule block by content, so that syscalls with the
// same rules share one block.
func blockKey(c *callPlan, rules []rule) string {
	var b strings.Builder
	b.WriteString(strconv.FormatUint(uint64(c.fallback), 16))
	for _, r := range rules {
		b.WriteString("|")
		b.WriteString(strconv.FormatUint(uint64(r.action), 16))
		for _, cd := range r.conds {
			b.WriteString(",")
			b.WriteString(strconv.FormatUint(uint64(cd.index), 10))
			b.WriteString(strconv.FormatUint(uint64(cd.op), 10))
			b.WriteString(":")
			b.WriteString(strconv.FormatUint(cd.value, 16))
			b.WriteString(":")
			b.WriteString(strconv.FormatUint(cd.value2, 16))
		}
	}
	return b.String()
}

// section emits: load nr; a binary search over number ranges whose leaves
// are returns or rule blocks; the rule blocks; the returns.
func (g *codegen) section(s *section) {
	g.retOrder, g.retLabels = g.retOrder[:0], g.retLabels[:0]
	g.blocks = make(map[string]label)
	g.todo, g.todoLbl, g.todoArch = g.todo[:0], g.todoLbl[:0], g.todoArch[:0]
	g.arch = s.arches[0].arch // every arch of a section has the same argument layout

	segs := g.segments(s)
	if len(segs) == 1 && len(g.todo) == 0 {
		// One action for every number: no need to look at it.
		g.a.bind(segs[0].target)
		g.a.ret(g.retOrder[0], note(actionString(g.retOrder[0])))
		return
	}
	g.a.load(offNr, note("nr"))
	if entry := g.tree(segs); len(segs) == 1 {
		g.a.jump(entry)
	}
	for i, c := range g.todo {
		g.a.bind(g.todoLbl[i])
		g.rules(c, g.todoArch[i].rules(c))
	}
	for i, act := range g.retOrder {
		g.a.bind(g.retLabels[i])
		g.a.ret(act, note(actionString(act)))
	}
}

// segments partitions the 32-bit syscall number space of section s.
// Numbers no arch of the section owns (x32's range when only x86_64 is
// listed) go to badArchAction; unlisted numbers go to the default action.
func (g *codegen) segments(s *section) []segment {
	segs := make([]segment, 0, 128)
	add := func(start uint64, t label, note comment) {
		if n := len(segs); n > 0 && segs[n-1].target == t {
			return
		}
		segs = append(segs, segment{start: uint32(start), target: t, note: note})
	}
	outside := comment{"outside ", sectionName(s)}
	cursor := uint64(0)
	for _, ap := range s.arches {
		a := ap.arch
		g.ap = ap
		if cursor < uint64(a.nrMin) {
			add(cursor, g.retLabel(badArchAction), outside)
			cursor = uint64(a.nrMin)
		}
		gap := comment{string(a.name), " start"}
		numbers := colNumbers[a.column]
		for i := range ap.calls {
			c := &ap.calls[i]
			if !c.used() {
				continue
			}
			nr := numbers[i]
			if cursor < uint64(nr) {
				add(cursor, g.retLabel(g.p.defaultAction), gap)
			}
			var name comment
			if g.a.annotate {
				name = note(c.name())
				gap = comment{"after ", name.text}
			}
			add(uint64(nr), g.target(c), name)
			cursor = uint64(nr) + 1
		}
		if cursor <= uint64(a.nrMax) {
			add(cursor, g.retLabel(g.p.defaultAction), gap)
			cursor = uint64(a.nrMax) + 1
		}
	}
	if cursor <= maxNr {
		add(cursor, g.retLabel(badArchAction), outside)
	}
	return segs
}

// tree emits a balanced binary search over segs ("A >= start?") and
// returns the label to enter it at; for a single segment no code is
// needed and its target is returned.
func (g *codegen) tree(segs []segment) label {
	if len(segs) == 1 {
		return segs[0].target
	}
	mid := len(segs) / 2
	here := g.a.newLabel()
	g.a.bind(here)
	i := g.a.emit(insn{code: opJGE, k: segs[mid].start}, segs[mid].note)
	jf := g.tree(segs[:mid])
	jt := g.tree(segs[mid:])
	g.a.insns[i].jt, g.a.insns[i].jf = jt, jf
	return here
}

// rules emits the rule block of c: each rule's comparisons in turn, a
// failed comparison skipping to the next rule, then the fallback.
func (g *codegen) rules(c *callPlan, rules []rule) {
	for _, r := range rules {
		fail := g.a.newLabel()
		for i, cd := range r.conds {
			var pass label
			last := i == len(r.conds)-1
			if last {
				pass = g.retLabel(r.action)
			} else {
				pass = g.a.newLabel()
			}
			g.cond(cd, pass, fail)
			if !last {
				g.a.bind(pass)
			}
		}
		g.a.bind(fail)
	}
	var fallback comment
	if g.a.annotate {
		fallback = comment{actionString(c.fallback), " (" + c.name() + " fallback)"}
	}
	g.a.ret(c.fallback, fallback)
}

// argComments names the halves of each argument for the disassembly.
var argComments = [maxArgs][2]comment{
	{note("args[0] low"), note("args[0] high")}, {note("args[1] low"), note("args[1] high")},
	{note("args[2] low"), note("args[2] high")}, {note("args[3] low"), note("args[3] high")},
	{note("args[4] low"), note("args[4] high")}, {note("args[5] low"), note("args[5] high")},
}

var opNames = [...]string{opEQ: "==", opNE: "!=", opLT: "<", opLE: "<=", opGE: ">=", opGT: ">", opMaskedEQ: "&"}

// cond emits one comparison of a 64-bit argument, or of its low half on a
// 32-bit arch (as libseccomp does). A 64-bit comparison is decided by the
// high halves unless they are equal, then by the low halves.
func (g *codegen) cond(c argCond, pass, fail label) {
	lo, hi := offArgs+8*uint32(c.index), offArgs+8*uint32(c.index)+4
	if g.arch.bigEndian {
		lo, hi = hi, lo
	}
	vlo, vhi := uint32(c.value), uint32(c.value>>32)
	note := argComments[c.index]
	a := &g.a
	if !g.arch.bits64 {
		g.cond32(c.op, lo, vlo, uint32(c.value2), pass, fail, note[0])
		return
	}
	switch c.op {
	case opEQ:
		a.load(hi, note[1])
		a.branch(opJEQ, vhi, noLabel, fail, comment{})
		a.load(lo, note[0])
		a.branch(opJEQ, vlo, pass, fail, comment{})
	case opNE:
		a.load(hi, note[1])
		a.branch(opJEQ, vhi, noLabel, pass, comment{})
		a.load(lo, note[0])
		a.branch(opJEQ, vlo, fail, pass, comment{})
	case opGT, opGE:
		a.load(hi, note[1])
		a.branch(opJGT, vhi, pass, noLabel, comment{})
		a.branch(opJEQ, vhi, noLabel, fail, comment{})
		a.load(lo, note[0])
		code := uint16(opJGT)
		if c.op == opGE {
			code = opJGE
		}
		a.branch(code, vlo, pass, fail, comment{})
	case opLT, opLE:
		a.load(hi, note[1])
		a.branch(opJGT, vhi, fail, noLabel, comment{})
		a.branch(opJEQ, vhi, noLabel, pass, comment{})
		a.load(lo, note[0])
		code := uint16(opJGE) // lo < v  <=>  !(lo >= v)
		if c.op == opLE {
			code = opJGT // lo <= v  <=>  !(lo > v)
		}
		a.branch(code, vlo, fail, pass, comment{})
	case opMaskedEQ:
		mlo, mhi := vlo, vhi
		dlo, dhi := uint32(c.value2), uint32(c.value2>>32)
		switch {
		case mhi == 0 && dhi != 0:
			a.jump(fail) // the high half can never match
			return
		case mhi != 0:
			a.load(hi, note[1])
			if mhi != 0xffffffff {
				a.and(mhi)
			}
			a.branch(opJEQ, dhi, noLabel, fail, comment{})
		}
		g.maskedLow(lo, mlo, dlo, pass, fail, note[0])
	}
}

func (g *codegen) maskedLow(off, mask, datum uint32, pass, fail label, c comment) {
	a := &g.a
	if mask == 0 {
		if datum == 0 {
			a.jump(pass)
		} else {
			a.jump(fail)
		}
		return
	}
	a.load(off, c)
	if mask != 0xffffffff {
		a.and(mask)
	}
	a.branch(opJEQ, datum, pass, fail, comment{})
}

func (g *codegen) cond32(op cmpOp, off, v, v2 uint32, pass, fail label, c comment) {
	a := &g.a
	if op == opMaskedEQ {
		g.maskedLow(off, v, v2, pass, fail, c)
		return
	}
	a.load(off, c)
	switch op {
	case opEQ:
		a.branch(opJEQ, v, pass, fail, comment{})
	case opNE:
		a.branch(opJEQ, v, fail, pass, comment{})
	case opGT:
		a.branch(opJGT, v, pass, fail, comment{})
	case opGE:
		a.branch(opJGE, v, pass, fail, comment{})
	case opLT:
		a.branch(opJGE, v, fail, pass, comment{})
	case opLE:
		a.branch(opJGT, v, fail, pass, comment{})
	}
}
