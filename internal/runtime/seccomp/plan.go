package seccomp

import (
	"errors"
	"fmt"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Return values of a seccomp filter (SECCOMP_RET_* in linux/seccomp.h).
// The low 16 bits (SECCOMP_RET_DATA) carry the errno of ERRNO and the
// message of TRACE.
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retUserNotif   = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000

	retActionMask = 0xffff0000
	retDataMask   = 0x0000ffff
)

// badArchAction is returned for a syscall made under an architecture the
// filter does not list. It is libseccomp's default (SCMP_ACT_KILL, which
// kills the calling thread), which runc and crun keep.
const badArchAction = retKillThread

// epermErrno is the errno an ERRNO or TRACE action carries when the spec
// gives no errnoRet, as runc does.
const epermErrno = 1

// maxArgs is the number of syscall arguments in seccomp_data.
const maxArgs = 6

// cmpOp is an argument comparison.
type cmpOp uint8

const (
	opEQ cmpOp = iota
	opNE
	opLT
	opLE
	opGE
	opGT
	opMaskedEQ
)

// argCond is one argument comparison: args[index] <op> value, or for
// opMaskedEQ: args[index] & value == value2.
type argCond struct {
	index  uint
	op     cmpOp
	value  uint64
	value2 uint64
}

// rule is a conjunction of argument comparisons and the action taken when
// all of them hold.
type rule struct {
	conds  []argCond
	action uint32
}

// callPlan is what one syscall number of one architecture does: the first
// of rules whose comparisons all hold decides; if none does, fallback.
// It is kept small: there is one per syscall of each architecture.
type callPlan struct {
	fallback uint32
	ruleSet  int32  // index+1 of its rules in archPlan.ruleSets; 0: none
	row      uint16 // syscallTable row+1 of the name that first named it; 0: unused
	uncond   bool   // an unconditional rule gave fallback its value
}

func (c *callPlan) used() bool   { return c.row != 0 }
func (c *callPlan) name() string { return syscallTable[c.row-1].name }

// archPlan is the part of a filter for one architecture. calls is indexed
// by rank in colNumbers[arch.column], so it is in syscall number order.
type archPlan struct {
	arch     *archInfo
	calls    []callPlan
	ruleSets [][]rule
}

// rules returns the conditional rules of c, in precedence order.
func (ap *archPlan) rules(c *callPlan) []rule {
	if c.ruleSet == 0 {
		return nil
	}
	return ap.ruleSets[c.ruleSet-1]
}

// plan is a checked seccomp configuration, ready for code generation.
type plan struct {
	defaultAction uint32
	flags         uint
	notify        bool
	arches        []*archPlan // native first
}

// parseAction turns a runtime-spec action and optional errnoRet into the
// filter's return value.
func parseAction(a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(epermErrno)
	if errnoRet != nil {
		if *errnoRet > retDataMask {
			return 0, fmt.Errorf("errnoRet %d out of range (0-%d)", *errnoRet, retDataMask)
		}
		data = uint32(*errnoRet)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActErrno:
		return retErrno | data, nil
	case specs.ActTrace:
		return retTrace | data, nil
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return retUserNotif, nil
	}
	return 0, fmt.Errorf("unknown action %q", string(a))
}

// actionString renders a return value in runtime-spec spelling.
func actionString(ret uint32) string {
	data := strconv.FormatUint(uint64(ret&retDataMask), 10)
	switch ret & retActionMask {
	case retKillProcess:
		return "SCMP_ACT_KILL_PROCESS"
	case retKillThread:
		return "SCMP_ACT_KILL_THREAD"
	case retTrap:
		return "SCMP_ACT_TRAP"
	case retErrno:
		return "SCMP_ACT_ERRNO(" + data + ")"
	case retTrace:
		return "SCMP_ACT_TRACE(" + data + ")"
	case retAllow:
		return "SCMP_ACT_ALLOW"
	case retLog:
		return "SCMP_ACT_LOG"
	case retUserNotif:
		return "SCMP_ACT_NOTIFY"
	}
	return "0x" + strconv.FormatUint(uint64(ret), 16)
}

func parseOp(o specs.LinuxSeccompOperator) (cmpOp, error) {
	switch o {
	case specs.OpEqualTo:
		return opEQ, nil
	case specs.OpNotEqual:
		return opNE, nil
	case specs.OpLessThan:
		return opLT, nil
	case specs.OpLessEqual:
		return opLE, nil
	case specs.OpGreaterEqual:
		return opGE, nil
	case specs.OpGreaterThan:
		return opGT, nil
	case specs.OpMaskedEqual:
		return opMaskedEQ, nil
	}
	return 0, fmt.Errorf("unknown operator %q", string(o))
}

// newPlan checks cfg and resolves it against the syscall tables of the
// architectures it names plus native.
//
// Precedence, for one syscall on one architecture:
//
//  1. rules with argument conditions, in profile order: the first whose
//     conditions all hold decides;
//  2. otherwise the rule without conditions, if any;
//  3. otherwise defaultAction.
//
// So a specific rule ("socket(AF_VSOCK) -> ERRNO") overrides a general one
// ("socket -> ALLOW") wherever each appears in the profile. Two rules
// without conditions that disagree are an error, as they are in libseccomp.
// Within one entry the conditions are ANDed, except that an entry naming
// the same argument twice is split into one rule per condition (ORed), as
// runc does because libseccomp allows one comparison per argument.
func newPlan(cfg *specs.LinuxSeccomp, native specs.Arch) (*plan, error) {
	if cfg == nil {
		return nil, errors.New("seccomp: no configuration")
	}
	p := &plan{}
	var err error
	if p.defaultAction, err = parseAction(cfg.DefaultAction, cfg.DefaultErrnoRet); err != nil {
		return nil, fmt.Errorf("seccomp: defaultAction: %w", err)
	}
	p.notify = p.defaultAction == retUserNotif

	for _, f := range cfg.Flags {
		bit, ok := uint(0), false
		for _, k := range knownFlags {
			if k.name == f {
				bit, ok = k.bit, true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("seccomp: unknown flag %q", string(f))
		}
		p.flags |= bit
	}

	if err := p.addArch(native, true); err != nil {
		return nil, err
	}
	for _, a := range cfg.Architectures {
		if err := p.addArch(a, false); err != nil {
			return nil, err
		}
	}

	for i := range cfg.Syscalls {
		if err := p.addSyscalls(i, &cfg.Syscalls[i]); err != nil {
			return nil, err
		}
	}

	for _, ap := range p.arches {
		for i := range ap.calls {
			c := &ap.calls[i]
			if c.ruleSet != 0 {
				// Trailing rules that end in the fallback change nothing.
				rs := ap.ruleSets[c.ruleSet-1]
				for len(rs) > 0 && rs[len(rs)-1].action == c.fallback {
					rs = rs[:len(rs)-1]
				}
				ap.ruleSets[c.ruleSet-1] = rs
				if len(rs) == 0 {
					c.ruleSet = 0
				}
			}
			if c.ruleSet == 0 && c.fallback == p.defaultAction {
				c.row = 0
			}
		}
	}

	if p.notify {
		p.flags |= flagNewListener
		if p.flags&flagTSYNC != 0 {
			// TSYNC and NEW_LISTENER both want the return value; with
			// TSYNC_ESRCH a failed sync is reported as ESRCH instead.
			p.flags |= flagTSYNCESRCH
		}
	} else {
		// The kernel accepts WAIT_KILLABLE_RECV only with a listener.
		p.flags &^= flagWaitKillableRecv
	}
	return p, nil
}

func (p *plan) addArch(name specs.Arch, native bool) error {
	a, ok := lookupArch(name)
	if !ok {
		if native {
			return fmt.Errorf("seccomp: no syscall table for the native architecture %q", string(name))
		}
		if isSpecArch(name) {
			return fmt.Errorf("seccomp: unsupported architecture %q", string(name))
		}
		return fmt.Errorf("seccomp: unknown architecture %q", string(name))
	}
	for _, have := range p.arches {
		if have.arch == a {
			return nil
		}
	}
	p.arches = append(p.arches, &archPlan{arch: a, calls: make([]callPlan, len(colNumbers[a.column]))})
	return nil
}

// addSyscalls adds the rules of cfg.Syscalls[i] to every architecture.
func (p *plan) addSyscalls(i int, sc *specs.LinuxSyscall) error {
	if len(sc.Names) == 0 {
		return fmt.Errorf("seccomp: syscalls[%d]: no syscall names", i)
	}
	action, err := parseAction(sc.Action, sc.ErrnoRet)
	if err != nil {
		return fmt.Errorf("seccomp: syscalls[%d] %q: %w", i, sc.Names[0], err)
	}
	if action == retUserNotif {
		p.notify = true
	}

	conds := make([]argCond, len(sc.Args))
	var seen [maxArgs]bool
	split := false
	for j, a := range sc.Args {
		if a.Index >= maxArgs {
			return fmt.Errorf("seccomp: syscalls[%d] %q: args[%d]: argument index %d out of range (0-%d)", i, sc.Names[0], j, a.Index, maxArgs-1)
		}
		op, err := parseOp(a.Op)
		if err != nil {
			return fmt.Errorf("seccomp: syscalls[%d] %q: args[%d]: %w", i, sc.Names[0], j, err)
		}
		conds[j] = argCond{index: a.Index, op: op, value: a.Value, value2: a.ValueTwo}
		split = split || seen[a.Index]
		seen[a.Index] = true
	}
	var rules []rule
	switch {
	case len(conds) == 0:
	case split:
		for j := range conds {
			rules = append(rules, rule{conds: conds[j : j+1 : j+1], action: action})
		}
	default:
		rules = []rule{{conds: conds, action: action}}
	}

	for _, name := range sc.Names {
		row := lookupRow(name)
		if row < 0 {
			return fmt.Errorf("seccomp: unknown syscall %q", name)
		}
		e := &syscallTable[row]
		for _, ap := range p.arches {
			rank := e.rank[ap.arch.column]
			if rank < 0 {
				continue // like libseccomp: a name this arch lacks is skipped there
			}
			c := &ap.calls[rank]
			if !c.used() {
				*c = callPlan{row: uint16(row + 1), fallback: p.defaultAction}
			}
			if len(rules) > 0 {
				if c.ruleSet == 0 {
					ap.ruleSets = append(ap.ruleSets, nil)
					c.ruleSet = int32(len(ap.ruleSets))
				}
				ap.ruleSets[c.ruleSet-1] = append(ap.ruleSets[c.ruleSet-1], rules...)
				continue
			}
			if c.uncond && c.fallback != action {
				return fmt.Errorf("seccomp: syscall %q has conflicting actions %s and %s", name, actionString(c.fallback), actionString(action))
			}
			c.fallback, c.uncond = action, true
		}
	}
	return nil
}
