package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/moby/sys/mountinfo"
)

// v1Controllers are the v1 hierarchies a container joins, in the order Set visits them.
var v1Controllers = []string{
	"cpuset", "cpu", "cpuacct", "memory", "pids", "blkio", "hugetlb", "devices",
	"freezer", "net_cls", "net_prio", "perf_event", "rdma", "misc",
}

// mount is one cgroup filesystem mount.
type mount struct {
	point string // where it is mounted
	root  string // the hierarchy path mounted there (mountinfo's root field)
}

// layout is what the machine mounts, read once by New.
type layout struct {
	v1      map[string]mount  // v1 controller -> its hierarchy's mount
	unified *mount            // the cgroup2 mount, nil when there is none
	v2Ctrls []string          // controllers driven through cgroup2 (none of them in v1)
	self    map[string]string // controller ("" for cgroup2) -> this process's cgroup
}

// detectLayout returns the running system's layout, read once per process: the cgroup
// mounts do not change under a runtime command, and each command asks several times.
func detectLayout() (*layout, error) {
	layoutOnce.Do(func() { cachedLayout, cachedLayoutErr = readLayout() })
	return cachedLayout, cachedLayoutErr
}

var (
	layoutOnce      sync.Once
	cachedLayout    *layout
	cachedLayoutErr error
)

// readLayout reads the running system's layout.
func readLayout() (*layout, error) {
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	defer mi.Close()
	pc, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cgroup: %w", err)
	}
	defer pc.Close()
	return parseLayout(mi, pc)
}

// parseLayout builds a layout from mountinfo and /proc/self/cgroup contents. The cgroup2
// root's cgroup.controllers is read from the real path it names (absent means none).
func parseLayout(mountInfo, selfCgroup io.Reader) (*layout, error) {
	mounts, err := mountinfo.GetMountsFromReader(mountInfo, func(i *mountinfo.Info) (skip, stop bool) {
		return i.FSType != "cgroup" && i.FSType != "cgroup2", false
	})
	if err != nil {
		return nil, fmt.Errorf("cgroup: reading mountinfo: %w", err)
	}
	l := &layout{v1: map[string]mount{}}
	for _, m := range mounts {
		mnt := mount{point: m.Mountpoint, root: m.Root}
		if m.FSType == "cgroup2" {
			// Prefer the conventional places when cgroup2 is mounted more than once.
			if l.unified == nil || preferred(m.Mountpoint) && !preferred(l.unified.point) {
				l.unified = &mnt
			}
			continue
		}
		for _, opt := range strings.Split(m.VFSOptions, ",") {
			if !slices.Contains(v1Controllers, opt) {
				continue
			}
			if old, ok := l.v1[opt]; !ok || preferred(m.Mountpoint) && !preferred(old.point) {
				l.v1[opt] = mnt
			}
		}
	}
	if len(l.v1) == 0 && l.unified == nil {
		return nil, fmt.Errorf("cgroup: no cgroup filesystem is mounted: %w", ErrNotSupported)
	}
	if l.unified != nil {
		data, err := readFile(filepath.Join(l.unified.point, "cgroup.controllers"))
		if err == nil {
			for _, c := range strings.Fields(string(data)) {
				if _, inV1 := l.v1[v2ToV1Name(c)]; !inV1 {
					l.v2Ctrls = append(l.v2Ctrls, c)
				}
			}
		}
	}
	l.self, err = parseSelfCgroup(selfCgroup)
	if err != nil {
		return nil, err
	}
	return l, nil
}

func preferred(point string) bool { return strings.HasPrefix(point, "/sys/fs/cgroup") }

// v2ToV1Name maps a cgroup2 controller to the v1 hierarchy that does its job.
func v2ToV1Name(c string) string {
	if c == "io" {
		return "blkio"
	}
	return c
}

// parseSelfCgroup reads /proc/<pid>/cgroup lines "id:controllers:path" into a map from
// each controller to its path; the cgroup2 line ("0::/path") gets the key "".
func parseSelfCgroup(r io.Reader) (map[string]string, error) {
	self := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			self[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			self[c] = parts[2]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cgroup: reading /proc/self/cgroup: %w", err)
	}
	return self, nil
}
