package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The cgroup2 writers: each takes the container's cgroup2 directory.

// setMemoryV2 writes memory.swap.max, memory.max and memory.low. The spec's swap counts
// memory plus swap (v1's meaning), cgroup2's swap.max only swap, hence swap - limit.
// Swappiness, kernel memory and disableOOMKiller have no cgroup2 file and are ignored.
func setMemoryV2(dir string, mem *specs.LinuxMemory) error {
	if err := checkUsage(mem, dir, "memory.current"); err != nil {
		return err
	}
	swapMax, err := v2SwapMax(dir, mem)
	if err != nil {
		return err
	}
	if swapMax != "" {
		if err := writeFile(dir, "memory.swap.max", swapMax); err != nil {
			// Without swap accounting, "unlimited" and "none" are harmless to drop.
			if !errors.Is(err, fs.ErrNotExist) || swapMax != "max" && swapMax != "0" {
				return err
			}
		}
	}
	if mem.Limit != nil {
		if err := writeFile(dir, "memory.max", maxOr(*mem.Limit)); err != nil {
			return err
		}
	}
	if mem.Reservation != nil {
		if err := writeFile(dir, "memory.low", maxOr(*mem.Reservation)); err != nil {
			return err
		}
	}
	return nil
}

// v2SwapMax converts the spec's memory+swap total to memory.swap.max ("" = leave alone).
func v2SwapMax(dir string, mem *specs.LinuxMemory) (string, error) {
	swap := int64(0)
	if mem.Swap != nil {
		swap = *mem.Swap
	}
	switch {
	case swap == 0 && mem.Limit != nil && *mem.Limit == -1:
		return "max", nil
	case swap == 0:
		return "", nil
	case swap == -1:
		return "max", nil
	}
	limit := int64(-1)
	if mem.Limit != nil {
		limit = *mem.Limit
	} else if cur, err := readString(dir, "memory.max"); err == nil && cur != "max" {
		// An update of swap alone: measure it against the limit in force.
		if _, err := fmt.Sscan(cur, &limit); err != nil {
			return "", fmt.Errorf("cgroup: %s/memory.max: unexpected value %q", dir, cur)
		}
	}
	if limit == -1 {
		return "", fmt.Errorf("cgroup: invalid memory swap %d: a swap limit needs a memory limit", swap)
	}
	if swap < limit {
		return "", fmt.Errorf("cgroup: invalid memory swap %d: must be >= memory limit %d", swap, limit)
	}
	return itoa(swap - limit), nil
}

// sharesToWeight maps cpu.shares (2..262144, default 1024) onto cpu.weight (1..10000,
// default 100) with the formula runc and crun use.
func sharesToWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

// setCPUV2 writes cpu.weight, cpu.max ("quota period"), cpu.max.burst and cpu.idle.
// cgroup2 has no realtime budget, so a non-zero one is refused.
func setCPUV2(dir string, cpu *specs.LinuxCPU) error {
	if cpu.RealtimeRuntime != nil && *cpu.RealtimeRuntime != 0 || cpu.RealtimePeriod != nil && *cpu.RealtimePeriod != 0 {
		return fmt.Errorf("cgroup: realtime cpu limits on cgroup v2: %w", ErrNotSupported)
	}
	if cpu.Shares != nil && *cpu.Shares != 0 {
		if err := writeFile(dir, "cpu.weight", utoa(sharesToWeight(*cpu.Shares))); err != nil {
			return err
		}
	}
	hasQuota := cpu.Quota != nil && *cpu.Quota != 0
	hasPeriod := cpu.Period != nil && *cpu.Period != 0
	if hasQuota || hasPeriod {
		var v string
		switch {
		case hasQuota && hasPeriod:
			v = quotaString(*cpu.Quota) + " " + utoa(*cpu.Period)
		case hasQuota:
			v = quotaString(*cpu.Quota) // the kernel keeps the period
		default:
			// A period alone must keep the quota in force: the file takes both or the quota alone.
			cur, err := readString(dir, "cpu.max")
			if err != nil {
				return err
			}
			v = strings.Fields(cur + " max")[0] + " " + utoa(*cpu.Period)
		}
		if err := writeFile(dir, "cpu.max", v); err != nil {
			return err
		}
	}
	if cpu.Burst != nil {
		if err := writeFile(dir, "cpu.max.burst", utoa(*cpu.Burst)); err != nil {
			return err
		}
	}
	if cpu.Idle != nil {
		if err := writeFile(dir, "cpu.idle", itoa(*cpu.Idle)); err != nil {
			return err
		}
	}
	return nil
}

func quotaString(q int64) string {
	if q < 0 {
		return "max"
	}
	return itoa(q)
}

// blkioToIOWeight maps a blkio weight (10..1000) onto io.weight (1..10000).
func blkioToIOWeight(w uint16) uint64 {
	return 1 + (uint64(max(w, 10))-10)*9999/990
}

// setIOV2 writes io.weight ("default N" and "major:minor N"; io.bfq.weight takes the
// blkio scale unconverted when BFQ is the scheduler) and io.max lines
// "major:minor rbps=N" (0 = "max", no limit). Leaf weights do not exist on cgroup2.
func setIOV2(dir string, b *specs.LinuxBlockIO) error {
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		return fmt.Errorf("cgroup: block io leaf weight on cgroup v2: %w", ErrNotSupported)
	}
	bfq := exists(dir, "io.bfq.weight")
	weight := func(w uint16) string {
		if bfq {
			return utoa(uint64(w))
		}
		return utoa(blkioToIOWeight(w))
	}
	weightFile := "io.weight"
	if bfq {
		weightFile = "io.bfq.weight"
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := writeFile(dir, weightFile, "default "+weight(*b.Weight)); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.LeafWeight != nil && *wd.LeafWeight != 0 {
			return fmt.Errorf("cgroup: block io leaf weight on cgroup v2: %w", ErrNotSupported)
		}
		if wd.Weight != nil {
			if err := writeFile(dir, weightFile, fmt.Sprintf("%d:%d %s", wd.Major, wd.Minor, weight(*wd.Weight))); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice},
		{"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice},
		{"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			rate := "max"
			if d.Rate != 0 {
				rate = utoa(d.Rate)
			}
			if err := writeFile(dir, "io.max", fmt.Sprintf("%d:%d %s=%s", d.Major, d.Minor, t.key, rate)); err != nil {
				return err
			}
		}
	}
	return nil
}
