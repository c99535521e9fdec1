package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// manager implements Manager for every layout: v1 (only v1 set), v2 (only unified set)
// and hybrid (both).
type manager struct {
	v1           map[string]string // v1 controller -> its directory
	v1Mounts     map[string]string // v1 controller -> its hierarchy's mount point
	unified      string            // cgroup2 directory, "" when the machine has no cgroup2
	unifiedMount string            // cgroup2 mount point
	v2Ctrls      []string          // controllers driven through cgroup2
	// plainFS is set by tests whose fake tree is an ordinary directory: Destroy then
	// removes the plain files a real cgroupfs would drop by itself.
	plainFS bool
}

// New returns a manager for a container's cgroup (see the package doc for cgroupsPath).
// It reads the mount table but writes nothing.
func New(cgroupsPath, containerID string) (Manager, error) {
	l, err := detectLayout()
	if err != nil {
		return nil, err
	}
	p, err := parseCgroupsPath(cgroupsPath, containerID)
	if err != nil {
		return nil, err
	}
	return newManager(l, p), nil
}

// Load rebuilds a manager from the Paths of an earlier one, for a later command (delete,
// pause, update) that may run in another cgroup than the one that created the container.
func Load(paths map[string]string) (Manager, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("cgroup: load: no paths recorded")
	}
	l, err := detectLayout()
	if err != nil {
		return nil, err
	}
	m := &manager{v1: map[string]string{}, v1Mounts: map[string]string{}}
	for c, dir := range paths {
		if !filepath.IsAbs(dir) {
			return nil, fmt.Errorf("cgroup: load: path %q for %q is not absolute", dir, c)
		}
		if c == UnifiedKey {
			m.unified = filepath.Clean(dir)
			continue
		}
		m.v1[c] = filepath.Clean(dir)
		if mnt, ok := l.v1[c]; ok {
			m.v1Mounts[c] = mnt.point
		}
	}
	if m.unified != "" && l.unified != nil {
		m.unifiedMount = l.unified.point
		m.v2Ctrls = l.v2Ctrls
	}
	return m, nil
}

// newManager places p in every hierarchy of l.
func newManager(l *layout, p innerPath) *manager {
	m := &manager{v1: map[string]string{}, v1Mounts: map[string]string{}}
	for c, mnt := range l.v1 {
		m.v1[c] = hierarchyDir(p, mnt.point, mnt.root, l.self[c])
		m.v1Mounts[c] = mnt.point
	}
	if l.unified != nil {
		m.unified = hierarchyDir(p, l.unified.point, l.unified.root, l.self[""])
		m.unifiedMount = l.unified.point
		m.v2Ctrls = l.v2Ctrls
	}
	return m
}

// v1Dirs lists the distinct v1 directories (cpu and cpuacct often share one), in
// v1Controllers order.
func (m *manager) v1Dirs() []string {
	var dirs []string
	for _, c := range v1Controllers {
		if d, ok := m.v1[c]; ok && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

// hasV2 reports whether controller c is driven through the cgroup2 directory.
func (m *manager) hasV2(c string) bool {
	return m.unified != "" && slices.Contains(m.v2Ctrls, c)
}

func (m *manager) Paths() map[string]string {
	out := make(map[string]string, len(m.v1)+1)
	for c, d := range m.v1 {
		out[c] = d
	}
	if m.unified != "" {
		out[UnifiedKey] = m.unified
	}
	return out
}

func (m *manager) Apply(pid int) error {
	for _, dir := range m.v1Dirs() {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cgroup: create %s: %w", dir, unwrapPath(err))
		}
	}
	if d, ok := m.v1["cpuset"]; ok {
		if err := fillCpuset(m.v1Mounts["cpuset"], d); err != nil {
			return err
		}
	}
	if m.unified != "" {
		if err := os.MkdirAll(m.unified, 0o755); err != nil {
			return fmt.Errorf("cgroup: create %s: %w", m.unified, unwrapPath(err))
		}
		m.enableControllers()
	}
	if pid <= 0 {
		return nil
	}
	dirs := m.v1Dirs()
	if m.unified != "" {
		dirs = append(dirs, m.unified)
	}
	for _, dir := range dirs {
		if err := writeFile(dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("cgroup: move pid %d: %w", pid, err)
		}
	}
	return nil
}

// fillCpuset copies cpuset.cpus and cpuset.mems down every level from the hierarchy's
// mount point to dir where they are still empty: a new v1 cpuset starts empty, and no
// task can join a cpuset without cpus and mems.
func fillCpuset(mountPoint, dir string) error {
	rel, err := filepath.Rel(mountPoint, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return nil
	}
	parent := mountPoint
	for _, comp := range strings.Split(rel, string(filepath.Separator)) {
		cur := filepath.Join(parent, comp)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			v, err := readString(cur, f)
			if err != nil {
				return err
			}
			if v != "" {
				continue
			}
			pv, err := readString(parent, f)
			if err != nil {
				return err
			}
			if err := writeFile(cur, f, pv); err != nil {
				return err
			}
		}
		parent = cur
	}
	return nil
}

// enableControllers writes the cgroup2 controllers berth drives into the
// cgroup.subtree_control of every ancestor of the container's directory, top down. A
// controller an ancestor refuses (it has processes of its own, say) is skipped: setting
// a limit of that controller then fails naming the missing file.
func (m *manager) enableControllers() {
	if len(m.v2Ctrls) == 0 {
		return
	}
	rel, err := filepath.Rel(m.unifiedMount, m.unified)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return
	}
	dir := m.unifiedMount
	for _, comp := range strings.Split(rel, string(filepath.Separator)) {
		have, _ := readString(dir, "cgroup.subtree_control")
		var want []string
		for _, c := range m.v2Ctrls {
			if !slices.Contains(strings.Fields(have), c) {
				want = append(want, "+"+c)
			}
		}
		if len(want) > 0 && writeFile(dir, "cgroup.subtree_control", strings.Join(want, " ")) != nil {
			for _, w := range want {
				_ = writeFile(dir, "cgroup.subtree_control", w)
			}
		}
		dir = filepath.Join(dir, comp)
	}
}

// Destroy removes every directory, deepest first.
func (m *manager) Destroy() error {
	dirs := m.v1Dirs()
	if m.unified != "" {
		dirs = append(dirs, m.unified)
	}
	var errs []error
	for _, d := range dirs {
		if err := m.removeTree(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeTree removes dir and the cgroups below it.
func (m *manager) removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cgroup: remove %s: %w", dir, unwrapPath(err))
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := m.removeTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return m.rmdir(dir)
}

// rmdirTimeout bounds how long Destroy waits for a cgroup's last tasks to exit.
const rmdirTimeout = 5 * time.Second

func (m *manager) rmdir(dir string) error {
	return poll(rmdirTimeout, func() (bool, error) {
		err := unix.Rmdir(dir)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return true, nil
		case errors.Is(err, unix.EBUSY):
			return false, nil // tasks still exiting
		case errors.Is(err, unix.ENOTEMPTY) && m.plainFS:
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if !e.IsDir() {
					_ = os.Remove(filepath.Join(dir, e.Name()))
				}
			}
			return false, nil
		}
		return false, fmt.Errorf("cgroup: remove %s: %w", dir, err)
	}, func() error {
		return fmt.Errorf("cgroup: remove %s: still busy after %v: %w", dir, rmdirTimeout, unix.EBUSY)
	})
}

// poll calls cond until it reports done or fails, backing off from 100µs to 10ms, and
// returns timedOut() after timeout.
func poll(timeout time.Duration, cond func() (bool, error), timedOut func() error) error {
	deadline := time.Now().Add(timeout)
	wait := 100 * time.Microsecond
	for {
		done, err := cond()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return timedOut()
		}
		time.Sleep(wait)
		wait = min(wait*2, 10*time.Millisecond)
	}
}

// Pids walks one hierarchy (pids, freezer or another v1 one, else cgroup2) and collects
// cgroup.procs from the container's directory and every directory below it.
func (m *manager) Pids() ([]int, error) {
	dir := m.unified
	for _, c := range []string{"pids", "freezer", "memory", "cpu", "cpuacct", "devices", "blkio", "cpuset"} {
		if d, ok := m.v1[c]; ok {
			dir = d
			break
		}
	}
	if dir == "" {
		return nil, fmt.Errorf("cgroup: pids: no hierarchy to read: %w", ErrNotSupported)
	}
	var pids []int
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a cgroup removed while we walk
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		data, err := readFile(filepath.Join(p, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(string(data)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				return fmt.Errorf("%s/cgroup.procs: bad pid %q", p, f)
			}
			pids = append(pids, pid)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cgroup: pids: %w", err)
	}
	sort.Ints(pids)
	return slices.Compact(pids), nil
}

// freezeTimeout bounds how long Freeze and Thaw wait for the kernel.
const freezeTimeout = 10 * time.Second

func (m *manager) Freeze() error { return m.setFrozen(true) }
func (m *manager) Thaw() error   { return m.setFrozen(false) }

func (m *manager) setFrozen(frozen bool) error {
	if d, ok := m.v1["freezer"]; ok {
		return freezeV1(d, frozen)
	}
	if m.unified != "" {
		return freezeV2(m.unified, frozen)
	}
	return fmt.Errorf("cgroup: freeze: no freezer: %w", ErrNotSupported)
}

// freezeV1 writes FROZEN or THAWED to freezer.state and waits for the state to read back
// the same (it passes through FREEZING). A freeze that does not finish is undone.
func freezeV1(dir string, frozen bool) error {
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	if err := writeFile(dir, "freezer.state", want); err != nil {
		return err
	}
	last := ""
	err := poll(freezeTimeout, func() (bool, error) {
		s, err := readString(dir, "freezer.state")
		last = s
		if err != nil || s == want {
			return s == want, err
		}
		// Writing again nudges tasks that raced with the first request.
		return false, writeFile(dir, "freezer.state", want)
	}, func() error {
		if frozen {
			_ = writeFile(dir, "freezer.state", "THAWED")
		}
		return fmt.Errorf("cgroup: %s: still %s after %v, want %s", filepath.Join(dir, "freezer.state"), last, freezeTimeout, want)
	})
	return err
}

// freezeV2 writes cgroup.freeze and waits for cgroup.events to say "frozen 1" (or 0).
func freezeV2(dir string, frozen bool) error {
	want := "0"
	if frozen {
		want = "1"
	}
	if err := writeFile(dir, "cgroup.freeze", want); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w (the kernel has no cgroup2 freezer): %w", err, ErrNotSupported)
		}
		return err
	}
	err := poll(freezeTimeout, func() (bool, error) {
		ev, err := readKeyed(dir, "cgroup.events")
		if err != nil {
			return false, err
		}
		return strconv.FormatUint(ev["frozen"], 10) == want, nil
	}, func() error {
		if frozen {
			_ = writeFile(dir, "cgroup.freeze", "0")
		}
		return fmt.Errorf("cgroup: %s: not frozen=%s after %v", filepath.Join(dir, "cgroup.events"), want, freezeTimeout)
	})
	return err
}

func (m *manager) State() (bool, error) {
	if d, ok := m.v1["freezer"]; ok {
		s, err := ignoreMissing(readString(d, "freezer.state"))
		return s == "FROZEN", err
	}
	if m.unified != "" {
		ev, err := ignoreMissing(readKeyed(m.unified, "cgroup.events"))
		return ev["frozen"] == 1, err
	}
	return false, nil
}
