package runtime

import (
	"fmt"
	"strconv"
	"strings"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Process attributes of runtime-spec that are set just before execve, while the
// process may still hold the capabilities some of them need (CAP_SYS_NICE for real-time
// scheduling and I/O classes).

var schedPolicies = map[specs.LinuxSchedulerPolicy]uint32{
	specs.SchedOther: 0, specs.SchedFIFO: 1, specs.SchedRR: 2, specs.SchedBatch: 3,
	specs.SchedISO: 4, specs.SchedIdle: 5, specs.SchedDeadline: 6,
}

var schedFlags = map[specs.LinuxSchedulerFlag]uint64{
	specs.SchedFlagResetOnFork: 0x01, specs.SchedFlagReclaim: 0x02, specs.SchedFlagDLOverrun: 0x04,
	specs.SchedFlagKeepPolicy: 0x08, specs.SchedFlagKeepParams: 0x10,
	specs.SchedFlagUtilClampMin: 0x20, specs.SchedFlagUtilClampMax: 0x40,
}

var ioprioClasses = map[specs.IOPriorityClass]int{
	specs.IOPRIO_CLASS_RT: 1, specs.IOPRIO_CLASS_BE: 2, specs.IOPRIO_CLASS_IDLE: 3,
}

var personalities = map[specs.LinuxPersonalityDomain]uintptr{specs.PerLinux: 0x0000, specs.PerLinux32: 0x0008}

// schedAttr is the kernel's struct sched_attr (version 1, without utilization clamps).
type schedAttr struct {
	size     uint32
	policy   uint32
	flags    uint64
	nice     int32
	priority uint32
	runtime  uint64
	deadline uint64
	period   uint64
}

// checkProcessAttrs validates the attributes without applying them.
func checkProcessAttrs(p *specs.Process, pers *specs.LinuxPersonality) error {
	if s := p.Scheduler; s != nil {
		if _, ok := schedPolicies[s.Policy]; !ok {
			return fmt.Errorf("config.json: unknown scheduler policy %q", s.Policy)
		}
		for _, f := range s.Flags {
			if _, ok := schedFlags[f]; !ok {
				return fmt.Errorf("config.json: unknown scheduler flag %q", f)
			}
		}
		if s.Nice < -20 || s.Nice > 19 {
			return fmt.Errorf("config.json: scheduler nice %d out of range [-20, 19]", s.Nice)
		}
	}
	if io := p.IOPriority; io != nil {
		if _, ok := ioprioClasses[io.Class]; !ok {
			return fmt.Errorf("config.json: unknown ioPriority class %q", io.Class)
		}
		if io.Priority < 0 || io.Priority > 7 {
			return fmt.Errorf("config.json: ioPriority priority %d out of range [0, 7]", io.Priority)
		}
	}
	if a := p.ExecCPUAffinity; a != nil {
		for _, list := range []string{a.Initial, a.Final} {
			if _, err := parseCPUList(list); err != nil {
				return fmt.Errorf("config.json: execCPUAffinity: %w", err)
			}
		}
	}
	if pers != nil {
		if _, ok := personalities[pers.Domain]; !ok {
			return fmt.Errorf("config.json: unknown personality domain %q (want LINUX or LINUX32)", pers.Domain)
		}
		if len(pers.Flags) > 0 {
			return fmt.Errorf("config.json: unknown personality flag %q", pers.Flags[0])
		}
	}
	return nil
}

// applyProcessAttrs sets scheduling, I/O priority, final CPU affinity and personality
// on the calling thread, which then execs.
func applyProcessAttrs(p *specs.Process, pers *specs.LinuxPersonality) error {
	if s := p.Scheduler; s != nil {
		attr := schedAttr{
			size: uint32(unsafe.Sizeof(schedAttr{})), policy: schedPolicies[s.Policy], nice: s.Nice,
			priority: uint32(s.Priority), runtime: s.Runtime, deadline: s.Deadline, period: s.Period,
		}
		for _, f := range s.Flags {
			attr.flags |= schedFlags[f]
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SCHED_SETATTR, 0, uintptr(unsafe.Pointer(&attr)), 0); e != 0 {
			return fmt.Errorf("scheduler %s: %w", s.Policy, e)
		}
	}
	if io := p.IOPriority; io != nil {
		const whoProcess, classShift = 1, 13
		prio := ioprioClasses[io.Class]<<classShift | io.Priority
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, whoProcess, 0, uintptr(prio)); e != 0 {
			return fmt.Errorf("ioPriority %s %d: %w", io.Class, io.Priority, e)
		}
	}
	if a := p.ExecCPUAffinity; a != nil && a.Final != "" {
		if err := setAffinity(0, a.Final); err != nil {
			return err
		}
	}
	if pers != nil {
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, personalities[pers.Domain], 0, 0); e != 0 {
			return fmt.Errorf("personality %s: %w", pers.Domain, e)
		}
	}
	return nil
}

// setAffinity pins pid (0: the calling thread) to the CPUs in list.
func setAffinity(pid int, list string) error {
	set, err := parseCPUList(list)
	if err != nil {
		return err
	}
	if err := unix.SchedSetaffinity(pid, set); err != nil {
		return fmt.Errorf("cpu affinity %q: %w", list, err)
	}
	return nil
}

// parseCPUList parses "0-3,7" (empty means unset and parses to an empty set).
func parseCPUList(list string) (*unix.CPUSet, error) {
	var set unix.CPUSet
	if list == "" {
		return &set, nil
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= 1024 {
			return nil, fmt.Errorf("invalid cpu list %q", list)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return &set, nil
}
