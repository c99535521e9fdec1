package cgroup

import "math"

// v1Unlimited: v1 reports "no limit" as the largest page-aligned int64; anything this
// large is read as unlimited.
const v1Unlimited = 1 << 62

func limitOrZero(v uint64) uint64 {
	if v >= v1Unlimited || v == math.MaxUint64 {
		return 0
	}
	return v
}

// Stats reads the counters of every controller there is; a missing controller leaves
// its part zero, a missing counter (an older kernel) the field.
func (m *manager) Stats() (*Stats, error) {
	s := &Stats{}
	var err error
	if dir, ok := m.v1["memory"]; ok {
		err = memoryStatsV1(dir, &s.Memory)
	} else if m.hasV2("memory") {
		err = memoryStatsV2(m.unified, &s.Memory)
	}
	if err != nil {
		return nil, err
	}
	if err := m.cpuStats(&s.CPU); err != nil {
		return nil, err
	}
	pidsDir, ok := m.v1["pids"]
	if !ok && m.hasV2("pids") {
		pidsDir = m.unified
	}
	if pidsDir != "" {
		if s.Pids.Current, err = ignoreMissing(readUint(pidsDir, "pids.current")); err != nil {
			return nil, err
		}
		lim, err := ignoreMissing(readUint(pidsDir, "pids.max"))
		if err != nil {
			return nil, err
		}
		s.Pids.Limit = limitOrZero(lim)
	}
	if s.OOMKills, err = m.OOMKillCount(); err != nil {
		return nil, err
	}
	return s, nil
}

func memoryStatsV1(dir string, ms *MemoryStats) error {
	var err error
	if ms.Usage, err = ignoreMissing(readUint(dir, "memory.usage_in_bytes")); err != nil {
		return err
	}
	if ms.MaxUsage, err = ignoreMissing(readUint(dir, "memory.max_usage_in_bytes")); err != nil {
		return err
	}
	lim, err := ignoreMissing(readUint(dir, "memory.limit_in_bytes"))
	if err != nil {
		return err
	}
	ms.Limit = limitOrZero(lim)
	memsw, err := ignoreMissing(readUint(dir, "memory.memsw.usage_in_bytes"))
	if err != nil {
		return err
	}
	if memsw > ms.Usage {
		ms.SwapUsage = memsw - ms.Usage
	}
	ms.Stat, err = ignoreMissing(readKeyed(dir, "memory.stat"))
	return err
}

func memoryStatsV2(dir string, ms *MemoryStats) error {
	var err error
	if ms.Usage, err = ignoreMissing(readUint(dir, "memory.current")); err != nil {
		return err
	}
	if ms.MaxUsage, err = ignoreMissing(readUint(dir, "memory.peak")); err != nil {
		return err
	}
	lim, err := ignoreMissing(readUint(dir, "memory.max"))
	if err != nil {
		return err
	}
	ms.Limit = limitOrZero(lim)
	if ms.SwapUsage, err = ignoreMissing(readUint(dir, "memory.swap.current")); err != nil {
		return err
	}
	ms.Stat, err = ignoreMissing(readKeyed(dir, "memory.stat"))
	return err
}

// cpuStats reads usage from v1 cpuacct (or cgroup2's cpu.stat, which every cgroup2
// directory has) and throttling from the cpu controller.
func (m *manager) cpuStats(cs *CPUStats) error {
	if dir, ok := m.v1["cpuacct"]; ok {
		var err error
		if cs.UsageNS, err = ignoreMissing(readUint(dir, "cpuacct.usage")); err != nil {
			return err
		}
		if exists(dir, "cpuacct.usage_user") {
			if cs.UserNS, err = readUint(dir, "cpuacct.usage_user"); err != nil {
				return err
			}
			if cs.SystemNS, err = readUint(dir, "cpuacct.usage_sys"); err != nil {
				return err
			}
		} else {
			st, err := ignoreMissing(readKeyed(dir, "cpuacct.stat"))
			if err != nil {
				return err
			}
			const nsPerTick = 1e9 / 100 // USER_HZ is 100 on Linux
			cs.UserNS, cs.SystemNS = st["user"]*nsPerTick, st["system"]*nsPerTick
		}
	} else if m.unified != "" {
		st, err := ignoreMissing(readKeyed(m.unified, "cpu.stat"))
		if err != nil {
			return err
		}
		cs.UsageNS, cs.UserNS, cs.SystemNS = st["usage_usec"]*1000, st["user_usec"]*1000, st["system_usec"]*1000
	}
	if dir, ok := m.v1["cpu"]; ok {
		st, err := ignoreMissing(readKeyed(dir, "cpu.stat"))
		if err != nil {
			return err
		}
		cs.Periods, cs.ThrottledPeriods, cs.ThrottledNS = st["nr_periods"], st["nr_throttled"], st["throttled_time"]
	} else if m.hasV2("cpu") {
		st, err := ignoreMissing(readKeyed(m.unified, "cpu.stat"))
		if err != nil {
			return err
		}
		cs.Periods, cs.ThrottledPeriods, cs.ThrottledNS = st["nr_periods"], st["nr_throttled"], st["throttled_usec"]*1000
	}
	return nil
}

// OOMKillCount reads oom_kill from memory.oom_control (v1) or memory.events (v2); with
// no memory controller it is 0.
func (m *manager) OOMKillCount() (uint64, error) {
	if dir, ok := m.v1["memory"]; ok {
		st, err := ignoreMissing(readKeyed(dir, "memory.oom_control"))
		return st["oom_kill"], err
	}
	if m.hasV2("memory") {
		st, err := ignoreMissing(readKeyed(m.unified, "memory.events"))
		return st["oom_kill"], err
	}
	return 0, nil
}
