package oci

import (
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// Docker's limits on a container's options.
const (
	// MinMemory is the smallest memory limit or reservation: 6 MiB, room for
	// the container's start.
	MinMemory = 6 << 20
	// maxHostnameLen is HOST_NAME_MAX.
	maxHostnameLen = 64
)

// Adapt fills, in place, the options Docker fills when it creates a container,
// so that `inspect` shows them: the host name (the ID's first 12 characters,
// or the host's own on the host's network), a swap limit of twice the memory
// limit, the /dev/shm size, the IPC and cgroup namespace modes, and
// OomKillDisable false.
func Adapt(id string, cfg *container.Config, hc *container.HostConfig, d Defaults, h Host) {
	if cfg.Hostname == "" {
		if hc.NetworkMode.IsHost() && h.Hostname != "" {
			cfg.Hostname = h.Hostname
		} else {
			cfg.Hostname = id[:min(12, len(id))]
		}
	}
	if hc.Memory > 0 && hc.MemorySwap == 0 {
		hc.MemorySwap = hc.Memory * 2
	}
	if hc.ShmSize == 0 {
		hc.ShmSize = d.ShmSize
		if hc.ShmSize == 0 {
			hc.ShmSize = DefaultShmSize
		}
	}
	if hc.IpcMode.IsEmpty() {
		hc.IpcMode = d.IpcMode
		if hc.IpcMode.IsEmpty() {
			hc.IpcMode = container.IPCModePrivate
		}
	}
	if hc.CgroupnsMode.IsEmpty() {
		hc.CgroupnsMode = d.CgroupnsMode
		if hc.CgroupnsMode.IsEmpty() {
			hc.CgroupnsMode = container.CgroupnsModePrivate
		}
	}
	if hc.OomKillDisable == nil {
		hc.OomKillDisable = ptr(false)
	}
}

// Validate checks a container's options as Docker does when it creates one, so
// that a bad option fails at once, with Docker's message, and leaves nothing
// behind. Errors are of class errdefs.ErrInvalidArgument.
//
// Like Docker, it discards in place the limits the host cannot enforce (swap
// without swap accounting, a swappiness of -1, a CPU percentage) and returns
// a warning for each, and one for a disabled OOM killer without a memory limit.
func Validate(cfg *container.Config, hc *container.HostConfig, d Defaults, h Host) (warnings []string, err error) {
	if len(cfg.Hostname) > maxHostnameLen {
		return nil, invalid("hostname %q is too long (maximum %d bytes)", cfg.Hostname, maxHostnameLen)
	}
	if wd := cfg.WorkingDir; wd != "" && !path.IsAbs(wd) {
		return nil, invalid("the working directory '%s' is invalid, it needs to be an absolute path", wd)
	}
	for _, e := range cfg.Env {
		if k, _, _ := strings.Cut(e, "="); k == "" {
			return nil, invalid("invalid environment variable: %s", e)
		}
	}

	warnings, err = validateResources(&hc.Resources, h)
	if err != nil {
		return warnings, err
	}

	if !hc.IpcMode.Valid() {
		return warnings, invalid("invalid IPC mode: %v", hc.IpcMode)
	}
	if !hc.PidMode.Valid() {
		return warnings, invalid("invalid PID mode: %v", hc.PidMode)
	}
	if !hc.UTSMode.Valid() {
		return warnings, invalid("invalid UTS mode: %v", hc.UTSMode)
	}
	if !hc.CgroupnsMode.Valid() {
		return warnings, invalid("invalid cgroup namespace mode: %v", hc.CgroupnsMode)
	}
	if !hc.UsernsMode.Valid() {
		return warnings, invalid("invalid USER mode: %v", hc.UsernsMode)
	}
	if hc.ShmSize < 0 {
		return warnings, invalid("SHM size can not be less than 0")
	}
	if hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000 {
		return warnings, invalid("Invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj)
	}
	if d.UsernsRemap != nil && !hc.UsernsMode.IsHost() {
		switch {
		case hc.Privileged:
			return warnings, invalid("privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode")
		case hc.NetworkMode.IsHost():
			return warnings, invalid("cannot share the host's network namespace when user namespaces are enabled")
		case hc.PidMode.IsHost():
			return warnings, invalid("cannot share the host PID namespace when user namespaces are enabled")
		}
	}
	for dst := range hc.Tmpfs {
		if err := checkDestination(dst); err != nil {
			return warnings, err
		}
	}
	if err := checkSysctls(cfg, hc); err != nil {
		return warnings, err
	}
	for _, u := range hc.Ulimits {
		if err := checkUlimit(u); err != nil {
			return warnings, err
		}
	}
	sec, err := parseSecurityOpts(hc.SecurityOpt, d.NoNewPrivileges)
	if err != nil {
		return warnings, err
	}
	if err := checkLSM(sec, h); err != nil {
		return warnings, err
	}
	if strings.HasPrefix(strings.TrimSpace(sec.seccomp), "{") {
		if _, err := ParseProfile([]byte(sec.seccomp)); err != nil {
			return warnings, err
		}
	}
	if _, err := normalizeCaps(hc.CapAdd, "CapAdd", h); err != nil {
		return warnings, err
	}
	if _, err := normalizeCaps(hc.CapDrop, "CapDrop", h); err != nil {
		return warnings, err
	}
	for _, dev := range hc.Devices {
		if p := dev.CgroupPermissions; p != "" && !validAccess(p) {
			return warnings, invalid("invalid device mode: %s", p)
		}
	}
	for _, r := range hc.DeviceCgroupRules {
		if _, err := parseDeviceCgroupRule(r); err != nil {
			return warnings, err
		}
	}
	return warnings, nil
}

// validateResources checks and adjusts the cgroup limits, with Docker's
// messages.
func validateResources(r *container.Resources, h Host) (warnings []string, _ error) {
	if r.MemorySwappiness != nil && *r.MemorySwappiness == -1 {
		r.MemorySwappiness = nil
	}
	if r.Memory != 0 && r.Memory < MinMemory {
		return warnings, invalid("Minimum memory limit allowed is 6MB")
	}
	if r.Memory > 0 && r.MemorySwap != -1 && h.NoSwapLimit {
		warnings = append(warnings, "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.")
		r.MemorySwap = -1
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return warnings, invalid("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.Memory == 0 && r.MemorySwap > 0 {
		return warnings, invalid("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if s := r.MemorySwappiness; s != nil && (*s < 0 || *s > 100) {
		return warnings, invalid("Invalid value: %v, valid memory swappiness range is 0-100", *s)
	}
	if r.MemoryReservation > 0 && r.MemoryReservation < MinMemory {
		return warnings, invalid("Minimum memory reservation allowed is 6MB")
	}
	if r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation {
		return warnings, invalid("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	if r.OomKillDisable != nil && *r.OomKillDisable && r.Memory == 0 {
		warnings = append(warnings, "OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.")
	}

	if r.NanoCPUs > 0 && r.CPUPeriod > 0 {
		return warnings, invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set")
	}
	if r.NanoCPUs > 0 && r.CPUQuota > 0 {
		return warnings, invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
	}
	if nc := h.numCPU(); r.NanoCPUs < 0 || r.NanoCPUs > int64(nc)*1e9 {
		return warnings, invalid("range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", nc)
	}
	if r.CPUShares < 0 {
		return warnings, invalid("invalid CPU shares (%d): value must be a positive integer", r.CPUShares)
	}
	if r.CPUPeriod != 0 && (r.CPUPeriod < 1000 || r.CPUPeriod > 1000000) {
		return warnings, invalid("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")
	}
	if r.CPUQuota > 0 && r.CPUQuota < 1000 {
		return warnings, invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)")
	}
	if r.CPUPercent > 0 {
		warnings = append(warnings, runtime.GOOS+" does not support CPU percent. Percent discarded.")
		r.CPUPercent = 0
	}
	if err := cpusetAvailable(r.CpusetCpus, h.CPUs, "cpuset cpus", "CPUs"); err != nil {
		return warnings, err
	}
	if err := cpusetAvailable(r.CpusetMems, h.Mems, "cpuset mems", "memory nodes"); err != nil {
		return warnings, err
	}

	if r.BlkioWeight > 0 && (r.BlkioWeight < 10 || r.BlkioWeight > 1000) {
		return warnings, invalid("Range of blkio weight is from 10 to 1000")
	}
	for _, w := range r.BlkioWeightDevice {
		if w != nil && w.Weight != 0 && (w.Weight < 10 || w.Weight > 1000) {
			return warnings, invalid("invalid weight for device: %s", w)
		}
	}
	if r.IOMaximumBandwidth != 0 || r.IOMaximumIOps != 0 {
		return warnings, invalid("Invalid QoS settings: %s does not support Maximum IO Bandwidth or Maximum IO IOps", runtime.GOOS)
	}
	return warnings, nil
}

// cpusetAvailable checks that the cpuset list requested is well formed and
// within the available one ("" skips the check).
func cpusetAvailable(requested, available, what, plural string) error {
	if requested == "" {
		return nil
	}
	want, err := parseCPUList(requested)
	if err != nil {
		return invalid("Invalid value %s for %s: %v", requested, what, err)
	}
	if available == "" {
		return nil
	}
	have, err := parseCPUList(available)
	if err != nil {
		return fmt.Errorf("the host's %s %q: %w", what, available, err)
	}
	for _, c := range want {
		if !slices.Contains(have, c) {
			return invalid("Requested %s are not available - requested %s, available: %s", plural, requested, available)
		}
	}
	return nil
}
