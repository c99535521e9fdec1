// Package sysinfo reads the facts about the host that `docker info` and
// `docker version` report: kernel, operating system, memory, CPUs, and what the
// cgroup hierarchy can limit. Every reader tolerates a missing source and leaves
// its field empty: info must answer on an odd host rather than fail.
package sysinfo

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Host describes the machine.
type Host struct {
	Hostname        string
	KernelVersion   string // uname -r
	Architecture    string // uname -m
	OperatingSystem string // os-release PRETTY_NAME ("Debian GNU/Linux 12 (bookworm)")
	OSVersion       string // os-release VERSION_ID ("12")
	NCPU            int
	MemTotal        int64 // bytes
}

// osReleasePaths are where os-release(5) may live, in the order it says to look.
var osReleasePaths = []string{"/etc/os-release", "/usr/lib/os-release"}

// readOSRelease returns the pretty name and version of the running system, or
// "Linux" and "" when no os-release file says.
func readOSRelease() (pretty, version string) {
	for _, p := range osReleasePaths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		pretty, version = ParseOSRelease(f)
		f.Close()
		if pretty != "" {
			return pretty, version
		}
	}
	return "Linux", version
}

// ParseOSRelease returns PRETTY_NAME and VERSION_ID from os-release content,
// unquoted.
func ParseOSRelease(r io.Reader) (pretty, version string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'"`)
		}
		switch k {
		case "PRETTY_NAME":
			pretty = v
		case "VERSION_ID":
			version = v
		}
	}
	return pretty, version
}

// ParseMemTotal returns MemTotal, in bytes, from /proc/meminfo content; 0 if absent.
func ParseMemTotal(r io.Reader) int64 {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0
		}
		if len(f) > 1 && strings.EqualFold(f[1], "kB") {
			n *= 1024
		}
		return n
	}
	return 0
}

// Cgroups describes the cgroup hierarchy containers will be placed in.
type Cgroups struct {
	Version        string // "1" or "2"
	MemoryLimit    bool
	SwapLimit      bool
	OomKillDisable bool
	CPUCfsPeriod   bool
	CPUCfsQuota    bool
	CPUShares      bool
	CPUSet         bool
	PidsLimit      bool
}

// Warnings returns, in Docker's words, what the hierarchy cannot limit.
func (c Cgroups) Warnings() []string {
	var w []string
	for _, x := range []struct {
		ok   bool
		what string
	}{
		{c.MemoryLimit, "No memory limit support"},
		{c.SwapLimit || !c.MemoryLimit, "No swap limit support"},
		{c.CPUCfsQuota, "No cpu cfs quota support"},
		{c.CPUCfsPeriod, "No cpu cfs period support"},
		{c.CPUShares, "No cpu shares support"},
		{c.CPUSet, "No cpuset support"},
		{c.PidsLimit, "No pids limit support"},
	} {
		if !x.ok {
			w = append(w, "WARNING: "+x.what)
		}
	}
	return w
}

// cgroupsV1 reads the abilities of a v1 hierarchy mounted under root (each
// controller in its own directory, or a symlink to a shared one).
func cgroupsV1(root string) Cgroups {
	has := func(rel string) bool {
		_, err := os.Stat(filepath.Join(root, rel))
		return err == nil
	}
	return Cgroups{
		Version:        "1",
		MemoryLimit:    has("memory/memory.limit_in_bytes"),
		SwapLimit:      has("memory/memory.memsw.limit_in_bytes"),
		OomKillDisable: has("memory/memory.oom_control"),
		CPUCfsPeriod:   has("cpu/cpu.cfs_period_us"),
		CPUCfsQuota:    has("cpu/cpu.cfs_quota_us"),
		CPUShares:      has("cpu/cpu.shares"),
		CPUSet:         has("cpuset/cpuset.cpus"),
		PidsLimit:      has("pids"),
	}
}

// cgroupsV2 reads the abilities of a cgroup2 hierarchy mounted at root from the
// controllers its root enables.
func cgroupsV2(root string) Cgroups {
	c := Cgroups{Version: "2"}
	data, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return c
	}
	for _, ctrl := range strings.Fields(string(data)) {
		switch ctrl {
		case "memory":
			c.MemoryLimit, c.SwapLimit = true, true
		case "cpu":
			c.CPUCfsPeriod, c.CPUCfsQuota, c.CPUShares = true, true, true
		case "cpuset":
			c.CPUSet = true
		case "pids":
			c.PidsLimit = true
		}
	}
	return c
}

// readIPv4Forwarding reads whether the kernel forwards IPv4 packets.
func readIPv4Forwarding(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(data)) == "1"
}
