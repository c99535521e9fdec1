package oci

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ProbeHost reads the facts of Host from the running system: uname, the CPUs
// and memory nodes online, /proc/sys/kernel/cap_last_cap, whether the memory
// cgroup can limit swap, the active security modules and the thermal_throttle
// directories to mask. A fact that cannot be read keeps its zero value, whose
// meaning each Host field documents.
func ProbeHost() Host {
	var h Host
	var uts unix.Utsname
	if err := unix.Uname(&uts); err == nil {
		if k, err := ParseKernelVersion(unix.ByteSliceToString(uts.Release[:])); err == nil {
			h.Kernel = k
		}
	}
	h.CPUs = readTrimmed("/sys/devices/system/cpu/online")
	h.Mems = readTrimmed("/sys/devices/system/node/online")
	if n, err := strconv.Atoi(readTrimmed("/proc/sys/kernel/cap_last_cap")); err == nil {
		h.LastCap = n
	}
	h.Bounding = boundingSet()
	h.NoSwapLimit = !swapLimitSupported()
	h.AppArmor = readTrimmed("/sys/module/apparmor/parameters/enabled") == "Y"
	_, err := os.Stat("/sys/fs/selinux/enforce")
	h.SELinux = err == nil
	if cpus, err := parseCPUList(h.CPUs); err == nil {
		for _, c := range cpus {
			p := fmt.Sprintf("/sys/devices/system/cpu/cpu%d/thermal_throttle", c)
			if _, err := os.Stat(p); err == nil {
				h.MaskedPaths = append(h.MaskedPaths, p)
			}
		}
	}
	h.Hostname, _ = os.Hostname()
	return h
}

// boundingSet reads this process's capability bounding set.
func boundingSet() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n
		}
	}
	return 0
}

// swapLimitSupported reports whether the memory controller can limit swap:
// memory.memsw.* on cgroup v1, memory.swap.max on cgroup v2.
func swapLimitSupported() bool {
	for _, p := range []string{
		"/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
		"/sys/fs/cgroup/memory.swap.max",
	} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	// Under a systemd-less v2 root the file lives only in child cgroups.
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		b, _ := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
		return strings.Contains(string(b), "memory")
	}
	return false
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
