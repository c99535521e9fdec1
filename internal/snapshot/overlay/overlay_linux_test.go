package overlay

import (
	"os"
	"testing"

	"github.com/berth-engine/berth/internal/mount/mounttest"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/testsuite"
	"github.com/berth-engine/berth/internal/testutil"
)

func TestConformance(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, root string) snapshot.Snapshotter {
		if os.Geteuid() == 0 {
			// Privileged cases mount: overlay must work here. (The
			// model cases need no mounts and run as any user.)
			if err := Supported(root); err != nil {
				t.Skipf("overlay unavailable: %v", err)
			}
		}
		sn, err := New(root)
		if err != nil {
			t.Fatal(err)
		}
		return sn
	})
}

func TestSupported(t *testing.T) {
	testutil.RequireRoot(t, "mounts overlayfs")
	mounttest.PrivateNamespace(t)
	root := t.TempDir()
	mounttest.NoLeaks(t, root)
	if err := Supported(root); err != nil {
		t.Fatalf("Supported(%s) on this machine's %s: %v", root, "ext4 /tmp", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("Supported left %d entries in the root", len(entries))
	}
}
