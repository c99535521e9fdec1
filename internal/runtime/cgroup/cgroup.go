package cgroup

import (
	"errors"
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Manager is one container's cgroup, in every hierarchy the machine mounts.
type Manager interface {
	// Apply creates the cgroup (a directory in each v1 hierarchy berth uses and/or the
	// cgroup2 directory, with the needed controllers enabled in each ancestor's
	// cgroup.subtree_control) and moves pid into it. A pid <= 0 only creates.
	Apply(pid int) error
	// Set writes the limits in r; fields left nil are not touched, so `update` can pass
	// only what changes.
	Set(r *specs.LinuxResources) error
	// Freeze stops every process in the cgroup and returns once the kernel reports the
	// cgroup frozen; Thaw undoes it and waits for the thaw likewise.
	Freeze() error
	Thaw() error
	// State reports whether the cgroup is frozen.
	State() (frozen bool, err error)
	// Pids lists every process in the cgroup and its descendants, sorted.
	Pids() ([]int, error)
	// Stats reads usage counters and the current limits.
	Stats() (*Stats, error)
	// OOMKillCount is the number of processes the OOM killer killed in the cgroup.
	OOMKillCount() (uint64, error)
	// Destroy removes the cgroup's directories (and any the container made below them).
	// It kills nothing; it waits briefly for exiting tasks. Removing what is already
	// gone succeeds.
	Destroy() error
	// Paths maps each controller to its absolute directory; UnifiedKey names the cgroup2
	// directory. Record it in the container's state and give it to Load later.
	Paths() map[string]string
}

// UnifiedKey is the Paths key of the cgroup2 directory (on a v2 or a hybrid machine).
const UnifiedKey = "unified"

// ErrNotSupported is wrapped by errors for a limit this machine's cgroups cannot apply.
var ErrNotSupported = errors.New("not supported")

// Stats are a cgroup's counters. A zero limit means "no limit"; a controller that is not
// available leaves its fields zero.
type Stats struct {
	Memory MemoryStats
	CPU    CPUStats
	Pids   PidsStats
	// OOMKills counts processes killed by the OOM killer in this cgroup.
	OOMKills uint64
}

// MemoryStats are in bytes.
type MemoryStats struct {
	Usage     uint64 // current usage, page cache included
	MaxUsage  uint64 // high-water mark (v2: memory.peak, when the kernel has it)
	Limit     uint64 // 0 = unlimited
	SwapUsage uint64
	// Stat is memory.stat as is (for example "inactive_file", which docker stats
	// subtracts from Usage).
	Stat map[string]uint64
}

// CPUStats are in nanoseconds.
type CPUStats struct {
	UsageNS          uint64
	UserNS           uint64
	SystemNS         uint64
	Periods          uint64 // CFS periods elapsed with a quota
	ThrottledPeriods uint64
	ThrottledNS      uint64
}

// PidsStats count tasks.
type PidsStats struct {
	Current uint64
	Limit   uint64 // 0 = unlimited
}

// innerPath is the container's cgroup inside one hierarchy, before it is joined to the
// mount point: an absolute path, or one relative to the runtime's own cgroup.
type innerPath struct {
	path     string // cleaned; absolute unless relative
	relative bool
}

// parseCgroupsPath turns linux.cgroupsPath into an innerPath (see the package doc).
func parseCgroupsPath(cgroupsPath, containerID string) (innerPath, error) {
	switch {
	case cgroupsPath == "":
		if containerID == "" || strings.ContainsAny(containerID, "/") || containerID == "." || containerID == ".." {
			return innerPath{}, fmt.Errorf("cgroup: invalid container id %q for the default cgroups path", containerID)
		}
		// At the top, as crun does: nothing is left behind once the container is gone.
		return innerPath{path: "/" + containerID}, nil
	case strings.HasPrefix(cgroupsPath, "/"):
		return innerPath{path: path.Clean(cgroupsPath)}, nil
	case strings.Count(cgroupsPath, ":") == 2:
		p, err := systemdPath(cgroupsPath)
		if err != nil {
			return innerPath{}, err
		}
		return innerPath{path: p}, nil
	}
	p := path.Clean(cgroupsPath)
	if p == ".." || strings.HasPrefix(p, "../") {
		return innerPath{}, fmt.Errorf("cgroup: invalid cgroups path %q: escapes the runtime's own cgroup", cgroupsPath)
	}
	if strings.Contains(p, ":") {
		return innerPath{}, fmt.Errorf("cgroup: invalid cgroups path %q: want /abs/path, rel/path or slice:prefix:name", cgroupsPath)
	}
	return innerPath{path: p, relative: true}, nil
}

// systemdPath maps "slice:prefix:name" to the path systemd would give that unit:
// the slice expands to its ancestors ("a-b.slice" -> "/a.slice/a-b.slice", "" is
// "system.slice", "-.slice" the root) and the unit is "prefix-name.scope" (or name itself
// when it is a slice).
func systemdPath(s string) (string, error) {
	parts := strings.SplitN(s, ":", 3)
	slice, prefix, name := parts[0], parts[1], parts[2]
	if name == "" {
		return "", fmt.Errorf("cgroup: invalid systemd cgroups path %q: empty unit name", s)
	}
	if slice == "" {
		slice = "system.slice"
	}
	dir, err := expandSlice(slice)
	if err != nil {
		return "", fmt.Errorf("cgroup: invalid systemd cgroups path %q: %w", s, err)
	}
	unit := name
	if !strings.HasSuffix(name, ".slice") {
		unit = name + ".scope"
		if prefix != "" {
			unit = prefix + "-" + unit
		}
	}
	if strings.Contains(unit, "/") || unit == "." || unit == ".." {
		return "", fmt.Errorf("cgroup: invalid systemd cgroups path %q: bad unit name %q", s, unit)
	}
	return path.Join(dir, unit), nil
}

// expandSlice follows systemd's rule that a dash in a slice name means nesting.
func expandSlice(slice string) (string, error) {
	base, ok := strings.CutSuffix(slice, ".slice")
	if !ok || strings.Contains(slice, "/") {
		return "", fmt.Errorf("slice %q: want a name ending in .slice", slice)
	}
	if base == "-" {
		return "/", nil
	}
	if base == "" || strings.HasPrefix(base, "-") || strings.HasSuffix(base, "-") || strings.Contains(base, "--") {
		return "", fmt.Errorf("slice %q: bad dashes", slice)
	}
	var b strings.Builder
	prefix := ""
	for _, comp := range strings.Split(base, "-") {
		prefix += comp
		b.WriteString("/" + prefix + ".slice")
		prefix += "-"
	}
	return b.String(), nil
}

// hierarchyDir is where the container's cgroup lives in one hierarchy mounted at
// mountPoint, whose root (mountinfo's 4th field) is mountRoot, for a process whose own
// cgroup there is self (from /proc/self/cgroup). Absolute paths are relative to the mount
// point; relative ones to self.
func hierarchyDir(p innerPath, mountPoint, mountRoot, self string) string {
	if !p.relative {
		return path.Join(mountPoint, p.path)
	}
	full := path.Join("/", self, p.path)
	if mountRoot != "/" && mountRoot != "" {
		if rel, ok := strings.CutPrefix(full, mountRoot); ok && (rel == "" || rel[0] == '/') {
			full = rel
		}
	}
	return path.Join(mountPoint, full)
}
