package rootfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/testutil"
)

// The privileged tests run each scenario in a child: this test binary re-executed in
// new mount, PID, UTS and IPC namespaces (and a user namespace for one of them), so
// every mount dies with the child. The parent builds the directory tree, the child
// builds the container's filesystem from it and checks it from inside with syscalls,
// printing "FAIL: ..." lines and exiting 1 on any failure. The parent then checks the
// host: its mount table is unchanged and nothing escaped the rootfs.

const (
	childEnv  = "BERTH_TEST_ROOTFS_CHILD"  // scenario name: this process is a child
	dirEnv    = "BERTH_TEST_ROOTFS_DIR"    // the parent's temp dir (see buildTree)
	escapeEnv = "BERTH_TEST_ROOTFS_ESCAPE" // a host path a naive runtime would create
)

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(runChild(name))
	}
	os.Exit(m.Run())
}

// The layout the parent makes in its temp dir D:
//
//	D/victim/keep             host directory that rootfs symlinks point at
//	D/data-ro, D/data-rw      bind sources (D/data-rw/ro-sub becomes a readonly path)
//	D/hostfile                a file bind source
//	D/tree/sub                rbind source; the child mounts a tmpfs on sub first
//	D/bundle/rootfs           busybox, a marker, and the traps:
//	  abs -> D/victim         an absolute host path
//	  rel -> ../../victim     climbs out of the rootfs on the host
//	  up  -> /                the host's root
//	  procsys -> /proc/sys    steers a mount into /proc
//	  secret-file, secret-dir/inner   masked paths
//	  notdir                  a file where proc is asked to go
func buildTree(t *testing.T) (dir string) {
	t.Helper()
	testutil.RequireRoot(t, "mounts in new mount namespaces")
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("needs /bin/busybox (Debian busybox-static)")
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rootfs := filepath.Join(dir, "bundle/rootfs")
	for _, d := range []string{"victim", "data-ro", "data-rw/ro-sub", "tree/sub", "bundle/rootfs/bin",
		"bundle/rootfs/etc", "bundle/rootfs/proc", "bundle/rootfs/sys", "bundle/rootfs/dev",
		"bundle/rootfs/tmp", "bundle/rootfs/secret-dir"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"victim/keep":                          "keep",
		"data-ro/file":                         "ro",
		"hostfile":                             "hostfile",
		"bundle/rootfs/berth-rootfs-marker":    "inside",
		"bundle/rootfs/secret-file":            "secret",
		"bundle/rootfs/secret-dir/inner":       "secret",
		"bundle/rootfs/notdir":                 "",
		"bundle/rootfs/etc/berth-escape-check": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyBusybox(t, filepath.Join(rootfs, "bin"))
	links := map[string]string{
		"abs":     filepath.Join(dir, "victim"),
		"rel":     "../../victim",
		"up":      "/",
		"procsys": "/proc/sys",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func copyBusybox(t *testing.T, bin string) {
	in, err := os.Open("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(filepath.Join(bin, "busybox"), os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	for _, applet := range []string{"sh", "cat", "ls", "echo", "mount"} {
		if err := os.Symlink("busybox", filepath.Join(bin, applet)); err != nil {
			t.Fatal(err)
		}
	}
}

// runInChild runs scenario in a re-executed child and fails t with its report.
func runInChild(t *testing.T, scenario, dir string, attr *syscall.SysProcAttr, env ...string) {
	t.Helper()
	before, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+scenario, dirEnv+"="+dir)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = attr
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("child %s: %v\n%s", scenario, err, out)
	}
	after, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("the host's mount table changed:\n--- before\n%s--- after\n%s", before, after)
	}
}

func nsAttr(extra uintptr) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | extra,
		Pdeathsig:  syscall.SIGKILL,
	}
}

// TestContainerFilesystem: the full docker-like spec, pivot_root, read-only root.
func TestContainerFilesystem(t *testing.T) {
	dir := buildTree(t)
	escape := "/" + testutil.UniqueID("rootfs-escape")
	runInChild(t, "full", dir, nsAttr(0), escapeEnv+"="+escape)
	// The symlinks' targets on the host are untouched...
	entries, err := os.ReadDir(filepath.Join(dir, "victim"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "keep" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("host dir %s/victim holds %q, want only keep", dir, names)
	}
	if _, err := os.Lstat(escape); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("host path %s exists (err %v): a mount destination escaped through rootfs/up -> /", escape, err)
		os.Remove(escape)
	}
	// ...and the mount points were made where the container sees them, in the rootfs.
	rootfs := filepath.Join(dir, "bundle/rootfs")
	// (The absolute link's target, D/victim/mnt, is under the container's /tmp, a tmpfs.)
	for _, p := range []string{"victim/mnt", escape[1:]} {
		if st, err := os.Stat(filepath.Join(rootfs, p)); err != nil || !st.IsDir() {
			t.Errorf("rootfs/%s: want a directory made in the rootfs (err %v)", p, err)
		}
	}
}

func TestContainerFilesystemNoPivot(t *testing.T) {
	dir := buildTree(t)
	runInChild(t, "nopivot", dir, nsAttr(0))
}

// TestContainerFilesystemUserNS runs init in a user namespace (identity-mapped, so the
// test binary stays executable): devices become binds, sysfs falls back to a bind of
// the host's, and remounts must keep the flags locked by the namespace.
func TestContainerFilesystemUserNS(t *testing.T) {
	dir := buildTree(t)
	attr := nsAttr(syscall.CLONE_NEWUSER)
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
	runInChild(t, "userns", dir, attr)
}

func TestContainerFilesystemCgroupNS(t *testing.T) {
	dir := buildTree(t)
	runInChild(t, "cgroupns", dir, nsAttr(syscall.CLONE_NEWCGROUP))
}

// TestContainerFilesystemRefusals: what Setup and Finalize must refuse, with the
// errors a user reads.
func TestContainerFilesystemRefusals(t *testing.T) {
	dir := buildTree(t)
	runInChild(t, "refusals", dir, nsAttr(0))
}

// ---- the child side ----

var scenarios = map[string]func(c *child){
	"full":     childFull,
	"nopivot":  childNoPivot,
	"userns":   childUserNS,
	"cgroupns": childCgroupNS,
	"refusals": childRefusals,
}

type child struct {
	dir, rootfs string
	failed      bool
}

// abort stops a scenario after a failure that makes later checks meaningless.
type abort struct{}

func runChild(name string) (code int) {
	runtime.LockOSThread()
	c := &child{dir: os.Getenv(dirEnv)}
	c.rootfs = filepath.Join(c.dir, "bundle/rootfs")
	fn := scenarios[name]
	if fn == nil {
		fmt.Printf("FAIL: unknown scenario %q\n", name)
		return 1
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(abort); !ok {
				panic(r)
			}
		}
		if c.failed {
			code = 1
		}
	}()
	fn(c)
	return 0
}

func (c *child) errorf(format string, args ...any) {
	c.failed = true
	fmt.Printf("FAIL: "+format+"\n", args...)
}

func (c *child) fatalf(format string, args ...any) {
	c.errorf(format, args...)
	panic(abort{})
}

func (c *child) must(what string, err error) {
	if err != nil {
		c.fatalf("%s: %v", what, err)
	}
}

// build runs NewPlan and Setup, checking that every mount Setup made is inside the
// rootfs; then Enter and Finalize.
func (c *child) build(spec *specs.Spec, opts Options, noPivot bool) *Plan {
	plan, err := NewPlan(spec, filepath.Join(c.dir, "bundle"), opts)
	c.must("NewPlan", err)
	c.setupInside(plan)
	c.must("Enter", plan.Enter(noPivot))
	c.must("Finalize", plan.Finalize())
	return plan
}

func (c *child) setupInside(plan *Plan) {
	before := mountpoints(c)
	c.must("Setup", plan.Setup())
	for mp := range mountpoints(c) {
		if !before[mp] && !within(mp, c.rootfs) {
			c.errorf("Setup mounted %s, outside the rootfs %s", mp, c.rootfs)
		}
	}
}

func mountpoints(c *child) map[string]bool {
	ms, err := mountinfo.GetMounts(nil)
	c.must("read mountinfo", err)
	set := map[string]bool{}
	for _, m := range ms {
		set[m.Mountpoint] = true
	}
	return set
}

// mounts maps each mount point to its top mount.
func (c *child) mounts() map[string]*mountinfo.Info {
	ms, err := mountinfo.GetMounts(nil)
	c.must("read mountinfo", err)
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID < ms[j].ID })
	byPoint := map[string]*mountinfo.Info{}
	for _, m := range ms {
		byPoint[m.Mountpoint] = m
	}
	return byPoint
}

// wantMount checks a mount point's filesystem type and per-mount options.
func (c *child) wantMount(ms map[string]*mountinfo.Info, point, fstype string, opts ...string) {
	m := ms[point]
	if m == nil {
		c.errorf("no mount at %s", point)
		return
	}
	if fstype != "" && m.FSType != fstype {
		c.errorf("%s: type %s, want %s", point, m.FSType, fstype)
	}
	have := map[string]bool{}
	for _, o := range strings.Split(m.Options+","+m.VFSOptions, ",") {
		have[o] = true
	}
	for _, o := range opts {
		if !have[o] {
			c.errorf("%s: options %q/%q lack %s", point, m.Options, m.VFSOptions, o)
		}
	}
}

// wantErrno checks that writing a new file at p fails with errno.
func (c *child) wantWriteErr(p string, errno unix.Errno) {
	err := os.WriteFile(p, []byte("x"), 0o644)
	if !errors.Is(err, errno) {
		c.errorf("write %s: %v, want %v", p, err, errno)
	}
}

func (c *child) wantWrite(p string) {
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		c.errorf("write %s: %v, want success", p, err)
	}
}

func (c *child) wantContent(p, want string) {
	b, err := os.ReadFile(p)
	if err != nil || string(b) != want {
		c.errorf("read %s: %q, %v; want %q", p, b, err, want)
	}
}

func (c *child) wantDevice(p string, typ uint32, major, minor uint32, mode uint32, uid, gid uint32) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		c.errorf("device %s: %v", p, err)
		return
	}
	if st.Mode&unix.S_IFMT != typ || (typ != unix.S_IFIFO && (unix.Major(st.Rdev) != major || unix.Minor(st.Rdev) != minor)) {
		c.errorf("device %s: type %o %d:%d, want %o %d:%d", p, st.Mode&unix.S_IFMT, unix.Major(st.Rdev), unix.Minor(st.Rdev), typ, major, minor)
	}
	if st.Mode&0o7777 != mode || st.Uid != uid || st.Gid != gid {
		c.errorf("device %s: mode %04o uid %d gid %d, want %04o %d %d", p, st.Mode&0o7777, st.Uid, st.Gid, mode, uid, gid)
	}
}

func (c *child) wantLink(p, target string) {
	got, err := os.Readlink(p)
	if err != nil || got != target {
		c.errorf("symlink %s -> %q (%v), want -> %q", p, got, err, target)
	}
}

func (c *child) wantEmptyDir(p string) {
	entries, err := os.ReadDir(p)
	if err != nil || len(entries) != 0 {
		c.errorf("%s: %d entries, %v; want an empty directory", p, len(entries), err)
	}
}

func (c *child) wantInRoot() {
	c.wantContent("/berth-rootfs-marker", "inside")
	if wd, err := os.Getwd(); err != nil || wd != "/" {
		c.errorf("cwd %q (%v), want /", wd, err)
	}
	out, err := exec.Command("/bin/cat", "/berth-rootfs-marker").CombinedOutput()
	if err != nil || string(out) != "inside" {
		c.errorf("/bin/cat in the container: %q, %v", out, err)
	}
}

// baseSpec is what every scenario mounts: proc, a tmpfs /dev with devpts, devices.
func baseSpec() *specs.Spec {
	return &specs.Spec{
		Root: &specs.Root{Path: "rootfs"},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		},
		Linux: &specs.Linux{},
	}
}

func u32(v uint32) *uint32 { return &v }

func fileMode(m os.FileMode) *os.FileMode { return &m }

func childFull(c *child) {
	// A submount in the rbind source, in the child's namespace only, for "rro".
	c.must("mount tmpfs on tree/sub", unix.Mount("tmpfs", filepath.Join(c.dir, "tree/sub"), "tmpfs", 0, "size=64k"))
	escape := os.Getenv(escapeEnv)
	spec := baseSpec()
	spec.Root.Readonly = true
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=64k"}},
		specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev", "relatime"}},
		specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "size=1m"}},
		specs.Mount{Destination: "/data-ro", Type: "bind", Source: filepath.Join(c.dir, "data-ro"), Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/data-rw", Type: "bind", Source: filepath.Join(c.dir, "data-rw"), Options: []string{"rbind", "rw", "rprivate"}},
		specs.Mount{Destination: "/etc/hostfile", Type: "bind", Source: filepath.Join(c.dir, "hostfile"), Options: []string{"bind", "ro", "nosuid"}},
		specs.Mount{Destination: "/tree", Type: "bind", Source: filepath.Join(c.dir, "tree"), Options: []string{"rbind", "rro"}},
		// The traps: each must land inside the rootfs.
		specs.Mount{Destination: "/abs/mnt", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/rel/mnt", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/up" + escape, Type: "tmpfs", Source: "tmpfs"},
	)
	spec.Linux.Devices = []specs.LinuxDevice{
		{Path: "/dev/fuse", Type: "c", Major: 10, Minor: 229, FileMode: fileMode(0o600), UID: u32(1000), GID: u32(1001)},
		{Path: "/dev/berth/loop", Type: "b", Major: 7, Minor: 200, FileMode: fileMode(0o660), GID: u32(6)},
		{Path: "/dev/berth-fifo", Type: "p", FileMode: fileMode(0o640)},
	}
	spec.Linux.MaskedPaths = []string{"/secret-file", "/secret-dir", "/does-not-exist"}
	// Mask what this kernel's /proc has of a file and a directory Docker masks.
	var procMasks []struct {
		path string
		dir  bool
	}
	for _, p := range []string{"/proc/kcore", "/proc/timer_list", "/proc/keys", "/proc/acpi", "/proc/scsi"} {
		if st, err := os.Stat(p); err == nil {
			procMasks = append(procMasks, struct {
				path string
				dir  bool
			}{p, st.IsDir()})
			spec.Linux.MaskedPaths = append(spec.Linux.MaskedPaths, p)
		}
	}
	spec.Linux.ReadonlyPaths = []string{"/proc/sys", "/data-rw/ro-sub", "/does-not-exist-either"}
	spec.Linux.Sysctl = map[string]string{"kernel.domainname": "berth-test.example", "kernel.msgmax": "12345"}

	plan, err := NewPlan(spec, filepath.Join(c.dir, "bundle"), Options{})
	c.must("NewPlan", err)
	c.setupInside(plan)
	// A pty from the host's devpts as the console, bound before Enter.
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	c.must("open host /dev/ptmx", err)
	defer ptmx.Close()
	c.must("unlockpt", unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0))
	ptn, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	c.must("ptsname", err)
	var pts unix.Stat_t
	c.must("stat pty", unix.Stat(fmt.Sprintf("/dev/pts/%d", ptn), &pts))
	c.must("BindConsole", plan.BindConsole(fmt.Sprintf("/dev/pts/%d", ptn)))
	c.must("Enter", plan.Enter(false))
	c.must("Finalize", plan.Finalize())

	c.wantInRoot()
	ms := c.mounts()
	c.wantMount(ms, "/", "", "ro")
	c.wantMount(ms, "/proc", "proc", "nosuid", "nodev", "noexec")
	c.wantMount(ms, "/dev", "tmpfs", "nosuid", "size=65536k", "mode=755")
	c.wantMount(ms, "/dev/pts", "devpts", "nosuid", "noexec", "ptmxmode=666", "mode=620", "gid=5")
	c.wantMount(ms, "/dev/shm", "tmpfs", "nosuid", "nodev", "noexec", "size=64k")
	c.wantMount(ms, "/dev/mqueue", "mqueue", "nosuid", "nodev", "noexec")
	c.wantMount(ms, "/dev/console", "devpts")
	c.wantMount(ms, "/sys", "sysfs", "ro", "nosuid", "nodev", "noexec")
	c.wantMount(ms, "/sys/fs/cgroup", "tmpfs", "ro", "nosuid", "nodev", "noexec", "mode=755")
	c.wantMount(ms, "/sys/fs/cgroup/memory", "cgroup", "ro", "nosuid", "nodev", "noexec", "memory")
	c.wantMount(ms, "/sys/fs/cgroup/systemd", "cgroup", "ro", "name=systemd")
	c.wantMount(ms, "/sys/fs/cgroup/unified", "cgroup2", "ro")
	c.wantMount(ms, "/tmp", "tmpfs", "rw", "nosuid", "nodev", "size=1024k")
	c.wantMount(ms, "/data-ro", "", "ro")
	c.wantMount(ms, "/data-rw", "", "rw")
	c.wantMount(ms, "/data-rw/ro-sub", "", "ro", "nosuid", "nodev", "noexec")
	c.wantMount(ms, "/etc/hostfile", "", "ro", "nosuid")
	c.wantMount(ms, "/tree", "", "ro")
	c.wantMount(ms, "/tree/sub", "tmpfs", "ro")
	c.wantMount(ms, "/proc/sys", "proc", "ro", "nosuid", "nodev", "noexec")
	c.wantMount(ms, "/secret-file", "tmpfs") // the container's /dev/null, on its /dev
	for _, p := range procMasks {
		if p.dir {
			c.wantMount(ms, p.path, "tmpfs", "ro")
			c.wantEmptyDir(p.path)
		} else {
			c.wantMount(ms, p.path, "tmpfs")
			c.wantContent(p.path, "")
		}
	}
	c.wantMount(ms, "/secret-dir", "tmpfs", "ro")
	// The traps, resolved as the container sees them.
	c.wantMount(ms, "/victim/mnt", "tmpfs")
	c.wantMount(ms, c.dir+"/victim/mnt", "tmpfs")
	c.wantMount(ms, escape, "tmpfs")
	// Nothing of the host is left: every mount point is one the spec asked for.
	allowed := []string{"/", "/proc", "/dev", "/sys", "/tmp", "/data-ro", "/data-rw", "/etc/hostfile", "/tree",
		"/victim", c.dir, escape, "/secret-file", "/secret-dir"}
	for mp := range ms {
		ok := false
		for _, a := range allowed {
			if mp == a || (a != "/" && within(mp, a)) {
				ok = true
			}
		}
		if !ok {
			c.errorf("unexpected mount at %s: the host's mounts should be gone", mp)
		}
	}

	// Read-only where asked, writable elsewhere.
	c.wantWriteErr("/new-file", unix.EROFS)
	c.wantWriteErr("/data-ro/new", unix.EROFS)
	c.wantWriteErr("/data-rw/ro-sub/new", unix.EROFS)
	c.wantWriteErr("/tree/new", unix.EROFS)
	c.wantWriteErr("/tree/sub/new", unix.EROFS)
	c.wantWriteErr("/etc/hostfile", unix.EROFS)
	c.wantWriteErr("/proc/sys/kernel/domainname", unix.EROFS)
	c.wantWriteErr("/sys/fs/cgroup/memory/memory.limit_in_bytes", unix.EROFS)
	c.wantWrite("/data-rw/new")
	c.wantWrite("/tmp/new")
	c.wantWrite("/dev/shm/new")
	c.wantContent("/etc/hostfile", "hostfile")
	c.wantContent("/data-ro/file", "ro")

	// Masks.
	c.wantContent("/secret-file", "")
	c.wantEmptyDir("/secret-dir")
	c.wantWriteErr("/secret-dir/new", unix.EROFS)

	// Devices, symlinks, console.
	c.wantDevice("/dev/null", unix.S_IFCHR, 1, 3, 0o666, 0, 0)
	c.wantDevice("/dev/zero", unix.S_IFCHR, 1, 5, 0o666, 0, 0)
	c.wantDevice("/dev/full", unix.S_IFCHR, 1, 7, 0o666, 0, 0)
	c.wantDevice("/dev/random", unix.S_IFCHR, 1, 8, 0o666, 0, 0)
	c.wantDevice("/dev/urandom", unix.S_IFCHR, 1, 9, 0o666, 0, 0)
	c.wantDevice("/dev/tty", unix.S_IFCHR, 5, 0, 0o666, 0, 0)
	c.wantDevice("/dev/fuse", unix.S_IFCHR, 10, 229, 0o600, 1000, 1001)
	c.wantDevice("/dev/berth/loop", unix.S_IFBLK, 7, 200, 0o660, 0, 6)
	c.wantDevice("/dev/berth-fifo", unix.S_IFIFO, 0, 0, 0o640, 0, 0)
	c.wantWrite("/dev/null")
	c.wantLink("/dev/fd", "/proc/self/fd")
	c.wantLink("/dev/stdin", "/proc/self/fd/0")
	c.wantLink("/dev/stdout", "/proc/self/fd/1")
	c.wantLink("/dev/stderr", "/proc/self/fd/2")
	c.wantLink("/dev/ptmx", "pts/ptmx")
	if f, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0); err != nil {
		c.errorf("open /dev/ptmx in the container: %v", err)
	} else {
		f.Close()
	}
	var console unix.Stat_t
	if err := unix.Stat("/dev/console", &console); err != nil || console.Rdev != pts.Rdev {
		c.errorf("/dev/console: rdev %#x (%v), want the pty %#x", console.Rdev, err, pts.Rdev)
	}

	// Sysctls, cgroups.
	c.wantContent("/proc/sys/kernel/domainname", "berth-test.example\n")
	c.wantContent("/proc/sys/kernel/msgmax", "12345\n")
	var uts unix.Utsname
	c.must("uname", unix.Uname(&uts))
	if got := unix.ByteSliceToString(uts.Domainname[:]); got != "berth-test.example" {
		c.errorf("domainname %q, want berth-test.example", got)
	}
	for _, p := range []string{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.shares", "/sys/fs/cgroup/unified/cgroup.procs"} {
		if _, err := os.Stat(p); err != nil {
			c.errorf("cgroup file: %v", err)
		}
	}
}

func childNoPivot(c *child) {
	spec := baseSpec()
	spec.Root.Readonly = true
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/data-ro", Type: "bind", Source: filepath.Join(c.dir, "data-ro"), Options: []string{"rbind", "ro"}})
	spec.Linux.MaskedPaths = []string{"/secret-file"}
	spec.Linux.ReadonlyPaths = []string{"/proc/sys"}
	c.build(spec, Options{}, true)
	c.wantInRoot()
	ms := c.mounts()
	c.wantMount(ms, "/", "", "ro")
	c.wantMount(ms, "/proc", "proc")
	c.wantWriteErr("/new-file", unix.EROFS)
	c.wantWriteErr("/data-ro/new", unix.EROFS)
	c.wantWriteErr("/proc/sys/kernel/domainname", unix.EROFS)
	c.wantContent("/secret-file", "")
	c.wantContent("/data-ro/file", "ro")
	c.wantDevice("/dev/null", unix.S_IFCHR, 1, 3, 0o666, 0, 0)
	// Chrooted: "/.." is "/" and the kernel agrees the root is the rootfs.
	var root, up unix.Stat_t
	c.must("stat /", unix.Stat("/", &root))
	c.must("stat /..", unix.Stat("/..", &up))
	if root.Ino != up.Ino || root.Dev != up.Dev {
		c.errorf("/.. is not /: the process can climb out of the rootfs")
	}
	if _, err := os.Stat("/proc/self/root/berth-rootfs-marker"); err != nil {
		c.errorf("/proc/self/root is not the rootfs: %v", err)
	}
}

func childUserNS(c *child) {
	spec := baseSpec()
	spec.Root.Readonly = true
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		specs.Mount{Destination: "/data-ro", Type: "bind", Source: filepath.Join(c.dir, "data-ro"), Options: []string{"rbind", "ro"}},
		specs.Mount{Destination: "/data-rw", Type: "bind", Source: filepath.Join(c.dir, "data-rw"), Options: []string{"rbind", "nosuid"}},
	)
	spec.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.UserNamespace}, {Type: specs.MountNamespace}}
	spec.Linux.MaskedPaths = []string{"/secret-file", "/secret-dir"}
	spec.Linux.ReadonlyPaths = []string{"/proc/sys", "/data-rw/ro-sub"}
	plan, err := NewPlan(spec, filepath.Join(c.dir, "bundle"), Options{})
	c.must("NewPlan", err)
	c.setupInside(plan)
	c.must("Enter", plan.Enter(false))
	// The console after Enter, from the container's own devpts, as runc does it.
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	c.must("open /dev/ptmx in the container", err)
	defer ptmx.Close()
	c.must("unlockpt", unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0))
	ptn, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	c.must("ptsname", err)
	c.must("BindConsole", plan.BindConsole(fmt.Sprintf("/dev/pts/%d", ptn)))
	c.must("Finalize", plan.Finalize())

	c.wantInRoot()
	ms := c.mounts()
	c.wantMount(ms, "/", "", "ro")
	c.wantMount(ms, "/proc", "proc")
	// No network namespace of its own: sysfs is the host's, bound, read-only throughout.
	c.wantMount(ms, "/sys", "sysfs", "ro", "nosuid", "nodev", "noexec")
	c.wantMount(ms, "/sys/fs/cgroup", "", "ro")
	c.wantMount(ms, "/dev/mqueue", "mqueue")
	c.wantMount(ms, "/dev/null", "devtmpfs")
	c.wantMount(ms, "/dev/console", "devpts")
	c.wantWriteErr("/new-file", unix.EROFS)
	c.wantWriteErr("/data-ro/new", unix.EROFS)
	c.wantWriteErr("/data-rw/ro-sub/new", unix.EROFS)
	c.wantWriteErr("/proc/sys/kernel/domainname", unix.EROFS)
	c.wantWrite("/data-rw/new")
	c.wantMount(ms, "/data-rw", "", "rw", "nosuid")
	c.wantContent("/secret-file", "")
	c.wantEmptyDir("/secret-dir")
	// Bound from the host: the host's nodes, owner and mode.
	for _, d := range defaultDevices {
		var st unix.Stat_t
		if err := unix.Stat(d.path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR ||
			unix.Major(st.Rdev) != d.major || unix.Minor(st.Rdev) != d.minor {
			c.errorf("%s: mode %o rdev %d:%d (%v), want c %d:%d", d.path, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev), err, d.major, d.minor)
		}
	}
	c.wantWrite("/dev/null")
	c.wantLink("/dev/ptmx", "pts/ptmx")
}

func childCgroupNS(c *child) {
	spec := baseSpec()
	spec.Mounts = append(spec.Mounts,
		specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro", "nosuid", "noexec", "nodev"}},
	)
	spec.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.CgroupNamespace}}
	c.build(spec, Options{}, false)
	ms := c.mounts()
	c.wantMount(ms, "/sys/fs/cgroup", "tmpfs", "ro")
	c.wantMount(ms, "/sys/fs/cgroup/memory", "cgroup", "ro", "memory")
	c.wantMount(ms, "/sys/fs/cgroup/systemd", "cgroup", "ro", "name=systemd")
	c.wantMount(ms, "/sys/fs/cgroup/unified", "cgroup2", "ro")
	// Mounted fresh in the cgroup namespace: our cgroup is the root.
	if m := ms["/sys/fs/cgroup/memory"]; m != nil && m.Root != "/" {
		c.errorf("/sys/fs/cgroup/memory shows %s of the hierarchy, want / (the namespace's root)", m.Root)
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	c.must("read /proc/self/cgroup", err)
	if !strings.Contains(string(b), ":memory:/\n") {
		c.errorf("/proc/self/cgroup:\n%s\nwant memory:/ in a cgroup namespace", b)
	}
	c.wantWriteErr("/sys/fs/cgroup/memory/memory.limit_in_bytes", unix.EROFS)
}

// childRefusals tries specs that must fail and checks the errors. Each attempt
// leaves its mounts behind in this child's namespace, which dies with it.
func childRefusals(c *child) {
	bundle := filepath.Join(c.dir, "bundle")
	try := func(name string, spec *specs.Spec, step func(*Plan) error, want string) {
		plan, err := NewPlan(spec, bundle, Options{})
		c.must(name+": NewPlan", err)
		err = step(plan)
		if err == nil || !strings.Contains(err.Error(), want) {
			c.errorf("%s: error %v, want one containing %q", name, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			c.errorf("%s: error is not one line: %q", name, err)
		}
	}
	setup := func(p *Plan) error { return p.Setup() }
	one := func(m ...specs.Mount) *specs.Spec {
		return &specs.Spec{Root: &specs.Root{Path: "rootfs"}, Mounts: m}
	}
	try("symlink into /proc", one(specs.Mount{Destination: "/procsys/x", Type: "tmpfs", Source: "tmpfs"}),
		setup, "mount tmpfs to /procsys/x: destination resolves through a symlink to /proc/sys/x")
	try("tmpfs on /proc", one(specs.Mount{Destination: "/proc", Type: "tmpfs", Source: "tmpfs"}),
		setup, "mount tmpfs to /proc: only proc may be mounted on /proc")
	try("bind inside /proc", one(
		specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"},
		specs.Mount{Destination: "/proc/version", Type: "bind", Source: filepath.Join(c.dir, "hostfile"), Options: []string{"bind"}}),
		setup, "mount bind to /proc/version: destination is inside /proc")
	try("proc over a file", one(specs.Mount{Destination: "/notdir", Type: "proc", Source: "proc"}),
		setup, "mount proc to /notdir: destination is not a directory")
	try("kernel refuses data", one(specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=lots"}}),
		setup, "mount tmpfs to /tmp: invalid argument")
	try("missing bind source", one(specs.Mount{Destination: "/data", Type: "bind", Source: filepath.Join(c.dir, "nope"), Options: []string{"rbind"}}),
		setup, "bind-mount "+filepath.Join(c.dir, "nope")+" to /data: source: no such file or directory")
	unknown := one(specs.Mount{Destination: "/proc", Type: "proc", Source: "proc"})
	unknown.Linux = &specs.Linux{Sysctl: map[string]string{"kernel.berth_no_such_key": "1"}}
	try("unknown sysctl", unknown, func(p *Plan) error {
		if err := p.Setup(); err != nil {
			return err
		}
		if err := p.Enter(false); err != nil {
			return err
		}
		return p.Finalize()
	}, `sysctl "kernel.berth_no_such_key": unknown key (no /proc/sys/kernel/berth_no_such_key in the container)`)
}
