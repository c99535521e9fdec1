package sysinfo

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseOSRelease(t *testing.T) {
	pretty, version := ParseOSRelease(strings.NewReader(`PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
# a comment
ID=debian
`))
	if pretty != "Debian GNU/Linux 12 (bookworm)" || version != "12" {
		t.Fatalf("got %q %q", pretty, version)
	}
	pretty, version = ParseOSRelease(strings.NewReader("PRETTY_NAME='Alpine Linux v3.20'\nVERSION_ID=3.20.1\n"))
	if pretty != "Alpine Linux v3.20" || version != "3.20.1" {
		t.Fatalf("got %q %q", pretty, version)
	}
}

func TestParseMemTotal(t *testing.T) {
	got := ParseMemTotal(strings.NewReader("MemFree:  100 kB\nMemTotal:       16318412 kB\n"))
	if got != 16318412*1024 {
		t.Fatalf("got %d", got)
	}
	if ParseMemTotal(strings.NewReader("nothing here\n")) != 0 {
		t.Fatal("want 0 without MemTotal")
	}
}

// fakeTree makes files (their content irrelevant) under a temporary root.
func fakeTree(t *testing.T, files ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, f := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupsV1(t *testing.T) {
	root := fakeTree(t,
		"memory/memory.limit_in_bytes", "memory/memory.oom_control",
		"cpu,cpuacct/cpu.cfs_period_us", "cpu,cpuacct/cpu.cfs_quota_us", "cpu,cpuacct/cpu.shares",
		"pids/pids.max")
	if err := os.Symlink("cpu,cpuacct", filepath.Join(root, "cpu")); err != nil {
		t.Fatal(err)
	}
	c := cgroupsV1(root)
	want := Cgroups{Version: "1", MemoryLimit: true, OomKillDisable: true, CPUCfsPeriod: true, CPUCfsQuota: true,
		CPUShares: true, PidsLimit: true}
	if c != want {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	w := c.Warnings()
	if !slices.Equal(w, []string{"WARNING: No swap limit support", "WARNING: No cpuset support"}) {
		t.Fatalf("warnings %q", w)
	}
}

func TestCgroupsV2(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpuset cpu io memory hugetlb pids rdma misc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := cgroupsV2(root)
	want := Cgroups{Version: "2", MemoryLimit: true, SwapLimit: true, CPUCfsPeriod: true, CPUCfsQuota: true,
		CPUShares: true, CPUSet: true, PidsLimit: true}
	if c != want || len(c.Warnings()) != 0 {
		t.Fatalf("got %+v warnings %q", c, c.Warnings())
	}
	if c := cgroupsV2(t.TempDir()); c.Version != "2" || c.MemoryLimit || len(c.Warnings()) != 6 {
		t.Fatalf("empty v2 root: %+v %q", c, c.Warnings())
	}
}

func TestIPv4Forwarding(t *testing.T) {
	dir := t.TempDir()
	on, off := filepath.Join(dir, "on"), filepath.Join(dir, "off")
	os.WriteFile(on, []byte("1\n"), 0o644)
	os.WriteFile(off, []byte("0\n"), 0o644)
	if !readIPv4Forwarding(on) || readIPv4Forwarding(off) || readIPv4Forwarding(filepath.Join(dir, "none")) {
		t.Fatal("wrong forwarding state")
	}
}
