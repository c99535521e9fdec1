package cgroup

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The v1 writers: each takes the controller's directory in its own hierarchy.

// setMemoryV1 writes the memory controller's files. The kernel keeps
// memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every instant, so when both
// change the order depends on the direction: raising writes memsw first, lowering writes
// the limit first.
func setMemoryV1(dir string, mem *specs.LinuxMemory) error {
	if err := checkUsage(mem, dir, "memory.usage_in_bytes"); err != nil {
		return err
	}
	limit, swap := mem.Limit, mem.Swap
	if swap != nil && *swap == 0 {
		swap = nil // 0 means "not set"
	}
	if limit != nil && *limit == -1 && swap == nil {
		unlimited := int64(-1)
		swap = &unlimited // memsw must not stay below an unlimited memory limit
	}
	if swap != nil && !exists(dir, "memory.memsw.limit_in_bytes") {
		// No swap accounting (swapaccount=0): "unlimited" and "no swap beyond memory"
		// are harmless to drop; a real swap limit is not.
		if *swap != -1 && (limit == nil || *swap != *limit) {
			return fmt.Errorf("cgroup: memory swap limit %d: kernel has no memory.memsw.limit_in_bytes (swap accounting off): %w", *swap, ErrNotSupported)
		}
		swap = nil
	}
	writeLimit := func() error {
		if limit == nil {
			return nil
		}
		return writeFile(dir, "memory.limit_in_bytes", itoa(*limit))
	}
	writeSwap := func() error {
		if swap == nil {
			return nil
		}
		return writeFile(dir, "memory.memsw.limit_in_bytes", itoa(*swap))
	}
	first, second := writeLimit, writeSwap
	if limit != nil && swap != nil {
		cur, err := readUint(dir, "memory.limit_in_bytes")
		if err != nil {
			return err
		}
		if *limit == -1 || uint64(*limit) > cur {
			first, second = writeSwap, writeLimit
		}
	}
	if err := first(); err != nil {
		return err
	}
	if err := second(); err != nil {
		return err
	}
	if mem.Reservation != nil {
		if err := writeFile(dir, "memory.soft_limit_in_bytes", itoa(*mem.Reservation)); err != nil {
			return err
		}
	}
	// Kernel memory limits are gone from new kernels; skip them where the file or the
	// feature is missing.
	for _, k := range []struct {
		file string
		v    *int64
	}{{"memory.kmem.limit_in_bytes", mem.Kernel}, {"memory.kmem.tcp.limit_in_bytes", mem.KernelTCP}} {
		if k.v == nil || !exists(dir, k.file) {
			continue
		}
		if err := writeFile(dir, k.file, itoa(*k.v)); err != nil && !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOTSUP) {
			return err
		}
	}
	if mem.Swappiness != nil {
		if err := writeFile(dir, "memory.swappiness", utoa(*mem.Swappiness)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil {
		v := "0"
		if *mem.DisableOOMKiller {
			v = "1"
		}
		if err := writeFile(dir, "memory.oom_control", v); err != nil {
			return err
		}
	}
	return nil
}

// setCPUV1 writes cpu.shares, the CFS bandwidth (period, quota, burst), the realtime
// budget and cpu.idle; 0 for shares, quota and period means "not set", as in runc.
func setCPUV1(dir string, cpu *specs.LinuxCPU) error {
	if cpu.Shares != nil && *cpu.Shares != 0 {
		if err := writeFile(dir, "cpu.shares", utoa(*cpu.Shares)); err != nil {
			return err
		}
	}
	quotaDone := false
	writeQuota := func() error {
		quotaDone = true
		return writeFile(dir, "cpu.cfs_quota_us", itoa(*cpu.Quota))
	}
	hasQuota := cpu.Quota != nil && *cpu.Quota != 0
	if cpu.Period != nil && *cpu.Period != 0 {
		err := writeFile(dir, "cpu.cfs_period_us", utoa(*cpu.Period))
		if err != nil {
			// A new period can make the old quota exceed the parent's bandwidth; with
			// the new quota in place first it may fit.
			if !hasQuota || !errors.Is(err, unix.EINVAL) {
				return err
			}
			if qerr := writeQuota(); qerr != nil {
				return qerr
			}
			if err := writeFile(dir, "cpu.cfs_period_us", utoa(*cpu.Period)); err != nil {
				return err
			}
		}
	}
	if hasQuota && !quotaDone {
		if err := writeQuota(); err != nil {
			return err
		}
	}
	if cpu.Burst != nil {
		if err := writeFile(dir, "cpu.cfs_burst_us", utoa(*cpu.Burst)); err != nil {
			return err
		}
	}
	if cpu.RealtimePeriod != nil && *cpu.RealtimePeriod != 0 {
		if err := writeFile(dir, "cpu.rt_period_us", utoa(*cpu.RealtimePeriod)); err != nil {
			return err
		}
	}
	if cpu.RealtimeRuntime != nil && *cpu.RealtimeRuntime != 0 {
		if err := writeFile(dir, "cpu.rt_runtime_us", itoa(*cpu.RealtimeRuntime)); err != nil {
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

// setBlkioV1 writes weights (blkio.weight, or blkio.bfq.weight on kernels where BFQ took
// over) and the throttle files, one "major:minor value" line per device.
func setBlkioV1(dir string, b *specs.LinuxBlockIO) error {
	weightFile, weightDevFile := "blkio.weight", "blkio.weight_device"
	if !exists(dir, weightFile) && exists(dir, "blkio.bfq.weight") {
		weightFile, weightDevFile = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	write := func(file, v string) error {
		if !exists(dir, file) {
			return fmt.Errorf("cgroup: block io %q: no %s in %s: %w", v, file, dir, ErrNotSupported)
		}
		return writeFile(dir, file, v)
	}
	if b.Weight != nil && *b.Weight != 0 {
		if err := write(weightFile, utoa(uint64(*b.Weight))); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := write("blkio.leaf_weight", utoa(uint64(*b.LeafWeight))); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			if err := write(weightDevFile, fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.Weight)); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			if err := write("blkio.leaf_weight_device", fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.LeafWeight)); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.devs {
			if err := write(t.file, fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setDevicesV1 replays the rules as the v1 kernel understands them: deny everything,
// then each rule in order to devices.allow or devices.deny. While it runs (an update of
// a running container) the container is briefly denied every device.
func setDevicesV1(dir string, rules []specs.LinuxDeviceCgroup) error {
	lines := make([]string, len(rules))
	for i, r := range rules {
		l, err := deviceRuleLine(r)
		if err != nil {
			return err
		}
		lines[i] = l
	}
	if err := writeFile(dir, "devices.deny", "a"); err != nil {
		return err
	}
	for i, r := range rules {
		file := "devices.deny"
		if r.Allow {
			file = "devices.allow"
		}
		if err := writeFile(dir, file, lines[i]); err != nil {
			return err
		}
	}
	return nil
}
