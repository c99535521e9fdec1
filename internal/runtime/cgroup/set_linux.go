package cgroup

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Set routes each part of r to where its controller lives (see the package doc), in the
// order runc uses: cpuset first (so later cpu writes see the final cpus), unified last (so
// its raw values win).
func (m *manager) Set(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	for _, step := range []func(*specs.LinuxResources) error{
		m.setCpuset, m.setMemory, m.setCPU, m.setPids, m.setBlockIO,
		m.setHugetlb, m.setDevices, m.setNetwork, m.setRdma, m.setUnified,
	} {
		if err := step(r); err != nil {
			return err
		}
	}
	return nil
}

// unavailable is the error for a limit whose controller this machine does not offer.
func unavailable(what, controller string) error {
	return fmt.Errorf("cgroup: %s: the %s controller is not available: %w", what, controller, ErrNotSupported)
}

func (m *manager) setCpuset(r *specs.LinuxResources) error {
	if r.CPU == nil || r.CPU.Cpus == "" && r.CPU.Mems == "" {
		return nil
	}
	dir, ok := m.v1["cpuset"]
	if !ok {
		if !m.hasV2("cpuset") {
			return unavailable("cpus/mems", "cpuset")
		}
		dir = m.unified
	}
	if r.CPU.Cpus != "" {
		if err := writeFile(dir, "cpuset.cpus", r.CPU.Cpus); err != nil {
			return err
		}
	}
	if r.CPU.Mems != "" {
		if err := writeFile(dir, "cpuset.mems", r.CPU.Mems); err != nil {
			return err
		}
	}
	return nil
}

func (m *manager) setMemory(r *specs.LinuxResources) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	if err := validateMemory(mem); err != nil {
		return err
	}
	if dir, ok := m.v1["memory"]; ok {
		return setMemoryV1(dir, mem)
	}
	if m.hasV2("memory") {
		return setMemoryV2(m.unified, mem)
	}
	if mem.Limit != nil || mem.Reservation != nil || mem.Swap != nil {
		return unavailable("memory limits", "memory")
	}
	return nil
}

// validateMemory refuses values no kernel would take, before anything is written.
func validateMemory(mem *specs.LinuxMemory) error {
	for _, f := range []struct {
		name string
		v    *int64
	}{{"limit", mem.Limit}, {"reservation", mem.Reservation}, {"swap", mem.Swap}, {"kernel", mem.Kernel}, {"kernelTCP", mem.KernelTCP}} {
		if f.v != nil && *f.v < -1 {
			return fmt.Errorf("cgroup: invalid memory %s %d: must be >= 0, or -1 for unlimited", f.name, *f.v)
		}
	}
	if mem.Limit != nil && mem.Swap != nil && *mem.Swap > 0 {
		if *mem.Limit == -1 {
			return fmt.Errorf("cgroup: invalid memory swap %d: a swap limit needs a memory limit", *mem.Swap)
		}
		if *mem.Swap < *mem.Limit {
			return fmt.Errorf("cgroup: invalid memory swap %d: must be >= memory limit %d", *mem.Swap, *mem.Limit)
		}
	}
	if mem.Swappiness != nil && *mem.Swappiness > 100 {
		return fmt.Errorf("cgroup: invalid memory swappiness %d: must be 0-100", *mem.Swappiness)
	}
	return nil
}

// checkUsage implements checkBeforeUpdate: refuse a limit below what is already used.
func checkUsage(mem *specs.LinuxMemory, dir, usageFile string) error {
	if mem.CheckBeforeUpdate == nil || !*mem.CheckBeforeUpdate || mem.Limit == nil || *mem.Limit == -1 {
		return nil
	}
	usage, err := readUint(dir, usageFile)
	if err != nil {
		return err
	}
	if uint64(*mem.Limit) < usage {
		return fmt.Errorf("cgroup: invalid memory limit %d: below current usage %d", *mem.Limit, usage)
	}
	return nil
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func utoa(v uint64) string { return strconv.FormatUint(v, 10) }

// maxOr renders v, or "max" for -1 (cgroup2's word for unlimited).
func maxOr(v int64) string {
	if v == -1 {
		return "max"
	}
	return itoa(v)
}

func (m *manager) setCPU(r *specs.LinuxResources) error {
	cpu := r.CPU
	if cpu == nil {
		return nil
	}
	if dir, ok := m.v1["cpu"]; ok {
		return setCPUV1(dir, cpu)
	}
	if m.hasV2("cpu") {
		return setCPUV2(m.unified, cpu)
	}
	if cpu.Shares != nil || cpu.Quota != nil || cpu.Period != nil || cpu.Burst != nil ||
		cpu.RealtimeRuntime != nil || cpu.RealtimePeriod != nil || cpu.Idle != nil {
		return unavailable("cpu limits", "cpu")
	}
	return nil
}

// setPids writes pids.max (same file on v1 and v2): a positive limit, "max" for a
// negative one; 0 leaves it alone, as runc does.
func (m *manager) setPids(r *specs.LinuxResources) error {
	if r.Pids == nil || r.Pids.Limit == 0 {
		return nil
	}
	dir, ok := m.v1["pids"]
	if !ok {
		if !m.hasV2("pids") {
			return unavailable("pids limit", "pids")
		}
		dir = m.unified
	}
	v := "max"
	if r.Pids.Limit > 0 {
		v = itoa(r.Pids.Limit)
	}
	return writeFile(dir, "pids.max", v)
}

func (m *manager) setBlockIO(r *specs.LinuxResources) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	if dir, ok := m.v1["blkio"]; ok {
		return setBlkioV1(dir, b)
	}
	if m.hasV2("io") {
		return setIOV2(m.unified, b)
	}
	if b.Weight != nil || b.LeafWeight != nil || len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 ||
		len(b.ThrottleWriteBpsDevice) > 0 || len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0 {
		return unavailable("block io limits", "blkio/io")
	}
	return nil
}

// setHugetlb writes hugetlb.<size>.limit_in_bytes (v1) or hugetlb.<size>.max (v2), and the
// reservation limit beside it when the kernel has one (rsvd), which is what the spec's
// limit means "if supported".
func (m *manager) setHugetlb(r *specs.LinuxResources) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	dir, ok := m.v1["hugetlb"]
	limitFile, rsvdFile := "limit_in_bytes", "rsvd.limit_in_bytes"
	if !ok {
		if !m.hasV2("hugetlb") {
			return unavailable("hugepage limits", "hugetlb")
		}
		dir, limitFile, rsvdFile = m.unified, "max", "rsvd.max"
	}
	for _, h := range r.HugepageLimits {
		if h.Pagesize == "" || strings.ContainsAny(h.Pagesize, "/.") {
			return fmt.Errorf("cgroup: invalid hugepage size %q", h.Pagesize)
		}
		name := "hugetlb." + h.Pagesize + "."
		if !exists(dir, name+limitFile) {
			return fmt.Errorf("cgroup: hugepage size %q: no %s in %s: %w", h.Pagesize, name+limitFile, dir, ErrNotSupported)
		}
		if err := writeFile(dir, name+limitFile, utoa(h.Limit)); err != nil {
			return err
		}
		if exists(dir, name+rsvdFile) {
			if err := writeFile(dir, name+rsvdFile, utoa(h.Limit)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *manager) setDevices(r *specs.LinuxResources) error {
	// nil means "leave the rules alone" (an update that does not mention devices); an
	// empty list means "deny everything".
	if r.Devices == nil {
		return nil
	}
	if dir, ok := m.v1["devices"]; ok {
		return setDevicesV1(dir, r.Devices)
	}
	if m.unified != "" {
		return setDevicesV2(m.unified, r.Devices)
	}
	return unavailable("device rules", "devices")
}

// setNetwork writes net_cls.classid and net_prio.ifpriomap, which exist on v1 only.
func (m *manager) setNetwork(r *specs.LinuxResources) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		dir, ok := m.v1["net_cls"]
		if !ok {
			return unavailable("network class id", "net_cls")
		}
		if err := writeFile(dir, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	if len(n.Priorities) > 0 {
		dir, ok := m.v1["net_prio"]
		if !ok {
			return unavailable("network priorities", "net_prio")
		}
		for _, p := range n.Priorities {
			if err := writeFile(dir, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setRdma writes rdma.max lines "dev hca_handle=N hca_object=M" (same on v1 and v2).
func (m *manager) setRdma(r *specs.LinuxResources) error {
	if len(r.Rdma) == 0 {
		return nil
	}
	dir, ok := m.v1["rdma"]
	if !ok {
		if !m.hasV2("rdma") {
			return unavailable("rdma limits", "rdma")
		}
		dir = m.unified
	}
	for _, dev := range sortedKeys(r.Rdma) {
		l := r.Rdma[dev]
		line := dev
		if l.HcaHandles != nil {
			line += fmt.Sprintf(" hca_handle=%d", *l.HcaHandles)
		}
		if l.HcaObjects != nil {
			line += fmt.Sprintf(" hca_object=%d", *l.HcaObjects)
		}
		if line == dev {
			continue
		}
		if err := writeFile(dir, "rdma.max", line); err != nil {
			return err
		}
	}
	return nil
}

// setUnified writes the spec's unified map as files of the cgroup2 directory. On a hybrid
// machine only files that exist there can be written; on pure v1 there is no such
// directory.
func (m *manager) setUnified(r *specs.LinuxResources) error {
	if len(r.Unified) == 0 {
		return nil
	}
	if m.unified == "" {
		return fmt.Errorf("cgroup: unified resources need cgroup v2, this machine has v1 only: %w", ErrNotSupported)
	}
	for _, k := range sortedKeys(r.Unified) {
		if k == "" || strings.Contains(k, "/") || strings.HasPrefix(k, ".") {
			return fmt.Errorf("cgroup: invalid unified key %q", k)
		}
		if !exists(m.unified, k) {
			return fmt.Errorf("cgroup: unified key %q: no such file in %s (is its controller enabled?): %w", k, m.unified, ErrNotSupported)
		}
		if err := writeFile(m.unified, k, r.Unified[k]); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](mp map[string]V) []string { return slices.Sorted(maps.Keys(mp)) }
