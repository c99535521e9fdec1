package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount"
)

// Options are facts about the calling process that the spec alone does not tell.
type Options struct {
	// InUserNS says the caller runs in a user namespace it does not own the host's
	// devices from: device nodes are bind-mounted from the host instead of made with
	// mknod(2), and sysfs and mqueue fall back to binds of the host's when the kernel
	// refuses a fresh instance. A spec that asks for a user namespace implies it.
	InUserNS bool
	// HostMountNS says the spec asks for no mount namespace: the mounts are made in the
	// caller's (host's) namespace under the rootfs, whose propagation is left alone, and
	// Enter chroots instead of pivoting. The runtime unmounts them when the container is
	// deleted.
	HostMountNS bool
	// BeforeCgroupMount, when set, is called once before the first cgroup or cgroup2
	// mount: the runtime moves the process into its cgroups in parallel with the
	// mounts before it, and needs it there before cgroupfs shows the container's view.
	BeforeCgroupMount func() error
}

// mountKind is how Setup performs a mount.
type mountKind int

const (
	kindFS     mountKind = iota // a fresh filesystem: mount(source, dest, type, flags, data)
	kindBind                    // a bind (or rbind) of a host path, remounted for its flags
	kindCgroup                  // the container's cgroups, built per host layout (see cgroup_linux.go)
)

// mountEntry is one normalised spec mount.
type mountEntry struct {
	kind   mountKind
	source string // for binds an absolute host path; otherwise what mount(2) gets
	dest   string // clean absolute path inside the rootfs
	fstype string // "bind" for binds
	opts   mountOpts
}

// device is one node to create under the rootfs.
type device struct {
	path         string
	typ          uint32 // unix.S_IFCHR, S_IFBLK or S_IFIFO
	major, minor uint32
	mode         uint32 // permission bits
	uid, gid     uint32
}

// sysctl is one linux.sysctl entry.
type sysctl struct {
	key   string
	rel   string // path under /proc/sys
	value string
}

// Plan is everything the container's mount namespace will get, computed from the spec
// by NewPlan and carried out by Setup, Enter and Finalize, in that order, by the
// container's init (see the package documentation).
type Plan struct {
	rootfs   string // host path of the root filesystem, symlinks resolved
	readonly bool   // root.readonly
	hostNS   bool   // no mount namespace of its own: leave "/" alone, chroot on Enter
	// beforeCgroup is Options.BeforeCgroupMount, cleared once called.
	beforeCgroup func() error
	rootProp     uintptr // propagation of "/" before the rootfs is bound (default rslave)
	lastProp     uintptr // linux.rootfsPropagation for "/" once entered, or 0
	mounts       []mountEntry
	devices      []device
	setupDev     bool // make devices and /dev symlinks: false when /dev is a bind from the host
	ptmx         bool // /dev/pts is a devpts mount: /dev/ptmx becomes a symlink to pts/ptmx
	masked       []string
	roPaths      []string
	sysctls      []sysctl
	userNS       bool
	cgroupNS     bool

	// Filled in as the plan is carried out.
	root    *tree // the rootfs (Setup) or "/" (after Enter)
	entered bool
}

// defaultDevices are created in every container (runtime-spec "Default Devices"),
// unless the spec lists a device at the same path.
var defaultDevices = []device{
	{path: "/dev/null", typ: unix.S_IFCHR, major: 1, minor: 3, mode: 0o666},
	{path: "/dev/zero", typ: unix.S_IFCHR, major: 1, minor: 5, mode: 0o666},
	{path: "/dev/full", typ: unix.S_IFCHR, major: 1, minor: 7, mode: 0o666},
	{path: "/dev/random", typ: unix.S_IFCHR, major: 1, minor: 8, mode: 0o666},
	{path: "/dev/urandom", typ: unix.S_IFCHR, major: 1, minor: 9, mode: 0o666},
	{path: "/dev/tty", typ: unix.S_IFCHR, major: 5, minor: 0, mode: 0o666},
}

// NewPlan validates spec and normalises it into a Plan. It reads nothing but the
// rootfs's existence (root.path is relative to bundleDir unless absolute) and, when a
// mount label is set, whether the kernel has SELinux.
func NewPlan(spec *specs.Spec, bundleDir string, opts Options) (*Plan, error) {
	if spec == nil || spec.Root == nil || spec.Root.Path == "" {
		return nil, errors.New("spec has no root.path")
	}
	p := &Plan{readonly: spec.Root.Readonly, userNS: opts.InUserNS, hostNS: opts.HostMountNS, beforeCgroup: opts.BeforeCgroupMount, rootProp: unix.MS_SLAVE | unix.MS_REC}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundleDir, rootfs)
	}
	real, err := filepath.EvalSymlinks(rootfs)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(real); err == nil && !fi.IsDir() {
			err = unix.ENOTDIR
		}
	}
	if err != nil {
		return nil, fmt.Errorf("rootfs %q: no such directory", rootfs)
	}
	p.rootfs = real

	lx := spec.Linux
	if lx == nil {
		lx = &specs.Linux{}
	}
	if lx.MountLabel != "" {
		if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
			return nil, errors.New("selinux mount labels are not supported by berth-runtime")
		}
		return nil, errors.New("selinux mount label set but this kernel has no SELinux")
	}
	for _, ns := range lx.Namespaces {
		switch ns.Type {
		case specs.UserNamespace:
			p.userNS = true
		case specs.CgroupNamespace:
			p.cgroupNS = true
		}
	}
	if lx.RootfsPropagation != "" {
		prop, ok := mount.Propagation(lx.RootfsPropagation)
		if !ok {
			return nil, fmt.Errorf("rootfsPropagation %q: not a propagation (want private, rprivate, slave, rslave, shared, rshared, unbindable or runbindable)", lx.RootfsPropagation)
		}
		p.rootProp, p.lastProp = prop, prop
	}

	p.setupDev = true
	for i := range spec.Mounts {
		m, err := newMountEntry(&spec.Mounts[i], bundleDir)
		if err != nil {
			return nil, err
		}
		if m.dest == "/dev" && m.kind == kindBind {
			p.setupDev = false
		}
		if m.dest == "/dev/pts" && m.fstype == "devpts" {
			p.ptmx = true
		}
		p.mounts = append(p.mounts, m)
	}

	if p.devices, err = newDevices(lx.Devices); err != nil {
		return nil, err
	}
	if p.masked, err = cleanPaths("maskedPaths", lx.MaskedPaths); err != nil {
		return nil, err
	}
	if p.roPaths, err = cleanPaths("readonlyPaths", lx.ReadonlyPaths); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(lx.Sysctl))
	for k := range lx.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rel, err := sysctlPath(k)
		if err != nil {
			return nil, err
		}
		p.sysctls = append(p.sysctls, sysctl{key: k, rel: rel, value: lx.Sysctl[k]})
	}
	return p, nil
}

// newMountEntry normalises one spec mount: a clean absolute destination, a bind's
// source made absolute against the bundle, options parsed and checked.
func newMountEntry(sm *specs.Mount, bundleDir string) (mountEntry, error) {
	var m mountEntry
	dest := sm.Destination
	if !path.IsAbs(dest) {
		return m, fmt.Errorf("mount to %q: destination is not an absolute path", dest)
	}
	m.dest = path.Clean(dest)
	if m.dest == "/" {
		return m, errors.New("mount to /: cannot mount over the rootfs (set root.path instead)")
	}
	if len(sm.UIDMappings) > 0 || len(sm.GIDMappings) > 0 {
		return m, fmt.Errorf("mount to %s: uidMappings/gidMappings: %w", m.dest, errIDMap)
	}
	o, err := parseOptions(sm.Options)
	if err != nil {
		return m, fmt.Errorf("mount to %s: %w", m.dest, err)
	}
	m.opts = o
	m.source = sm.Source
	switch {
	case o.flags&unix.MS_BIND != 0 || sm.Type == "bind":
		m.kind, m.fstype = kindBind, "bind"
		m.opts.flags |= unix.MS_BIND
		if m.source == "" {
			return m, fmt.Errorf("mount to %s: bind mount has no source", m.dest)
		}
		if !filepath.IsAbs(m.source) {
			m.source = filepath.Join(bundleDir, m.source)
		}
		m.source = filepath.Clean(m.source)
		// mount(2) ignores data for a bind, and bundles made for runc and crun carry
		// options such as mode= there: accept and drop them.
		m.opts.data = nil
	case sm.Type == "":
		return m, fmt.Errorf("mount to %s: no type, and not a bind mount", m.dest)
	case sm.Type == "cgroup":
		m.kind, m.fstype = kindCgroup, "cgroup"
	default:
		m.kind, m.fstype = kindFS, sm.Type
		if m.source == "" {
			m.source = sm.Type
		}
	}
	if err := checkData(m.fstype, m.opts.data); err != nil {
		return m, fmt.Errorf("mount to %s: %w", m.dest, err)
	}
	if m.fstype == "devpts" {
		// Every devpts mount is its own instance since Linux 4.7; "newinstance" keeps
		// older kernels from sharing the host's ptys, and without a ptmxmode the
		// instance's ptmx is mode 000 and /dev/ptmx unusable.
		if !hasData(m.opts.data, "newinstance") {
			m.opts.data = append(m.opts.data, "newinstance")
		}
		if !hasData(m.opts.data, "ptmxmode") {
			m.opts.data = append(m.opts.data, "ptmxmode=0666")
		}
	}
	return m, nil
}

// newDevices merges the default devices with the spec's: a spec device replaces a
// default at the same path; defaults come first.
func newDevices(specDevs []specs.LinuxDevice) ([]device, error) {
	var devs []device
	seen := map[string]bool{}
	for _, sd := range specDevs {
		if !path.IsAbs(sd.Path) {
			return nil, fmt.Errorf("device %q: path is not absolute", sd.Path)
		}
		d := device{path: path.Clean(sd.Path), mode: 0o666, major: uint32(sd.Major), minor: uint32(sd.Minor)}
		if d.path == "/" || d.path == "/dev" {
			return nil, fmt.Errorf("device %q: not a device path", sd.Path)
		}
		if seen[d.path] {
			return nil, fmt.Errorf("device %s: listed twice", d.path)
		}
		seen[d.path] = true
		switch sd.Type {
		case "c", "u":
			d.typ = unix.S_IFCHR
		case "b":
			d.typ = unix.S_IFBLK
		case "p":
			d.typ = unix.S_IFIFO
			// A fifo has no device numbers; runc ignores any given, and so do we.
			sd.Major, sd.Minor, d.major, d.minor = 0, 0, 0, 0
		default:
			return nil, fmt.Errorf("device %s: unknown type %q (want c, b, u or p)", d.path, sd.Type)
		}
		if sd.Major < 0 || sd.Minor < 0 || sd.Major > 0xfff || sd.Minor > 0xfffff {
			return nil, fmt.Errorf("device %s: major:minor %d:%d out of range", d.path, sd.Major, sd.Minor)
		}
		if sd.FileMode != nil {
			// The JSON number is a plain Unix mode, not Go's os.FileMode bit layout.
			d.mode = uint32(*sd.FileMode) & 0o7777
		}
		if sd.UID != nil {
			d.uid = *sd.UID
		}
		if sd.GID != nil {
			d.gid = *sd.GID
		}
		devs = append(devs, d)
	}
	var all []device
	for _, d := range defaultDevices {
		if !seen[d.path] {
			all = append(all, d)
		}
	}
	return append(all, devs...), nil
}

// cleanPaths checks that every path is absolute and cleans it.
func cleanPaths(field string, paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("%s: %q is not an absolute path", field, p)
		}
		out = append(out, path.Clean(p))
	}
	return out, nil
}

// sysctlPath turns a sysctl key into its path under /proc/sys, the way sysctl(8) does:
// "net.ipv4.ip_forward" separates with dots; a key that contains a slash
// ("net/ipv4/conf/eth0.100/rp_filter") separates with slashes and keeps its dots.
func sysctlPath(key string) (string, error) {
	rel := key
	if !strings.Contains(key, "/") {
		rel = strings.ReplaceAll(key, ".", "/")
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." || c == ".." {
			return "", fmt.Errorf("sysctl %q: not a valid key", key)
		}
	}
	return rel, nil
}

// String describes the plan, one step a line, in the order Setup, Enter and Finalize
// carry it out. Tests compare it with golden files; it is also meant for debug logs.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rootfs %s\n", p.rootfs)
	fmt.Fprintf(&b, "propagation / %s\n", propagationString(p.rootProp))
	for _, m := range p.mounts {
		fmt.Fprintf(&b, "mount %s %s -> %s", m.fstype, m.source, m.dest)
		if m.fstype == "cgroup" {
			fmt.Fprintf(&b, " cgroupns=%t", p.cgroupNS)
		}
		fmt.Fprintf(&b, " flags=%s", flagString(m.opts.flags))
		if m.opts.clear != 0 {
			fmt.Fprintf(&b, " clear=%s", flagString(m.opts.clear))
		}
		if len(m.opts.data) > 0 {
			fmt.Fprintf(&b, " data=%s", strings.Join(m.opts.data, ","))
		}
		for _, pr := range m.opts.prop {
			fmt.Fprintf(&b, " then=%s", propagationString(pr))
		}
		if m.opts.attrSet != 0 || m.opts.attrClr != 0 {
			fmt.Fprintf(&b, " setattr=+%s/-%s", attrString(m.opts.attrSet), attrString(m.opts.attrClr))
		}
		b.WriteString("\n")
	}
	if p.setupDev {
		for _, d := range p.devices {
			how := "mknod"
			if p.userNS && d.typ != unix.S_IFIFO {
				how = "bind"
			}
			fmt.Fprintf(&b, "device %s %s %d:%d mode=%04o uid=%d gid=%d %s\n", devType(d.typ), d.path, d.major, d.minor, d.mode, d.uid, d.gid, how)
		}
		b.WriteString("symlinks /dev/fd /dev/stdin /dev/stdout /dev/stderr\n")
		if p.ptmx {
			b.WriteString("symlink /dev/ptmx -> pts/ptmx\n")
		}
	} else {
		b.WriteString("no devices: /dev is a bind mount\n")
	}
	b.WriteString("enter\n")
	for _, s := range p.sysctls {
		fmt.Fprintf(&b, "sysctl %s=%q -> /proc/sys/%s\n", s.key, s.value, s.rel)
	}
	for _, r := range p.roPaths {
		fmt.Fprintf(&b, "readonly %s\n", r)
	}
	for _, m := range p.masked {
		fmt.Fprintf(&b, "mask %s\n", m)
	}
	if p.readonly {
		b.WriteString("remount / ro\n")
	}
	if p.lastProp != 0 {
		fmt.Fprintf(&b, "propagation / %s\n", propagationString(p.lastProp))
	}
	return b.String()
}

func devType(t uint32) string {
	switch t {
	case unix.S_IFCHR:
		return "c"
	case unix.S_IFBLK:
		return "b"
	case unix.S_IFIFO:
		return "p"
	}
	return "?"
}
