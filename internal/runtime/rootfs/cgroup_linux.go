package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// A "cgroup" mount shows the container its own cgroups, whatever the host's layout:
//
//	host layout         own cgroup namespace               no cgroup namespace
//	cgroup v2 only      mount cgroup2 at dest              bind the container's cgroup dir
//	v1 (or hybrid)      tmpfs at dest, then per hierarchy  tmpfs at dest, then per hierarchy
//	                    mount that hierarchy (cgroup -o     bind the container's dir of that
//	                    cpu,cpuacct; cgroup2 for unified)   hierarchy from the host
//
// In the v1 layouts each hierarchy sits in a directory named like the host's mount
// point (dest/memory, dest/cpu,cpuacct, dest/systemd, dest/unified), and every
// co-mounted controller gets a symlink to it (dest/cpu -> cpu,cpuacct). With "ro" the
// hierarchies and, last, the tmpfs itself are made read-only.
//
// The container's cgroup is read from /proc/self/cgroup, so the caller must already be
// in it when Setup runs.

// hierarchy is one cgroup hierarchy of the host, as this process sees it.
type hierarchy struct {
	name        string   // directory under the cgroup mount: base name of the host mount point
	controllers []string // as in /proc/self/cgroup: "cpu", "cpuacct", "name=systemd"; none for v2
	v2          bool
	source      string // host directory of our cgroup in this hierarchy
}

// hostHierarchies lists the cgroup hierarchies mounted outside rootfs, sorted by name,
// each with the directory of the calling process's cgroup in it unless inCgroupNS
// (then mount roots and our paths are relative to different places, and the
// hierarchies are mounted afresh rather than bound, so no source is needed).
func hostHierarchies(rootfs string, inCgroupNS bool) ([]hierarchy, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].ID < mounts[j].ID })
	seen := map[string]bool{}
	var hs []hierarchy
	for _, mi := range mounts {
		if within(mi.Mountpoint, rootfs) {
			continue
		}
		super := map[string]bool{}
		for _, o := range strings.Split(mi.VFSOptions, ",") {
			super[o] = true
		}
		for key, cg := range own {
			if seen[key] || (mi.FSType == "cgroup2") != (key == "") {
				continue
			}
			match := true
			for _, c := range cg.controllers {
				if !super[c] {
					match = false
				}
			}
			if !match {
				continue
			}
			var rel string
			switch {
			case inCgroupNS:
				rel = mi.Root
			case mi.Root == "/":
				rel = cg.path
			case cg.path == mi.Root:
				rel = "/"
			case strings.HasPrefix(cg.path, mi.Root+"/"):
				rel = cg.path[len(mi.Root):]
			default:
				continue // our cgroup is not visible through this mount
			}
			seen[key] = true
			hs = append(hs, hierarchy{
				name:        path.Base(mi.Mountpoint),
				controllers: cg.controllers,
				v2:          key == "",
				source:      path.Join(mi.Mountpoint, rel),
			})
		}
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].name < hs[j].name })
	return hs, nil
}

type ownCgroup struct {
	controllers []string
	path        string
}

// ownCgroups parses /proc/self/cgroup, keyed by the controller list ("" for v2).
func ownCgroups() (map[string]ownCgroup, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	own := map[string]ownCgroup{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		ctrls, p, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 {
			continue
		}
		if id == "0" && ctrls == "" {
			own[""] = ownCgroup{path: p}
			continue
		}
		if ctrls == "" {
			continue
		}
		own[ctrls] = ownCgroup{controllers: strings.Split(ctrls, ","), path: p}
	}
	return own, sc.Err()
}

func (p *Plan) mountCgroup(m *mountEntry) error {
	hs, err := hostHierarchies(p.rootfs, p.cgroupNS)
	if err != nil {
		return fmt.Errorf("mount cgroup to %s: %w", m.dest, err)
	}
	if len(hs) == 0 {
		return fmt.Errorf("mount cgroup to %s: the host has no cgroup hierarchy mounted", m.dest)
	}
	if len(hs) == 1 && hs[0].v2 {
		e := *m
		if p.cgroupNS {
			e.kind, e.fstype, e.source = kindFS, "cgroup2", "cgroup2"
			return p.mountFS(&e)
		}
		e.kind, e.fstype, e.source = kindBind, "bind", hs[0].source
		e.opts.flags |= unix.MS_BIND
		return p.mountBind(&e)
	}

	// v1 or hybrid: a tmpfs to hold one directory per hierarchy, writable until the
	// directories and symlinks are made.
	tmp := mountEntry{kind: kindFS, fstype: "tmpfs", source: "tmpfs", dest: m.dest}
	tmp.opts.flags = m.opts.flags &^ (unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	tmp.opts.data = []string{"mode=755"}
	if err := p.mountFS(&tmp); err != nil {
		return err
	}
	top, err := p.root.open(m.dest, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("mount cgroup to %s: %w", m.dest, err)
	}
	defer unix.Close(top)
	for _, h := range hs {
		if err := p.mountHierarchy(m, top, h); err != nil {
			return err
		}
	}
	for _, h := range hs {
		for _, c := range h.controllers {
			if c == h.name || strings.HasPrefix(c, "name=") {
				continue
			}
			if err := unix.Symlinkat(h.name, top, c); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("mount cgroup to %s: symlink %s -> %s: %w", m.dest, c, h.name, err)
			}
		}
	}
	last := *m
	last.opts.data = nil
	return p.finishMount(&last, m.opts.flags, true)
}

// mountHierarchy puts hierarchy h at dest/h.name.
func (p *Plan) mountHierarchy(m *mountEntry, top int, h hierarchy) error {
	dest := path.Join(m.dest, h.name)
	dir, err := mkdirIn(top, h.name)
	if err != nil {
		return fmt.Errorf("mount cgroup to %s: %w", dest, err)
	}
	defer unix.Close(dir)
	target := p.root.fdPath(dir, dest)
	flags := m.opts.flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if p.cgroupNS {
		fstype, data := "cgroup2", ""
		if !h.v2 {
			fstype, data = "cgroup", strings.Join(h.controllers, ",")
			if strings.HasPrefix(data, "name=") {
				data = "none," + data
			}
		}
		if err := unix.Mount("cgroup", target, fstype, flags, data); err != nil {
			return fmt.Errorf("mount %s to %s: %w", fstype, dest, err)
		}
		return nil
	}
	src, err := unix.Open(h.source, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bind-mount %s to %s: source: %w", h.source, dest, err)
	}
	defer unix.Close(src)
	if err := unix.Mount(procFD(src), target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind-mount %s to %s: %w", h.source, dest, err)
	}
	e := mountEntry{kind: kindBind, fstype: "bind", source: h.source, dest: dest}
	e.opts.clear = m.opts.clear
	return p.finishMount(&e, flags, true)
}
