package oci

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resources: the cgroup limits of the container, from HostConfig.Resources.
//
//	-m 512m                 memory.limit 536870912
//	--memory-swap 1g        memory.swap (memory + swap) 1073741824; unset with
//	                        -m it is twice the memory; -1 leaves swap unlimited
//	--memory-reservation    memory.reservation (soft limit)
//	--oom-kill-disable      memory.disableOOMKiller
//	--cpus 1.5              cpu.quota 150000 per cpu.period 100000
//	--cpu-period/-quota     cpu.period / cpu.quota as given
//	--cpu-shares            cpu.shares
//	--cpuset-cpus/-mems     cpu.cpus / cpu.mems
//	--pids-limit 100        pids.limit 100; 0 or less is unlimited (-1)
//	--blkio-weight 500      blockIO.weight (10 to 1000), and the per-device
//	                        weight and throttle options, by the device's numbers

// cpuPeriod is the CFS period --cpus is expressed in: 100 ms.
const cpuPeriod = 100000

// resources sets the spec's cgroup limits (device rules are set by devices).
func (b *builder) resources(s *specs.Spec) error {
	r := b.hc.Resources
	res := s.Linux.Resources

	var mem specs.LinuxMemory
	if r.Memory > 0 {
		mem.Limit = ptr(r.Memory)
	}
	if r.MemoryReservation > 0 {
		mem.Reservation = ptr(r.MemoryReservation)
	}
	if r.MemorySwap > 0 {
		mem.Swap = ptr(r.MemorySwap)
	}
	if r.MemorySwappiness != nil {
		mem.Swappiness = ptr(uint64(*r.MemorySwappiness))
	}
	if r.OomKillDisable != nil {
		mem.DisableOOMKiller = ptr(*r.OomKillDisable)
	}
	if mem != (specs.LinuxMemory{}) {
		res.Memory = &mem
	}

	var cpu specs.LinuxCPU
	if r.CPUShares != 0 {
		if r.CPUShares < 0 {
			return invalid("invalid CPU shares (%d): value must be a positive integer", r.CPUShares)
		}
		cpu.Shares = ptr(uint64(r.CPUShares))
	}
	cpu.Cpus, cpu.Mems = r.CpusetCpus, r.CpusetMems
	if r.NanoCPUs > 0 {
		cpu.Period = ptr(uint64(cpuPeriod))
		cpu.Quota = ptr(r.NanoCPUs * cpuPeriod / 1e9)
	}
	if r.CPUPeriod != 0 {
		cpu.Period = ptr(uint64(r.CPUPeriod))
	}
	if r.CPUQuota != 0 {
		cpu.Quota = ptr(r.CPUQuota)
	}
	if r.CPURealtimePeriod != 0 {
		cpu.RealtimePeriod = ptr(uint64(r.CPURealtimePeriod))
	}
	if r.CPURealtimeRuntime != 0 {
		cpu.RealtimeRuntime = ptr(r.CPURealtimeRuntime)
	}
	if cpu != (specs.LinuxCPU{}) {
		res.CPU = &cpu
	}

	if r.PidsLimit != nil {
		limit := *r.PidsLimit
		if limit <= 0 {
			limit = -1
		}
		res.Pids = &specs.LinuxPids{Limit: limit}
	}

	blk, err := blockIO(r)
	if err != nil {
		return err
	}
	res.BlockIO = blk
	return nil
}

// blockIO returns the blkio limits, or nil when there are none.
func blockIO(r container.Resources) (*specs.LinuxBlockIO, error) {
	var blk specs.LinuxBlockIO
	if r.BlkioWeight != 0 {
		blk.Weight = ptr(r.BlkioWeight)
	}
	for _, d := range r.BlkioWeightDevice {
		if d == nil {
			continue
		}
		major, minor, err := deviceNumbers(d.Path)
		if err != nil {
			return nil, err
		}
		w := specs.LinuxWeightDevice{Weight: ptr(d.Weight)}
		w.Major, w.Minor = major, minor
		blk.WeightDevice = append(blk.WeightDevice, w)
	}
	for _, t := range []struct {
		from []*blkiodev.ThrottleDevice
		to   *[]specs.LinuxThrottleDevice
	}{
		{r.BlkioDeviceReadBps, &blk.ThrottleReadBpsDevice},
		{r.BlkioDeviceWriteBps, &blk.ThrottleWriteBpsDevice},
		{r.BlkioDeviceReadIOps, &blk.ThrottleReadIOPSDevice},
		{r.BlkioDeviceWriteIOps, &blk.ThrottleWriteIOPSDevice},
	} {
		for _, d := range t.from {
			if d == nil {
				continue
			}
			major, minor, err := deviceNumbers(d.Path)
			if err != nil {
				return nil, err
			}
			td := specs.LinuxThrottleDevice{Rate: d.Rate}
			td.Major, td.Minor = major, minor
			*t.to = append(*t.to, td)
		}
	}
	if blk.Weight == nil && blk.WeightDevice == nil && blk.ThrottleReadBpsDevice == nil &&
		blk.ThrottleWriteBpsDevice == nil && blk.ThrottleReadIOPSDevice == nil && blk.ThrottleWriteIOPSDevice == nil {
		return nil, nil
	}
	return &blk, nil
}

// cgroupsPath returns the container's cgroup: the override, or
// <parent>/<id>.
func (b *builder) cgroupsPath() string {
	if b.in.CgroupsPath != "" {
		return b.in.CgroupsPath
	}
	parent := b.hc.CgroupParent
	if parent == "" {
		parent = b.in.Defaults.CgroupParent
	}
	if parent == "" {
		parent = DefaultCgroupParent
	}
	return strings.TrimSuffix(parent, "/") + "/" + b.in.ID
}

// DefaultCgroupParent is the cgroup under which containers' cgroups are made
// when neither the container nor the daemon names one.
const DefaultCgroupParent = "/berth"

// parseCPUList reads a cpuset list such as "0-3,5" into its numbers.
func parseCPUList(s string) ([]int, error) {
	var out []int
	if s == "" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid format: %s", s)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
				return nil, fmt.Errorf("invalid format: %s", s)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, int(i))
		}
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
