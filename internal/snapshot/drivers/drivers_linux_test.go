package drivers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/mount/mounttest"
	"github.com/berth-engine/berth/internal/testutil"
)

func TestOpen(t *testing.T) {
	testutil.RequireRoot(t, "the overlay check mounts")
	mounttest.PrivateNamespace(t)
	dir := t.TempDir()
	mounttest.NoLeaks(t, dir)

	for _, c := range []struct{ name, want string }{
		{"", "overlay2"}, // this machine's ext4 /tmp takes overlay
		{"overlay", "overlay2"},
		{"vfs", "vfs"},
		{"native", "vfs"},
	} {
		sn, driver, err := Open(dir, c.name)
		if err != nil {
			t.Fatalf("Open(%q): %v", c.name, err)
		}
		sn.Close()
		if driver != c.want {
			t.Errorf("Open(%q) chose %q, want %q", c.name, driver, c.want)
		}
		if _, err := os.Stat(filepath.Join(dir, driver, "metadata.db")); err != nil {
			t.Errorf("Open(%q): no metadata under %s/%s: %v", c.name, dir, driver, err)
		}
	}
	if driver, why := Choose(dir); driver != "overlay2" || why != nil {
		t.Errorf("Choose = %q, %v; want overlay2 on this machine", driver, why)
	}
	if _, _, err := Open(dir, "zfs"); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Open(zfs): %v, want invalid argument", err)
	}
}

// TestChooseFallsBackOnOverlayfs puts the data root on overlayfs, where an
// overlay upper directory cannot live, as inside many containers.
func TestChooseFallsBackOnOverlayfs(t *testing.T) {
	testutil.RequireRoot(t, "mounts overlayfs")
	mounttest.PrivateNamespace(t)
	dir := t.TempDir()
	mounttest.NoLeaks(t, dir)
	p := func(name string) string { return filepath.Join(dir, name) }
	for _, d := range []string{"lower", "upper", "work", "root"} {
		if err := os.Mkdir(p(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	err := mount.All([]mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"lowerdir=" + p("lower"), "upperdir=" + p("upper"), "workdir=" + p("work"),
	}}}, p("root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mount.UnmountAll(p("root"), 0) })

	driver, why := Choose(p("root"))
	if driver != "vfs" || why == nil || !strings.Contains(why.Error(), "overlayfs") {
		t.Errorf("Choose on overlayfs = %q, %v; want vfs and a reason naming overlayfs", driver, why)
	}
	sn, driver, err := Open(p("root"), "")
	if err != nil || driver != "vfs" {
		t.Fatalf("Open on overlayfs = %q, %v; want vfs", driver, err)
	}
	sn.Close()
	if _, _, err := Open(p("root"), "overlay2"); err == nil {
		t.Error("Open(overlay2) on overlayfs succeeded; want the overlay check's error")
	}
}
