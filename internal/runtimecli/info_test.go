package runtimecli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

func TestSpecWritesAStartingConfig(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	h.ok("spec", "--bundle", dir)
	var spec specs.Spec
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil || json.Unmarshal(b, &spec) != nil {
		t.Fatalf("spec wrote %q (%v)", b, err)
	}
	if spec.Version != specs.Version || spec.Root.Path != "rootfs" || !spec.Process.NoNewPrivileges || len(spec.Linux.MaskedPaths) == 0 {
		t.Errorf("spec: %+v", spec)
	}
	h.fails("exists", "spec", "--bundle", dir)
	rootless := t.TempDir()
	h.ok("spec", "--rootless", "--bundle", rootless)
	b, _ = os.ReadFile(filepath.Join(rootless, "config.json"))
	if !strings.Contains(string(b), `"type": "user"`) || !strings.Contains(string(b), "uidMappings") {
		t.Errorf("spec --rootless has no user namespace with mappings")
	}
}

func TestFeatures(t *testing.T) {
	h := newHarness(t)
	var f features.Features
	if err := json.Unmarshal([]byte(h.ok("features")), &f); err != nil {
		t.Fatal(err)
	}
	if f.OCIVersionMax != specs.Version || f.Linux == nil || !slices.Contains(f.Linux.Namespaces, "user") ||
		!slices.Contains(f.Linux.Capabilities, "CAP_SYS_ADMIN") || !*f.Linux.Seccomp.Enabled ||
		!slices.Contains(f.Linux.Seccomp.Actions, "SCMP_ACT_NOTIFY") || !slices.Contains(f.MountOptions, "rbind") ||
		len(f.Hooks) != 6 {
		t.Errorf("features: %+v", f)
	}
}

func TestPsTable(t *testing.T) {
	h := newHarness(t)
	h.createRunning()
	pid := h.state(h.id).Pid
	out := h.ok("ps", h.id)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "PID") || !strings.Contains(lines[1], " "+itoa(pid)+" ") {
		t.Errorf("ps table for init pid %d:\n%s", pid, out)
	}
}
