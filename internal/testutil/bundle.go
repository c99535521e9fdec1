package testutil

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/runtime/specdefault"
)

// Bundle returns a new OCI bundle directory, removed after the test:
// rootfs/ from BusyboxRootfs and a config.json from specdefault.Default()
// running "/testinit pid" without a terminal. Edit it with ReadSpec and
// WriteSpec. The root stays read-only, as in the default spec.
//
// The bundle directory and its parent are made world-searchable (0755) so that
// a container whose root is mapped to an unprivileged host uid can reach its
// rootfs.
func Bundle(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	BusyboxRootfs(t, filepath.Join(dir, "rootfs"))
	spec := specdefault.Default()
	spec.Process.Args = []string{"/testinit", "pid"}
	spec.Process.Terminal = false
	WriteSpec(t, dir, spec)
	return dir
}

// WriteSpec writes spec as dir/config.json.
func WriteSpec(t testing.TB, dir string, spec *specs.Spec) {
	t.Helper()
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadSpec reads dir/config.json.
func ReadSpec(t testing.TB, dir string) *specs.Spec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatalf("parse %s/config.json: %v", dir, err)
	}
	return &spec
}
