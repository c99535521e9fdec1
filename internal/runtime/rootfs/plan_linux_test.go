package rootfs

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/plan")

// TestPlanGolden turns each testdata/plan/NAME.json (a config.json, root.path relative
// to a bundle that has a "rootfs" directory) into NAME.golden: Plan.String(), or
// "error: ..." for a spec NewPlan must refuse. The bundle's path reads $BUNDLE.
func TestPlanGolden(t *testing.T) {
	specsFiles, err := filepath.Glob("testdata/plan/*.json")
	if err != nil || len(specsFiles) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, file := range specsFiles {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var spec specs.Spec
			if err := json.Unmarshal(raw, &spec); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			bundle, err := filepath.EvalSymlinks(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
				t.Fatal(err)
			}
			var got string
			plan, err := NewPlan(&spec, bundle, Options{})
			if err != nil {
				got = "error: " + err.Error() + "\n"
			} else {
				got = plan.String()
			}
			got = strings.ReplaceAll(got, bundle, "$BUNDLE")
			golden := strings.TrimSuffix(file, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("plan for %s differs from %s:\n--- got\n%s--- want\n%s", file, golden, got, want)
			}
		})
	}
}

// The caller's Options and the spec's namespaces both say "user namespace".
func TestPlanUserNSFromOptions(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{Root: &specs.Root{Path: "rootfs"}}
	plan, err := NewPlan(spec, bundle, Options{InUserNS: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "device c /dev/null 1:3 mode=0666 uid=0 gid=0 bind\n") {
		t.Errorf("with InUserNS devices should be bind-mounted:\n%s", plan)
	}
}

func TestPlanRootfsNotADirectory(t *testing.T) {
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, "rootfs"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewPlan(&specs.Spec{Root: &specs.Root{Path: "rootfs"}}, bundle, Options{})
	want := `rootfs "` + filepath.Join(bundle, "rootfs") + `": no such directory`
	if err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
}

// Steps that run in the wrong order fail with an error instead of touching anything.
func TestPlanStepsOutOfOrder(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan(&specs.Spec{Root: &specs.Root{Path: "rootfs"}}, bundle, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.Enter(false); err == nil || !strings.Contains(err.Error(), "before Setup") {
		t.Errorf("Enter before Setup: %v", err)
	}
	if err := plan.Finalize(); err == nil || !strings.Contains(err.Error(), "before Enter") {
		t.Errorf("Finalize before Enter: %v", err)
	}
	if err := plan.BindConsole("/dev/null"); err == nil || !strings.Contains(err.Error(), "before Setup") {
		t.Errorf("BindConsole before Setup: %v", err)
	}
}
