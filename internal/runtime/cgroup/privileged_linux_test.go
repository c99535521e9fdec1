package cgroup

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// These tests make real cgroups under /berth-test-cgroup-<random>/ in every hierarchy and
// remove them afterwards. Run them under the shared lock:
//
//	flock /tmp/berth-priv.lock go test ./internal/runtime/cgroup/

const helperEnv = "BERTH_TEST_CGROUP_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "alloc" {
		allocHelper()
	}
	os.Exit(m.Run())
}

// allocHelper waits for a line on stdin (by then it is in its cgroup), then touches
// 100 MiB page by page.
func allocHelper() {
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	b := make([]byte, 100<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	fmt.Println("survived", len(b))
	os.Exit(0)
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates real cgroups")
	}
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// realManager returns a manager for /berth-test-cgroup-<rand>/c1 on layout l and removes
// it (and its parent, in every hierarchy) when the test ends.
func realManager(t *testing.T, l *layout) *manager {
	t.Helper()
	parent := "/berth-test-cgroup-" + randomSuffix(t)
	p, err := parseCgroupsPath(parent+"/c1", "")
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(l, p)
	t.Cleanup(func() {
		_ = m.Thaw()
		if err := m.Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, d := range m.Paths() {
			if err := unix.Rmdir(filepath.Dir(d)); err != nil && !errors.Is(err, unix.ENOENT) {
				t.Errorf("cleanup: rmdir %s: %v", filepath.Dir(d), err)
			}
		}
	})
	return m
}

// v1Manager is realManager on this machine's layout, which must have v1 hierarchies.
func v1Manager(t *testing.T) *manager {
	t.Helper()
	requireRoot(t)
	l, err := detectLayout()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.v1["memory"]; !ok {
		t.Skip("needs cgroup v1 hierarchies; this machine has none (the v2 code is tested on fake trees)")
	}
	m := realManager(t, l)
	// New, given the same path, finds the same directories.
	pub, err := New(strings.TrimPrefix(m.v1["memory"], m.v1Mounts["memory"]), "ignored")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(pub.Paths(), m.Paths()) {
		t.Fatalf("New: paths %v, want %v", pub.Paths(), m.Paths())
	}
	return m
}

// startProcess starts a command with a stdin pipe and captured output; the test's end
// kills it if still running.
func startProcess(t *testing.T, cmd *exec.Cmd) (io.WriteCloser, *bytes.Buffer) {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return stdin, out
}

func readTrim(t *testing.T, dir, name string) string {
	t.Helper()
	s, err := readString(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRealV1ApplySetReadBack(t *testing.T) {
	m := v1Manager(t)
	cmd := exec.Command("sleep", "60")
	startProcess(t, cmd)
	pid := cmd.Process.Pid
	if err := m.Apply(pid); err != nil {
		t.Fatal(err)
	}

	// The kernel agrees the process moved, in every hierarchy.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	self, err := parseSelfCgroup(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for c, dir := range m.Paths() {
		key := c
		if c == UnifiedKey {
			key = ""
		}
		mnt := m.unifiedMount
		if c != UnifiedKey {
			mnt = m.v1Mounts[c]
		}
		if want := strings.TrimPrefix(dir, mnt); self[key] != want {
			t.Errorf("/proc/%d/cgroup %s = %q, want %q", pid, c, self[key], want)
		}
	}
	pids, err := m.Pids()
	if err != nil || !slices.Equal(pids, []int{pid}) {
		t.Errorf("Pids = %v, %v; want [%d]", pids, err, pid)
	}

	mem, cpu, pidsDir, blkio, cpuset := m.v1["memory"], m.v1["cpu"], m.v1["pids"], m.v1["blkio"], m.v1["cpuset"]
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{
			Limit: ptr[int64](64 << 20), Swap: ptr[int64](128 << 20), Reservation: ptr[int64](32 << 20),
			Kernel: ptr[int64](64 << 20), KernelTCP: ptr[int64](16 << 20), Swappiness: ptr[uint64](20),
		},
		CPU:  &specs.LinuxCPU{Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Cpus: "0", Mems: "0"},
		Pids: &specs.LinuxPids{Limit: 50},
	}
	var blkDev string
	if data, err := os.ReadFile("/sys/block/vda/dev"); err == nil {
		blkDev = strings.TrimSpace(string(data))
		var maj, mn int64
		fmt.Sscanf(blkDev, "%d:%d", &maj, &mn)
		r.BlockIO = &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: maj, Minor: mn}, Rate: 1 << 20}}}
	}
	if m.hasV2("hugetlb") || m.v1["hugetlb"] != "" {
		r.HugepageLimits = []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 8 << 20}}
	}
	if err := m.Set(r); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, file, want string }{
		{mem, "memory.limit_in_bytes", "67108864"},
		{mem, "memory.memsw.limit_in_bytes", "134217728"},
		{mem, "memory.soft_limit_in_bytes", "33554432"},
		{mem, "memory.swappiness", "20"},
		{cpu, "cpu.shares", "512"},
		{cpu, "cpu.cfs_quota_us", "50000"},
		{cpu, "cpu.cfs_period_us", "100000"},
		{cpuset, "cpuset.cpus", "0"},
		{cpuset, "cpuset.mems", "0"},
		{pidsDir, "pids.max", "50"},
	} {
		if got := readTrim(t, c.dir, c.file); got != c.want {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}
	if blkDev != "" {
		if got := readTrim(t, blkio, "blkio.throttle.read_bps_device"); got != blkDev+" 1048576" {
			t.Errorf("blkio.throttle.read_bps_device = %q, want %q", got, blkDev+" 1048576")
		}
	}
	if r.HugepageLimits != nil {
		dir := m.v1["hugetlb"]
		file := "hugetlb.2MB.limit_in_bytes"
		if dir == "" {
			dir, file = m.unified, "hugetlb.2MB.max"
		}
		if got := readTrim(t, dir, file); got != "8388608" {
			t.Errorf("%s/%s = %q, want 8388608", dir, file, got)
		}
	}

	// Raising both needs memsw written first, lowering needs the limit first; the
	// kernel refuses the other order.
	for _, step := range []struct{ limit, swap int64 }{{256 << 20, 512 << 20}, {32 << 20, 32 << 20}, {-1, -1}, {48 << 20, 64 << 20}} {
		if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr(step.limit), Swap: ptr(step.swap)}}); err != nil {
			t.Fatalf("limit %d swap %d: %v", step.limit, step.swap, err)
		}
		want := func(v int64) string {
			if v == -1 {
				return "9223372036854771712"
			}
			return strconv.FormatInt(v, 10)
		}
		if got := readTrim(t, mem, "memory.limit_in_bytes"); got != want(step.limit) {
			t.Errorf("limit %d: memory.limit_in_bytes = %s", step.limit, got)
		}
		if got := readTrim(t, mem, "memory.memsw.limit_in_bytes"); got != want(step.swap) {
			t.Errorf("swap %d: memory.memsw.limit_in_bytes = %s", step.swap, got)
		}
	}

	// A value no kernel takes is refused before writing; one this kernel refuses comes
	// back naming the file and the value.
	err = m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](200), Swap: ptr[int64](100)}})
	if err == nil || err.Error() != "cgroup: invalid memory swap 100: must be >= memory limit 200" {
		t.Errorf("swap below limit: %v", err)
	}
	err = m.Set(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "63"}})
	if want := `cgroup: write "63" to ` + cpuset + "/cpuset.cpus: numerical result out of range"; err == nil || err.Error() != want || !errors.Is(err, unix.ERANGE) {
		t.Errorf("impossible cpuset: %v\nwant %s", err, want)
	}

	// Unified keys go to the cgroup2 directory only where a file exists there: on this
	// hybrid layout memory lives in v1, hugetlb may live in cgroup2.
	if m.unified != "" {
		err = m.Set(&specs.LinuxResources{Unified: map[string]string{"memory.high": "1000000"}})
		if err == nil || !errors.Is(err, ErrNotSupported) {
			t.Errorf("unified memory.high on hybrid: %v, want not supported", err)
		}
		if m.hasV2("hugetlb") {
			if err := m.Set(&specs.LinuxResources{Unified: map[string]string{"hugetlb.2MB.max": "2097152"}}); err != nil {
				t.Errorf("unified hugetlb.2MB.max on hybrid: %v", err)
			} else if got := readTrim(t, m.unified, "hugetlb.2MB.max"); got != "2097152" {
				t.Errorf("hugetlb.2MB.max = %q after unified write", got)
			}
		}
	}

	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Memory.Limit != 48<<20 || st.Pids.Current != 1 || st.Pids.Limit != 50 {
		t.Errorf("Stats: memory limit %d, pids %d/%d; want %d, 1/50", st.Memory.Limit, st.Pids.Current, st.Pids.Limit, 48<<20)
	}
	if _, ok := st.Memory.Stat["cache"]; !ok {
		t.Errorf("Stats: memory.stat not read: %v", st.Memory.Stat)
	}
}

func TestRealV1FreezeThaw(t *testing.T) {
	m := v1Manager(t)
	cmd := exec.Command("sleep", "60")
	startProcess(t, cmd)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// A later command (pause) rebuilds the manager from the recorded paths.
	loaded, err := Load(m.Paths())
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, m.v1["freezer"], "freezer.state"); got != "FROZEN" {
		t.Errorf("freezer.state = %q after Freeze", got)
	}
	if frozen, err := m.State(); err != nil || !frozen {
		t.Errorf("State = %v, %v after Freeze", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, m.v1["freezer"], "freezer.state"); got != "THAWED" {
		t.Errorf("freezer.state = %q after Thaw", got)
	}
	if frozen, err := m.State(); err != nil || frozen {
		t.Errorf("State = %v, %v after Thaw", frozen, err)
	}
}

// TestRealV1PidsLimit runs a shell that forks once it is told to; with pids.max=1 the
// fork fails, with room it succeeds.
func TestRealV1PidsLimit(t *testing.T) {
	for _, tc := range []struct {
		limit   int64
		forkRan bool
	}{{1, false}, {10, true}} {
		t.Run(fmt.Sprint("limit ", tc.limit), func(t *testing.T) {
			m := v1Manager(t)
			cmd := exec.Command("sh", "-c", "read x; /bin/echo child-ran; echo done")
			stdin, out := startProcess(t, cmd)
			if err := m.Apply(cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
			if err := m.Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: tc.limit}}); err != nil {
				t.Fatal(err)
			}
			_, _ = stdin.Write([]byte("go\n"))
			_ = cmd.Wait()
			if got := strings.Contains(out.String(), "child-ran"); got != tc.forkRan {
				t.Errorf("pids.max %d: fork ran = %v, want %v; output %q", tc.limit, got, tc.forkRan, out.String())
			}
			if !tc.forkRan {
				ev, err := readKeyed(m.v1["pids"], "pids.events")
				if err != nil || ev["max"] == 0 {
					t.Errorf("pids.events max = %d, %v; want the refused fork counted", ev["max"], err)
				}
			}
		})
	}
}

func TestRealV1OOMKill(t *testing.T) {
	m := v1Manager(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=alloc")
	stdin, out := startProcess(t, cmd)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := m.Set(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](32 << 20), Swap: ptr[int64](32 << 20)}}); err != nil {
		t.Fatal(err)
	}
	if n, err := m.OOMKillCount(); err != nil || n != 0 {
		t.Fatalf("OOMKillCount before = %d, %v", n, err)
	}
	_, _ = stdin.Write([]byte("go\n"))
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("allocating 100 MiB under a 32 MiB limit: %v, output %q; want killed by SIGKILL", err, out.String())
	}
	n, err := m.OOMKillCount()
	if err != nil || n < 1 {
		t.Errorf("OOMKillCount = %d, %v; want >= 1", n, err)
	}
	st, err := m.Stats()
	if err != nil || st.OOMKills < 1 || st.Memory.MaxUsage < 16<<20 {
		t.Errorf("Stats = %+v, %v; want the OOM kill counted and a high max usage", st, err)
	}
}

// TestRealV1Devices allows /dev/null only: writing it works, reading /dev/zero does not.
func TestRealV1Devices(t *testing.T) {
	m := v1Manager(t)
	cmd := exec.Command("sh", "-c", "read x; echo hi > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok; echo done")
	stdin, out := startProcess(t, cmd)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	rules := []specs.LinuxDeviceCgroup{devRuleOf(false, "", -1, -1, "rwm"), devRuleOf(true, "c", 1, 3, "rwm")}
	if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, m.v1["devices"], "devices.list"); got != "c 1:3 rwm" {
		t.Errorf("devices.list = %q, want %q", got, "c 1:3 rwm")
	}
	_, _ = stdin.Write([]byte("go\n"))
	_ = cmd.Wait()
	if o := out.String(); !strings.Contains(o, "null-ok") || strings.Contains(o, "zero-ok") || !strings.Contains(o, "done") {
		t.Errorf("output %q: want null-ok, no zero-ok, done", o)
	}
}

func TestRealV1Destroy(t *testing.T) {
	m := v1Manager(t)
	cmd := exec.Command("sleep", "60")
	startProcess(t, cmd)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	// A cgroup the container made for itself goes too.
	if err := os.Mkdir(filepath.Join(m.v1["memory"], "inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Killed but not yet reaped: Destroy waits for the task to leave.
	_ = cmd.Process.Kill()
	err := m.Destroy()
	_ = cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for c, d := range m.Paths() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s: %s still there (%v)", c, d, err)
		}
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// unifiedManager is a manager that treats this machine's cgroup2 mount as a pure v2
// machine's, to run the cgroup2 code for real on a hybrid machine too.
func unifiedManager(t *testing.T) *manager {
	t.Helper()
	requireRoot(t)
	l, err := detectLayout()
	if err != nil {
		t.Fatal(err)
	}
	if l.unified == nil {
		t.Skip("needs a cgroup2 mount; this machine has none")
	}
	return realManager(t, &layout{unified: l.unified, v2Ctrls: l.v2Ctrls, self: l.self})
}

// TestRealV2DevicesEBPF attaches the compiled device program to a real cgroup2 directory:
// /dev/null is allowed, /dev/zero is not, until an update allows it, and the update
// leaves one program attached.
func TestRealV2DevicesEBPF(t *testing.T) {
	m := unifiedManager(t)
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	run := func(rules []specs.LinuxDeviceCgroup) string {
		t.Helper()
		cmd := exec.Command("sh", "-c", "read x; echo hi > /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null && echo zero-ok; echo done")
		stdin, out := startProcess(t, cmd)
		if err := m.Apply(cmd.Process.Pid); err != nil {
			t.Fatal(err)
		}
		if err := m.Set(&specs.LinuxResources{Devices: rules}); err != nil {
			t.Fatal(err)
		}
		_, _ = stdin.Write([]byte("go\n"))
		_ = cmd.Wait()
		return out.String()
	}
	rules := []specs.LinuxDeviceCgroup{devRuleOf(false, "", -1, -1, "rwm"), devRuleOf(true, "c", 1, 3, "rwm")}
	if o := run(rules); !strings.Contains(o, "null-ok") || strings.Contains(o, "zero-ok") || !strings.Contains(o, "done") {
		t.Errorf("null allowed only: output %q, want null-ok, no zero-ok, done", o)
	}
	if o := run(append(rules, devRuleOf(true, "c", 1, 5, "r"))); !strings.Contains(o, "null-ok") || !strings.Contains(o, "zero-ok") {
		t.Errorf("zero allowed too: output %q, want null-ok and zero-ok", o)
	}
	cg, err := unix.Open(m.unified, unix.O_DIRECTORY|unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cg)
	if ids, err := queryDevicePrograms(cg); err != nil || len(ids) != 1 {
		t.Errorf("attached programs after an update = %v, %v; want exactly one", ids, err)
	}
	// Allow-all detaches everything.
	if o := run([]specs.LinuxDeviceCgroup{devRuleOf(true, "a", -1, -1, "rwm")}); !strings.Contains(o, "zero-ok") {
		t.Errorf("allow all: output %q", o)
	}
	if ids, err := queryDevicePrograms(cg); err != nil || len(ids) != 0 {
		t.Errorf("attached programs after allow-all = %v, %v; want none", ids, err)
	}
}

// TestRealV2Freeze freezes through cgroup.freeze on a real cgroup2 directory.
func TestRealV2Freeze(t *testing.T) {
	m := unifiedManager(t)
	cmd := exec.Command("sleep", "60")
	startProcess(t, cmd)
	if err := m.Apply(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if !exists(m.unified, "cgroup.freeze") {
		t.Skip("kernel has no cgroup2 freezer")
	}
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.State(); err != nil || !frozen {
		t.Errorf("State = %v, %v after Freeze", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.State(); err != nil || frozen {
		t.Errorf("State = %v, %v after Thaw", frozen, err)
	}
	if pids, err := m.Pids(); err != nil || !slices.Equal(pids, []int{cmd.Process.Pid}) {
		t.Errorf("Pids = %v, %v", pids, err)
	}
}

func TestPrimeMigrationLeavesTheProcessWhereItWas(t *testing.T) {
	requireRoot(t)
	before, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	PrimeMigration()
	after, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Errorf("PrimeMigration moved the process:\nbefore %s\nafter %s", before, after)
	}
}
