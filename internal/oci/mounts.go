package oci

import (
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mounts.
//
// A container's mounts are Docker's defaults, then the user's:
//
//	/proc          proc      nosuid,noexec,nodev
//	/dev           tmpfs     nosuid,strictatime,mode=755,size=65536k
//	/dev/pts       devpts    nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5
//	/sys           sysfs     nosuid,noexec,nodev,ro        (rw if --privileged)
//	/sys/fs/cgroup cgroup    ro,nosuid,noexec,nodev        (rw if --privileged)
//	/dev/mqueue    mqueue    nosuid,noexec,nodev
//	/dev/shm       tmpfs     nosuid,noexec,nodev,mode=1777,size=<--shm-size>
//
// A user mount at the same destination replaces a default; a user mount of
// /dev replaces every default below /dev; --ipc none has no /dev/shm, and a
// shared IPC namespace binds the owner's /dev/shm instead. User mounts are
// sorted so that a parent is mounted before what is mounted inside it.
//
// With --read-only the root and every default mount but /proc, /dev and its
// tmpfs-like children are read-only; the user's mounts keep their own modes.
//
// Besides the mounts, /proc and /sys paths that leak host information or let
// a container act on the host are masked (an empty file or tmpfs over them)
// or made read-only, unless --privileged.

// DefaultShmSize is the size of /dev/shm when neither the container nor the
// daemon sets one: 64 MiB.
const DefaultShmSize = 64 << 20

// InitPath is where --init's program is bound inside the container.
const InitPath = "/sbin/docker-init"

// DefaultMaskedPaths are masked in every unprivileged container, as Docker
// masks them.
var DefaultMaskedPaths = []string{
	"/proc/asound",
	"/proc/acpi",
	"/proc/interrupts",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
}

// DefaultReadonlyPaths are read-only in every unprivileged container.
var DefaultReadonlyPaths = []string{
	"/proc/bus",
	"/proc/fs",
	"/proc/irq",
	"/proc/sys",
	"/proc/sysrq-trigger",
}

// defaultMounts returns Docker's default mounts, /dev/shm of shmSize bytes.
func defaultMounts(shmSize int64) []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shmSize, 10)}},
	}
}

// checkDestination refuses a relative destination or one that is the root.
func checkDestination(dst string) error {
	if !path.IsAbs(dst) {
		return invalid("invalid mount path: '%s' mount path must be absolute", dst)
	}
	if path.Clean(dst) == "/" {
		return invalid("invalid specification: destination can't be '/'")
	}
	return nil
}

// userMounts returns the user's mounts (Input.Mounts, --tmpfs, the /etc
// files, a shared /dev/shm) as spec mounts, and the root propagation their
// propagation needs ("" when none).
func (b *builder) userMounts() ([]specs.Mount, string, error) {
	var out []specs.Mount
	rootProp := ""
	has := func(dst string) bool {
		return slices.ContainsFunc(out, func(m specs.Mount) bool { return m.Destination == dst })
	}
	for _, m := range b.in.Mounts {
		if err := checkDestination(m.Destination); err != nil {
			return nil, "", err
		}
		dst := path.Clean(m.Destination)
		if m.Tmpfs {
			data := m.TmpfsOptions
			if m.ReadOnly && data != "" {
				data = "ro," + data
			} else if m.ReadOnly {
				data = "ro"
			}
			opts, err := tmpfsOptions(data)
			if err != nil {
				return nil, "", err
			}
			out = append(out, specs.Mount{Destination: dst, Type: "tmpfs", Source: "tmpfs", Options: opts})
			continue
		}
		opts, prop, err := bindOptions(m)
		if err != nil {
			return nil, "", err
		}
		switch prop {
		case mount.PropagationShared, mount.PropagationRShared:
			rootProp = "shared"
		case mount.PropagationSlave, mount.PropagationRSlave:
			if rootProp == "" {
				rootProp = "rslave"
			}
		}
		out = append(out, specs.Mount{Destination: dst, Type: "bind", Source: m.Source, Options: opts})
	}

	dsts := make([]string, 0, len(b.hc.Tmpfs))
	for dst := range b.hc.Tmpfs {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	for _, dst := range dsts {
		if err := checkDestination(dst); err != nil {
			return nil, "", err
		}
		opts, err := tmpfsOptions(b.hc.Tmpfs[dst])
		if err != nil {
			return nil, "", err
		}
		out = append(out, specs.Mount{Destination: path.Clean(dst), Type: "tmpfs", Source: "tmpfs", Options: opts})
	}

	// The name resolution files, writable unless the root is read-only.
	for _, f := range []struct{ src, dst string }{
		{b.in.Files.ResolvConf, "/etc/resolv.conf"},
		{b.in.Files.Hostname, "/etc/hostname"},
		{b.in.Files.Hosts, "/etc/hosts"},
	} {
		if f.src == "" || has(f.dst) {
			continue
		}
		// A single file has nothing mounted below it: plain ro will do.
		opts, _, _ := bindOptions(Mount{Source: f.src, ReadOnly: b.hc.ReadonlyRootfs, ReadOnlyNonRecursive: true})
		out = append(out, specs.Mount{Destination: f.dst, Type: "bind", Source: f.src, Options: opts})
	}

	// A shared IPC namespace shares /dev/shm too.
	if shm := b.shmSource(); shm != "" && !has("/dev/shm") {
		opts, _, _ := bindOptions(Mount{Source: shm})
		out = append(out, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: shm, Options: opts})
	}

	sort.SliceStable(out, func(i, j int) bool { return depth(out[i].Destination) < depth(out[j].Destination) })
	return out, rootProp, nil
}

// shmSource returns the host directory to bind at /dev/shm, or "" for a
// fresh tmpfs (or none, with --ipc none).
func (b *builder) shmSource() string {
	switch {
	case b.hc.IpcMode.IsNone() || b.hc.IpcMode.IsPrivate():
		return ""
	case b.in.Join.Shm != "":
		return b.in.Join.Shm
	case b.hc.IpcMode.IsHost():
		return "/dev/shm"
	}
	return ""
}

// bindOptions returns the options of a bind: rbind (or bind), rro (or ro)
// when read-only, and the propagation, rprivate unless given.
func bindOptions(m Mount) ([]string, mount.Propagation, error) {
	opts := []string{"rbind"}
	if m.NonRecursive {
		opts[0] = "bind"
	}
	if m.ReadOnly {
		if m.ReadOnlyNonRecursive {
			opts = append(opts, "ro")
		} else {
			opts = append(opts, "rro")
		}
	}
	prop := m.Propagation
	if prop == "" {
		prop = mount.PropagationRPrivate
	}
	switch prop {
	case mount.PropagationPrivate, mount.PropagationRPrivate, mount.PropagationShared,
		mount.PropagationRShared, mount.PropagationSlave, mount.PropagationRSlave:
	default:
		return nil, "", invalid("invalid propagation mode: %s", prop)
	}
	return append(opts, string(prop)), prop, nil
}

// depth is the number of components of a destination, the key mounts are
// sorted by.
func depth(p string) int {
	p = path.Clean(p)
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// mounts sets the spec's mounts, root propagation, and masked and read-only
// paths.
func (b *builder) mounts(s *specs.Spec) error {
	user, rootProp, err := b.userMounts()
	if err != nil {
		return err
	}
	byUser := map[string]bool{}
	for _, m := range user {
		byUser[m.Destination] = true
	}

	var all []specs.Mount
	for _, m := range defaultMounts(b.hc.ShmSize) {
		switch {
		case byUser[m.Destination]:
		case byUser["/dev"] && strings.HasPrefix(m.Destination, "/dev/"):
		case m.Destination == "/dev/shm" && b.hc.IpcMode.IsNone():
		default:
			all = append(all, m)
		}
	}
	if b.initPath != "" && !byUser[InitPath] {
		all = append(all, specs.Mount{Destination: InitPath, Type: "bind", Source: b.initPath, Options: []string{"bind", "ro"}})
	}
	if b.hc.ReadonlyRootfs {
		for i, m := range all {
			switch m.Destination {
			case "/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev":
				continue
			}
			if !slices.Contains(m.Options, "ro") {
				all[i].Options = append(all[i].Options, "ro")
			}
		}
	}
	writableCgroups := b.hc.Privileged || b.userns()
	if b.sec.writableCgroups != nil {
		if b.userns() {
			return invalid("option WritableCgroups conflicts with user namespaces and rootless mode")
		}
		writableCgroups = *b.sec.writableCgroups
	}
	for i, m := range all {
		if (m.Destination == "/sys" && b.hc.Privileged) || (m.Type == "cgroup" && writableCgroups) {
			all[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
	}
	s.Mounts = append(all, user...)
	s.Root = &specs.Root{Path: b.in.Rootfs, Readonly: b.hc.ReadonlyRootfs}
	s.Linux.RootfsPropagation = rootProp

	if !b.hc.Privileged {
		s.Linux.MaskedPaths = append(slices.Clone(DefaultMaskedPaths), b.in.Host.MaskedPaths...)
		s.Linux.ReadonlyPaths = slices.Clone(DefaultReadonlyPaths)
	}
	if b.hc.MaskedPaths != nil {
		s.Linux.MaskedPaths = slices.Clone(b.hc.MaskedPaths)
	}
	if b.hc.ReadonlyPaths != nil {
		s.Linux.ReadonlyPaths = slices.Clone(b.hc.ReadonlyPaths)
	}
	return nil
}
