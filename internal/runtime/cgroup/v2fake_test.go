package cgroup

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeV2Files are the files a fresh cgroup2 directory has, with the kernel's defaults.
var fakeV2Files = map[string]string{
	"cgroup.procs": "", "cgroup.subtree_control": "", "cgroup.freeze": "0",
	"cgroup.events": "populated 0\nfrozen 0\n", "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma",
	"memory.max": "max", "memory.low": "0", "memory.high": "max", "memory.swap.max": "max",
	"memory.current": "0", "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
	"cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
	"cpu.stat":    "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
	"cpuset.cpus": "", "cpuset.mems": "", "pids.max": "max", "pids.current": "0",
	"io.weight": "default 100", "io.max": "",
	"hugetlb.2MB.max": "max", "hugetlb.2MB.rsvd.max": "max", "hugetlb.1GB.max": "max",
	"rdma.max": "",
}

// fakeV2 builds a cgroup2 tree in a temp dir: the root, /berth, and the container's
// /berth/c1 with fakeV2Files, and a manager for /berth/c1 on it.
func fakeV2(t *testing.T) (*manager, string) {
	t.Helper()
	root := t.TempDir()
	leaf := filepath.Join(root, "berth", "c1")
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range fakeV2Files {
		writeFake(t, leaf, name, v)
	}
	for _, dir := range []string{root, filepath.Join(root, "berth")} {
		writeFake(t, dir, "cgroup.controllers", fakeV2Files["cgroup.controllers"])
		writeFake(t, dir, "cgroup.subtree_control", "")
	}
	l := &layout{
		v1:      map[string]mount{},
		unified: &mount{point: root, root: "/"},
		v2Ctrls: strings.Fields(fakeV2Files["cgroup.controllers"]),
		self:    map[string]string{"": "/"},
	}
	p, err := parseCgroupsPath("/berth/c1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(l, p)
	m.plainFS = true
	return m, filepath.Join(root, "berth", "c1")
}

func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(data)
	}
	return out
}

func writeFake(t *testing.T, dir, name, value string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(value), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestV2Apply(t *testing.T) {
	m, dir := fakeV2(t)
	root := filepath.Dir(filepath.Dir(dir))
	if err := m.Apply(4242); err != nil {
		t.Fatal(err)
	}
	if got := readDir(t, dir)["cgroup.procs"]; got != "4242" {
		t.Errorf("cgroup.procs = %q, want 4242", got)
	}
	want := "+cpuset +cpu +io +memory +hugetlb +pids +rdma"
	for _, d := range []string{root, filepath.Join(root, "berth")} {
		if got := readDir(t, d)["cgroup.subtree_control"]; got != want {
			t.Errorf("%s/cgroup.subtree_control = %q, want %q", d, got, want)
		}
	}
	if got := readDir(t, dir)["cgroup.subtree_control"]; got != "" {
		t.Errorf("the container's own subtree_control = %q, want it untouched", got)
	}

	// Controllers already enabled are not written again.
	writeFake(t, root, "cgroup.subtree_control", "cpuset cpu io memory hugetlb pids rdma")
	writeFake(t, filepath.Join(root, "berth"), "cgroup.subtree_control", "cpu memory")
	if err := m.Apply(-1); err != nil {
		t.Fatal(err)
	}
	if got := readDir(t, root)["cgroup.subtree_control"]; got != "cpuset cpu io memory hugetlb pids rdma" {
		t.Errorf("root subtree_control rewritten to %q", got)
	}
	if got := readDir(t, filepath.Join(root, "berth"))["cgroup.subtree_control"]; got != "+cpuset +io +hugetlb +pids +rdma" {
		t.Errorf("/berth subtree_control = %q, want only the missing controllers", got)
	}
}

// TestV2SetGolden applies resources to a fresh fake directory and compares every file
// that changed with the expected content: nothing else may change. A file written twice
// (io.max for two devices) keeps the last value, so those get one case each.
func TestV2SetGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		pre  map[string]string // files set before Set, as the kernel would show them
		r    specs.LinuxResources
		want map[string]string
	}{
		{
			name: "full",
			pre:  map[string]string{"cpu.idle": "1"},
			r: specs.LinuxResources{
				Memory: &specs.LinuxMemory{
					Limit: ptr[int64](256 << 20), Reservation: ptr[int64](128 << 20), Swap: ptr[int64](512 << 20),
					Kernel: ptr[int64](64 << 20), KernelTCP: ptr[int64](1 << 20), Swappiness: ptr[uint64](10), DisableOOMKiller: ptr(true),
				},
				CPU: &specs.LinuxCPU{
					Shares: ptr[uint64](512), Quota: ptr[int64](50000), Period: ptr[uint64](100000), Burst: ptr[uint64](1000),
					Cpus: "0-1", Mems: "0", Idle: ptr[int64](0),
				},
				Pids:           &specs.LinuxPids{Limit: 100},
				BlockIO:        &specs.LinuxBlockIO{Weight: ptr[uint16](500), ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1 << 20}}},
				HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
				Rdma:           map[string]specs.LinuxRdma{"mlx5_0": {HcaHandles: ptr[uint32](3), HcaObjects: ptr[uint32](100)}},
				Unified:        map[string]string{"memory.high": "200000000"},
			},
			want: map[string]string{
				"memory.max": "268435456", "memory.low": "134217728", "memory.swap.max": "268435456",
				"cpu.weight": "20", "cpu.max": "50000 100000", "cpu.max.burst": "1000", "cpu.idle": "0",
				"cpuset.cpus": "0-1", "cpuset.mems": "0", "pids.max": "100",
				"io.weight": "default 4950", "io.max": "8:0 rbps=1048576",
				"hugetlb.2MB.max": "4194304", "hugetlb.2MB.rsvd.max": "4194304",
				"rdma.max": "mlx5_0 hca_handle=3 hca_object=100", "memory.high": "200000000",
			},
		},
		{name: "default shares map to weight 39", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](1024)}}, want: map[string]string{"cpu.weight": "39"}},
		{name: "max shares", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](262144)}}, want: map[string]string{"cpu.weight": "10000"}},
		{name: "min shares", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: ptr[uint64](2)}}, want: map[string]string{"cpu.weight": "1"}},
		{name: "unlimited memory", pre: map[string]string{"memory.max": "1000", "memory.swap.max": "0"}, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-1)}}, want: map[string]string{"memory.max": "max", "memory.swap.max": "max"}},
		{name: "swap -1", pre: map[string]string{"memory.swap.max": "0"}, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 << 20), Swap: ptr[int64](-1)}}, want: map[string]string{"memory.max": "104857600", "memory.swap.max": "max"}},
		{name: "swap equal to limit means no swap", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](100 << 20), Swap: ptr[int64](100 << 20)}}, want: map[string]string{"memory.max": "104857600", "memory.swap.max": "0"}},
		{name: "swap alone measured against the limit in force", pre: map[string]string{"memory.max": "1000"}, r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](3000)}}, want: map[string]string{"memory.swap.max": "2000"}},
		{name: "quota alone keeps the period", r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](20000)}}, want: map[string]string{"cpu.max": "20000"}},
		{name: "period alone keeps the quota", pre: map[string]string{"cpu.max": "30000 100000"}, r: specs.LinuxResources{CPU: &specs.LinuxCPU{Period: ptr[uint64](50000)}}, want: map[string]string{"cpu.max": "30000 50000"}},
		{name: "unlimited quota", pre: map[string]string{"cpu.max": "5000 100000"}, r: specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: ptr[int64](-1), Period: ptr[uint64](100000)}}, want: map[string]string{"cpu.max": "max 100000"}},
		{name: "unlimited pids", pre: map[string]string{"pids.max": "10"}, r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: -1}}, want: map[string]string{"pids.max": "max"}},
		{name: "pids 0 leaves it alone", pre: map[string]string{"pids.max": "10"}, r: specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 0}}, want: map[string]string{}},
		{name: "write bps", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 16}, Rate: 5}}}}, want: map[string]string{"io.max": "8:16 wbps=5"}},
		{name: "read iops", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleReadIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 7}}}}, want: map[string]string{"io.max": "8:0 riops=7"}},
		{name: "write iops 0 lifts the limit", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 0}}}}, want: map[string]string{"io.max": "8:0 wiops=max"}},
		{name: "weight device", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{WeightDevice: []specs.LinuxWeightDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Weight: ptr[uint16](10)}}}}, want: map[string]string{"io.weight": "8:0 1"}},
		{name: "bfq takes the blkio scale", pre: map[string]string{"io.bfq.weight": "default 100"}, r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: ptr[uint16](500)}}, want: map[string]string{"io.bfq.weight": "default 500"}},
		{name: "empty resources", r: specs.LinuxResources{Memory: &specs.LinuxMemory{}, CPU: &specs.LinuxCPU{}, BlockIO: &specs.LinuxBlockIO{}}, want: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, dir := fakeV2(t)
			for k, v := range tc.pre {
				writeFake(t, dir, k, v)
			}
			before := readDir(t, dir)
			if err := m.Set(&tc.r); err != nil {
				t.Fatal(err)
			}
			after := readDir(t, dir)
			changed := map[string]string{}
			for k, v := range after {
				if before[k] != v {
					changed[k] = v
				}
			}
			if !maps.Equal(changed, tc.want) {
				for _, k := range slices.Sorted(maps.Keys(changed)) {
					if tc.want[k] != changed[k] {
						t.Errorf("%s = %q, want %q", k, changed[k], tc.want[k])
					}
				}
				for _, k := range slices.Sorted(maps.Keys(tc.want)) {
					if _, ok := changed[k]; !ok {
						t.Errorf("%s not written, want %q", k, tc.want[k])
					}
				}
			}
		})
	}
}

func TestV2SetErrors(t *testing.T) {
	for _, tc := range []struct {
		name        string
		pre         map[string]string
		r           specs.LinuxResources
		want        string
		unsupported bool
	}{
		{name: "swap below limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](200), Swap: ptr[int64](100)}},
			want: "cgroup: invalid memory swap 100: must be >= memory limit 200"},
		{name: "swap without a limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: ptr[int64](100)}},
			want: "cgroup: invalid memory swap 100: a swap limit needs a memory limit"},
		{name: "negative limit", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](-5)}},
			want: "cgroup: invalid memory limit -5: must be >= 0, or -1 for unlimited"},
		{name: "swappiness", r: specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: ptr[uint64](101)}},
			want: "cgroup: invalid memory swappiness 101: must be 0-100"},
		{name: "check before update", pre: map[string]string{"memory.current": "5000"},
			r:    specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: ptr[int64](4096), CheckBeforeUpdate: ptr(true)}},
			want: "cgroup: invalid memory limit 4096: below current usage 5000"},
		{name: "realtime", r: specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: ptr[int64](1000)}},
			want: "cgroup: realtime cpu limits on cgroup v2: not supported", unsupported: true},
		{name: "leaf weight", r: specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{LeafWeight: ptr[uint16](100)}},
			want: "cgroup: block io leaf weight on cgroup v2: not supported", unsupported: true},
		{name: "hugepage size", r: specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "64KB", Limit: 1}}},
			want: `cgroup: hugepage size "64KB": no hugetlb.64KB.max in `, unsupported: true},
		{name: "unified key missing", r: specs.LinuxResources{Unified: map[string]string{"memory.oom.group": "1"}},
			want: `cgroup: unified key "memory.oom.group": no such file in `, unsupported: true},
		{name: "unified key escaping", r: specs.LinuxResources{Unified: map[string]string{"../memory.max": "1"}},
			want: `cgroup: invalid unified key "../memory.max"`},
		{name: "bad device rule", r: specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}},
			want: `cgroup: invalid device rule type "x": want a, b or c`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, dir := fakeV2(t)
			for k, v := range tc.pre {
				writeFake(t, dir, k, v)
			}
			before := readDir(t, dir)
			err := m.Set(&tc.r)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("Set = %v, want an error starting %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
			if errors.Is(err, ErrNotSupported) != tc.unsupported {
				t.Errorf("errors.Is(err, ErrNotSupported) = %v, want %v", !tc.unsupported, tc.unsupported)
			}
			if after := readDir(t, dir); !maps.Equal(before, after) {
				t.Errorf("a refused Set wrote files")
			}
		})
	}
}

// fakeKernel mirrors cgroup.freeze into cgroup.events as the kernel does once every task
// has stopped, until the test ends.
func fakeKernel(t *testing.T, dir string) {
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		last := ""
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			data, err := os.ReadFile(filepath.Join(dir, "cgroup.freeze"))
			if err != nil || string(data) == last {
				continue
			}
			last = string(data)
			_ = os.WriteFile(filepath.Join(dir, "cgroup.events.tmp"), []byte("populated 1\nfrozen "+last+"\n"), 0o644)
			_ = os.Rename(filepath.Join(dir, "cgroup.events.tmp"), filepath.Join(dir, "cgroup.events"))
		}
	}()
}

func TestV2FreezeThaw(t *testing.T) {
	m, dir := fakeV2(t)
	fakeKernel(t, dir)
	if err := m.Freeze(); err != nil {
		t.Fatal(err)
	}
	if got := readDir(t, dir)["cgroup.freeze"]; got != "1" {
		t.Errorf("cgroup.freeze = %q after Freeze", got)
	}
	if frozen, err := m.State(); err != nil || !frozen {
		t.Errorf("State after Freeze = %v, %v; want frozen", frozen, err)
	}
	if err := m.Thaw(); err != nil {
		t.Fatal(err)
	}
	if frozen, err := m.State(); err != nil || frozen {
		t.Errorf("State after Thaw = %v, %v; want thawed", frozen, err)
	}
}

func TestV2PidsStatsDestroy(t *testing.T) {
	m, dir := fakeV2(t)
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFake(t, dir, "cgroup.procs", "7\n5\n")
	writeFake(t, sub, "cgroup.procs", "3\n7\n")
	pids, err := m.Pids()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pids, []int{3, 5, 7}) {
		t.Errorf("Pids = %v, want [3 5 7] (sorted, from the subtree, once each)", pids)
	}

	writeFake(t, dir, "memory.current", "1000\n")
	writeFake(t, dir, "memory.peak", "3000\n")
	writeFake(t, dir, "memory.max", "4096\n")
	writeFake(t, dir, "memory.stat", "anon 10\ninactive_file 20\n")
	writeFake(t, dir, "memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n")
	writeFake(t, dir, "cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 9\nnr_throttled 4\nthrottled_usec 8\n")
	writeFake(t, dir, "pids.current", "2\n")
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{
		Memory:   MemoryStats{Usage: 1000, MaxUsage: 3000, Limit: 4096, Stat: map[string]uint64{"anon": 10, "inactive_file": 20}},
		CPU:      CPUStats{UsageNS: 5000, UserNS: 3000, SystemNS: 2000, Periods: 9, ThrottledPeriods: 4, ThrottledNS: 8000},
		Pids:     PidsStats{Current: 2, Limit: 0},
		OOMKills: 1,
	}
	if !maps.Equal(st.Memory.Stat, want.Memory.Stat) {
		t.Errorf("memory.stat = %v, want %v", st.Memory.Stat, want.Memory.Stat)
	}
	st.Memory.Stat, want.Memory.Stat = nil, nil
	if !reflect.DeepEqual(*st, want) {
		t.Errorf("Stats = %+v\nwant    %+v", *st, want)
	}

	if err := m.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("after Destroy, %s: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Dir(dir)); err != nil {
		t.Errorf("Destroy removed the parent %s too: %v", filepath.Dir(dir), err)
	}
	if err := m.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

// On a v1-only machine there is no cgroup2 directory for unified keys, and limits of a
// controller that is not mounted are refused rather than dropped.
func TestV1OnlyRefusesV2Things(t *testing.T) {
	dir := t.TempDir()
	m := newManager(&layout{v1: map[string]mount{"memory": {point: dir, root: "/"}}, self: map[string]string{}}, innerPath{path: "/c1"})
	for _, tc := range []struct {
		r    specs.LinuxResources
		want string
	}{
		{specs.LinuxResources{Unified: map[string]string{"memory.high": "1"}}, "cgroup: unified resources need cgroup v2, this machine has v1 only: not supported"},
		{specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 5}}, "cgroup: pids limit: the pids controller is not available: not supported"},
		{specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "0"}}, "cgroup: cpus/mems: the cpuset controller is not available: not supported"},
		{specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{}}, "cgroup: device rules: the devices controller is not available: not supported"},
	} {
		if err := m.Set(&tc.r); err == nil || err.Error() != tc.want {
			t.Errorf("Set(%+v) = %v, want %q", tc.r, err, tc.want)
		}
	}
	if err := m.Freeze(); err == nil || !errors.Is(err, ErrNotSupported) {
		t.Errorf("Freeze without a freezer = %v, want not supported", err)
	}
}
