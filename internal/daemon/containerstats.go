package daemon

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/oci"
)

// ContainerTop lists the container's processes as ps on the host shows them
// (ps_args, "-ef" by default), as docker top does.
func (d *Daemon) ContainerTop(ctx context.Context, name, psArgs string) (container.TopResponse, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return container.TopResponse{}, err
	}
	s := c.Snapshot()
	if !s.State.Running() || s.State.Status == ctr.Restarting {
		return container.TopResponse{}, cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", s.ID))
	}
	pids, err := d.run.rt.Pids(s.ID)
	if err != nil {
		return container.TopResponse{}, err
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	out, err := exec.CommandContext(ctx, "ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return container.TopResponse{}, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("ps: %v", err))
	}
	top, err := parsePS(string(out), pids)
	if err == nil {
		d.containerEvent(s, eventtypes.ActionTop, nil) // as Docker, which logs every top
	}
	return top, err
}

// parsePS keeps the rows of ps's output whose PID column is one of pids.
func parsePS(out string, pids []int) (container.TopResponse, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		return container.TopResponse{}, fmt.Errorf("ps printed nothing")
	}
	titles := strings.Fields(lines[0])
	col := slices.Index(titles, "PID")
	if col < 0 {
		return container.TopResponse{}, cerrdefs.ErrInvalidArgument.WithMessage(`Couldn't find PID field in ps output`)
	}
	r := container.TopResponse{Titles: titles, Processes: [][]string{}}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil || !slices.Contains(pids, pid) {
			continue
		}
		// The last column (the command) may hold spaces.
		if len(f) > len(titles) {
			f = append(f[:len(titles)-1], strings.Join(f[len(titles)-1:], " "))
		}
		r.Processes = append(r.Processes, f)
	}
	return r, nil
}

// ContainerStats sends samples of the container's resource use in docker
// stats' shape: once, or every second while opts.Stream.
func (d *Daemon) ContainerStats(ctx context.Context, name string, opts StatsOptions, send func(*container.StatsResponse) error) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	var prev *container.StatsResponse
	if !opts.OneShot {
		prev = d.sample(c)
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	first := true
	for {
		if first && !opts.OneShot && opts.Stream {
			// A stream's first sample already has a pre-sample a moment old.
		} else if !opts.OneShot {
			select {
			case <-ticker.C:
			case <-ctx.Done():
				return nil
			}
		}
		cur := d.sample(c)
		if prev != nil {
			cur.PreRead = prev.Read
			cur.PreCPUStats = prev.CPUStats
		}
		if err := send(cur); err != nil || !opts.Stream {
			return nil
		}
		prev, first = cur, false
		if _, err := d.containers.Get(c.ID); err != nil {
			return nil // removed
		}
	}
}

// sample reads the container's cgroup, its network counters and the host's
// CPU time once.
func (d *Daemon) sample(c *ctr.Container) *container.StatsResponse {
	s := c.Snapshot()
	r := &container.StatsResponse{Name: s.Name, ID: s.ID, Read: time.Now().UTC(), Networks: map[string]container.NetworkStats{}}
	if !s.State.Running() {
		return r
	}
	st, err := d.run.rt.Stats(s.ID)
	if err != nil {
		return r
	}
	r.CPUStats = container.CPUStats{
		CPUUsage: container.CPUUsage{
			TotalUsage: st.CPU.UsageNS, UsageInKernelmode: st.CPU.SystemNS, UsageInUsermode: st.CPU.UserNS,
		},
		SystemUsage: hostCPUTime(),
		OnlineCPUs:  uint32(goruntime.NumCPU()),
		ThrottlingData: container.ThrottlingData{
			Periods: st.CPU.Periods, ThrottledPeriods: st.CPU.ThrottledPeriods, ThrottledTime: st.CPU.ThrottledNS,
		},
	}
	limit := st.Memory.Limit
	if limit == 0 || limit > hostMemory() {
		limit = hostMemory()
	}
	r.MemoryStats = container.MemoryStats{Usage: st.Memory.Usage, MaxUsage: st.Memory.MaxUsage, Stats: st.Memory.Stat, Limit: limit}
	r.PidsStats = container.PidsStats{Current: st.Pids.Current, Limit: st.Pids.Limit}
	r.Networks = netStats(s.State.Pid)
	return r
}

// hostCPUTime is the host's total CPU time in nanoseconds (/proc/stat), the
// system_cpu_usage docker stats divides by.
func hostCPUTime() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "cpu" {
			continue
		}
		var ticks uint64
		for _, v := range fields[1:8] {
			n, _ := strconv.ParseUint(v, 10, 64)
			ticks += n
		}
		return ticks * (uint64(time.Second) / 100) // USER_HZ is 100 on Linux
	}
	return 0
}

// hostMemory is MemTotal in bytes.
func hostMemory() uint64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}

// netStats reads the counters of the network interfaces in the container's
// network namespace (through its init's /proc), loopback left out as Docker.
func netStats(pid int) map[string]container.NetworkStats {
	out := map[string]container.NetworkStats{}
	if pid <= 0 {
		return out
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(data), "\n")[2:] {
		name, rest, ok := strings.Cut(l, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 16 {
			continue
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
		out[name] = container.NetworkStats{
			RxBytes: n(0), RxPackets: n(1), RxErrors: n(2), RxDropped: n(3),
			TxBytes: n(8), TxPackets: n(9), TxErrors: n(10), TxDropped: n(11),
		}
	}
	return out
}

// ContainerUpdate changes a container's resource limits and restart policy;
// a running container gets the new limits at once.
func (d *Daemon) ContainerUpdate(ctx context.Context, name string, u container.UpdateConfig) (container.UpdateResponse, error) {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	defer unlock()
	s := c.Snapshot()
	hc := *s.HostConfig
	mergeResources(&hc.Resources, u.Resources)
	if u.RestartPolicy.Name != "" {
		hc.RestartPolicy = u.RestartPolicy
	}
	if hc.AutoRemove && hc.RestartPolicy.Name != "" && hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		return container.UpdateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage("Restart policy cannot be updated because AutoRemove is enabled for the container")
	}
	if err := validateHostConfig(&hc); err != nil {
		return container.UpdateResponse{}, err
	}
	if hc.Memory > 0 && hc.MemorySwap > 0 && hc.Memory > hc.MemorySwap {
		return container.UpdateResponse{}, cerrdefs.ErrInvalidArgument.WithMessage("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time")
	}
	warnings, err := oci.Validate(s.Config, &hc, d.ociDefaults(), d.host)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	if s.State.Running() {
		spec, err := oci.Spec(oci.Input{ID: s.ID, Config: s.Config, HostConfig: &hc, Rootfs: d.rootfsDir(s.ID), Defaults: d.ociDefaults(), Host: d.host})
		if err != nil {
			return container.UpdateResponse{}, err
		}
		res := spec.Linux.Resources
		res.Devices = nil
		if err := d.run.rt.Update(s.ID, res); err != nil {
			return container.UpdateResponse{}, fmt.Errorf("Cannot update container %s: %w", s.ID, err)
		}
	}
	c.Lock()
	c.HostConfig = &hc
	err = d.containers.Save(c)
	c.Unlock()
	if err != nil {
		return container.UpdateResponse{}, err
	}
	d.containerEvent(s, eventtypes.ActionUpdate, nil)
	return container.UpdateResponse{Warnings: nonNil(warnings)}, nil
}

// mergeResources copies the limits set in u over r, as docker update does:
// fields left zero keep their value.
func mergeResources(r *container.Resources, u container.Resources) {
	setI := func(dst *int64, v int64) {
		if v != 0 {
			*dst = v
		}
	}
	setI(&r.Memory, u.Memory)
	setI(&r.MemorySwap, u.MemorySwap)
	setI(&r.MemoryReservation, u.MemoryReservation)
	setI(&r.CPUShares, u.CPUShares)
	setI(&r.CPUPeriod, u.CPUPeriod)
	setI(&r.CPUQuota, u.CPUQuota)
	setI(&r.CPURealtimePeriod, u.CPURealtimePeriod)
	setI(&r.CPURealtimeRuntime, u.CPURealtimeRuntime)
	setI(&r.NanoCPUs, u.NanoCPUs)
	if u.NanoCPUs != 0 {
		r.CPUPeriod, r.CPUQuota = 0, 0
	}
	if u.CPUQuota != 0 || u.CPUPeriod != 0 {
		r.NanoCPUs = 0
	}
	if u.CpusetCpus != "" {
		r.CpusetCpus = u.CpusetCpus
	}
	if u.CpusetMems != "" {
		r.CpusetMems = u.CpusetMems
	}
	if u.BlkioWeight != 0 {
		r.BlkioWeight = u.BlkioWeight
	}
	if u.PidsLimit != nil {
		r.PidsLimit = u.PidsLimit
	}
	if u.Memory != 0 && u.MemorySwap == 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		r.MemorySwap = r.Memory * 2
	}
}
