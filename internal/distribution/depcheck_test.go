package distribution

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDependencies keeps the client berth's own: the registry libraries of other
// projects serve the tests only (DESIGN.md, "write berth's own").
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, d := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/distribution/distribution", "github.com/docker/distribution",
			"github.com/google/go-containerregistry", "github.com/moby/moby/client",
			"github.com/docker/docker",
		} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("the registry client links %s", d)
			}
		}
	}
}
