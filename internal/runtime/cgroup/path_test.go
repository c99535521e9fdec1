package cgroup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hybridMountinfo looks like this machine's: v1 hierarchies (cpu and cpuacct sharing
// one) plus cgroup2 at /sys/fs/cgroup/unified (and mounted again elsewhere), and a memory
// hierarchy whose mount root is not "/" (as inside another container).
var hybridMountinfo = hybridMountinfoAt("/sys/fs/cgroup/unified")

func hybridMountinfoAt(unified string) string {
	return `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 /outer /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / ` + unified + ` rw,relatime - cgroup2 cgroup2 rw
90 41 0:38 / /mnt/elsewhere rw,relatime - cgroup2 cgroup2 rw
`
}

const hybridSelf = `9:name=systemd:/
8:pids:/
4:memory:/outer/process_api/abc
3:cpuset:/
1:cpu,cpuacct:/user/me
0::/user.slice/x
`

const v2Mountinfo = `25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
26 1 0:23 / /proc rw - proc proc rw
`

func mustLayout(t *testing.T, mountInfo, self string) *layout {
	t.Helper()
	l, err := parseLayout(strings.NewReader(mountInfo), strings.NewReader(self))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseLayout(t *testing.T) {
	l := mustLayout(t, hybridMountinfo, hybridSelf)
	var got []string
	for c, m := range l.v1 {
		got = append(got, c+"="+m.point+"@"+m.root)
	}
	slices.Sort(got)
	want := []string{
		"cpu=/sys/fs/cgroup/cpu,cpuacct@/",
		"cpuacct=/sys/fs/cgroup/cpu,cpuacct@/",
		"cpuset=/sys/fs/cgroup/cpuset@/",
		"memory=/sys/fs/cgroup/memory@/outer",
		"pids=/sys/fs/cgroup/pids@/",
	}
	if !slices.Equal(got, want) {
		t.Errorf("v1 mounts = %q, want %q", got, want)
	}
	if l.unified == nil || l.unified.point != "/sys/fs/cgroup/unified" {
		t.Errorf("unified = %+v, want the mount under /sys/fs/cgroup", l.unified)
	}
	if l.self["memory"] != "/outer/process_api/abc" || l.self["cpuacct"] != "/user/me" || l.self[""] != "/user.slice/x" {
		t.Errorf("self = %v", l.self)
	}

	if _, err := parseLayout(strings.NewReader("26 1 0:23 / /proc rw - proc proc rw\n"), strings.NewReader("")); err == nil {
		t.Error("a mount table without cgroups: no error")
	}
}

// The cgroup2 root's cgroup.controllers decides what the manager drives through cgroup2:
// on a hybrid machine only what v1 did not take.
func TestParseLayoutV2Controllers(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpuset memory io hugetlb pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := mustLayout(t, hybridMountinfoAt(dir), hybridSelf)
	if l.unified.point != dir {
		t.Fatalf("unified = %q, want the first of two mounts outside /sys/fs/cgroup, %q", l.unified.point, dir)
	}
	if want := []string{"io", "hugetlb"}; !slices.Equal(l.v2Ctrls, want) {
		t.Errorf("hybrid v2 controllers = %q, want %q (blkio covers io; the rest are in v1)", l.v2Ctrls, want)
	}
	pure := "25 1 0:22 / " + dir + " rw - cgroup2 cgroup2 rw\n"
	l = mustLayout(t, pure, "0::/\n")
	if want := []string{"cpuset", "memory", "io", "hugetlb", "pids"}; !slices.Equal(l.v2Ctrls, want) {
		t.Errorf("pure v2 controllers = %q, want %q", l.v2Ctrls, want)
	}
}

func TestCgroupsPathToDirs(t *testing.T) {
	hybrid := mustLayout(t, hybridMountinfo, hybridSelf)
	v2 := mustLayout(t, v2Mountinfo, "0::/init.scope\n")
	for _, tc := range []struct {
		path, id string
		l        *layout
		want     map[string]string
	}{
		{"", "c1", hybrid, map[string]string{
			"memory":   "/sys/fs/cgroup/memory/c1",
			"cpu":      "/sys/fs/cgroup/cpu,cpuacct/c1",
			"cpuacct":  "/sys/fs/cgroup/cpu,cpuacct/c1",
			"cpuset":   "/sys/fs/cgroup/cpuset/c1",
			"pids":     "/sys/fs/cgroup/pids/c1",
			UnifiedKey: "/sys/fs/cgroup/unified/c1",
		}},
		{"/a/b", "c1", hybrid, map[string]string{
			"memory":   "/sys/fs/cgroup/memory/a/b",
			"cpu":      "/sys/fs/cgroup/cpu,cpuacct/a/b",
			"cpuacct":  "/sys/fs/cgroup/cpu,cpuacct/a/b",
			"cpuset":   "/sys/fs/cgroup/cpuset/a/b",
			"pids":     "/sys/fs/cgroup/pids/a/b",
			UnifiedKey: "/sys/fs/cgroup/unified/a/b",
		}},
		{"/a/../../b/./c/", "c1", v2, map[string]string{UnifiedKey: "/sys/fs/cgroup/b/c"}},
		// Relative: under the runtime's own cgroup in each hierarchy, minus the mount root.
		{"a/b", "c1", hybrid, map[string]string{
			"memory":   "/sys/fs/cgroup/memory/process_api/abc/a/b",
			"cpu":      "/sys/fs/cgroup/cpu,cpuacct/user/me/a/b",
			"cpuacct":  "/sys/fs/cgroup/cpu,cpuacct/user/me/a/b",
			"cpuset":   "/sys/fs/cgroup/cpuset/a/b",
			"pids":     "/sys/fs/cgroup/pids/a/b",
			UnifiedKey: "/sys/fs/cgroup/unified/user.slice/x/a/b",
		}},
		{"a/b", "c1", v2, map[string]string{UnifiedKey: "/sys/fs/cgroup/init.scope/a/b"}},
		{"system.slice:berth:c1", "c1", v2, map[string]string{UnifiedKey: "/sys/fs/cgroup/system.slice/berth-c1.scope"}},
		{"machine-web.slice:berth:c1", "c1", v2, map[string]string{UnifiedKey: "/sys/fs/cgroup/machine.slice/machine-web.slice/berth-c1.scope"}},
		{":berth:c1", "c1", v2, map[string]string{UnifiedKey: "/sys/fs/cgroup/system.slice/berth-c1.scope"}},
		{"-.slice:berth:c1", "c1", v2, map[string]string{UnifiedKey: "/sys/fs/cgroup/berth-c1.scope"}},
		{"user.slice::c1", "c1", v2, map[string]string{UnifiedKey: "/sys/fs/cgroup/user.slice/c1.scope"}},
		{"a.slice:x:a-b.slice", "c1", v2, map[string]string{UnifiedKey: "/sys/fs/cgroup/a.slice/a-b.slice"}},
		{"system.slice:berth:c1", "c1", hybrid, map[string]string{
			"memory":   "/sys/fs/cgroup/memory/system.slice/berth-c1.scope",
			UnifiedKey: "/sys/fs/cgroup/unified/system.slice/berth-c1.scope",
		}},
	} {
		p, err := parseCgroupsPath(tc.path, tc.id)
		if err != nil {
			t.Errorf("%q: %v", tc.path, err)
			continue
		}
		got := newManager(tc.l, p).Paths()
		for k, want := range tc.want {
			if got[k] != want {
				t.Errorf("%q: %s = %q, want %q", tc.path, k, got[k], want)
			}
		}
		if tc.l == v2 && len(got) != 1 {
			t.Errorf("%q on v2: paths %v, want only %q", tc.path, got, UnifiedKey)
		}
	}
}

func TestCgroupsPathErrors(t *testing.T) {
	for _, tc := range []struct{ path, id, want string }{
		{"", "", "invalid container id"},
		{"", "../x", "invalid container id"},
		{"../x", "c1", "escapes the runtime's own cgroup"},
		{"a/../../x", "c1", "escapes the runtime's own cgroup"},
		{"x:y", "c1", "want /abs/path"},
		{"system:berth:c1", "c1", "want a name ending in .slice"},
		{"a--b.slice:berth:c1", "c1", "bad dashes"},
		{"a-.slice:berth:c1", "c1", "bad dashes"},
		{"system.slice:berth:", "c1", "empty unit name"},
		{"system.slice:berth:a/b", "c1", "bad unit name"},
	} {
		_, err := parseCgroupsPath(tc.path, tc.id)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseCgroupsPath(%q, %q) = %v, want an error containing %q", tc.path, tc.id, err, tc.want)
		}
	}
}
