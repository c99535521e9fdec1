package specdefault

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite testdata/default.json from Default()")

// TestDefaultGolden pins the JSON that `berth-runtime spec` writes. Run with
// -update after a deliberate change and review the diff.
func TestDefaultGolden(t *testing.T) {
	got, err := json.MarshalIndent(Default(), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "default.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Default() differs from %s (run go test -update to accept):\n%s", golden, got)
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[0].Destination = "/elsewhere"
	b := Default()
	if b.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" || b.Mounts[0].Destination != "/proc" {
		t.Fatal("modifying one Default() changed the next one")
	}
	if b.Process.Capabilities.Effective[0] != "CAP_AUDIT_WRITE" {
		t.Fatal("capability sets share a backing array")
	}
}

func TestRootless(t *testing.T) {
	s := Default()
	Rootless(s)

	var types []specs.LinuxNamespaceType
	for _, ns := range s.Linux.Namespaces {
		types = append(types, ns.Type)
	}
	wantNS := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace,
		specs.MountNamespace, specs.CgroupNamespace, specs.UserNamespace}
	if !slices.Equal(types, wantNS) {
		t.Errorf("namespaces = %v, want %v", types, wantNS)
	}

	wantUID := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}}
	wantGID := []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	if !slices.Equal(s.Linux.UIDMappings, wantUID) || !slices.Equal(s.Linux.GIDMappings, wantGID) {
		t.Errorf("mappings uid=%v gid=%v, want uid=%v gid=%v", s.Linux.UIDMappings, s.Linux.GIDMappings, wantUID, wantGID)
	}
	if s.Linux.Resources != nil {
		t.Errorf("resources = %+v, want none", s.Linux.Resources)
	}

	byDest := map[string]specs.Mount{}
	for _, m := range s.Mounts {
		byDest[m.Destination] = m
		if m.Type == "cgroup" || m.Type == "cgroup2" {
			t.Errorf("cgroup mount kept at %s", m.Destination)
		}
		for _, o := range m.Options {
			if len(o) > 4 && (o[:4] == "uid=" || o[:4] == "gid=") {
				t.Errorf("mount %s keeps option %s", m.Destination, o)
			}
		}
	}
	sys := byDest["/sys"]
	if sys.Type != "none" || sys.Source != "/sys" || !slices.Contains(sys.Options, "rbind") || !slices.Contains(sys.Options, "ro") {
		t.Errorf("/sys mount = %+v, want a read-only rbind of /sys", sys)
	}
	if pts := byDest["/dev/pts"]; !slices.Contains(pts.Options, "newinstance") {
		t.Errorf("/dev/pts lost its other options: %v", pts.Options)
	}
	if len(s.Mounts) != len(Default().Mounts)-1 {
		t.Errorf("got %d mounts, want all but the cgroup one", len(s.Mounts))
	}
}
