package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount/mounttest"
	"github.com/berth-engine/berth/internal/testutil"
)

// setup gives a privileged test its own mount namespace and a temporary
// directory that must be free of mounts when the test ends.
func setup(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t, "mounts filesystems")
	mounttest.PrivateNamespace(t)
	dir := t.TempDir()
	mounttest.NoLeaks(t, dir)
	return dir
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func wantFile(t *testing.T, path, content string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("read %s: %v", path, err)
		return
	}
	if string(b) != content {
		t.Errorf("%s holds %q, want %q", path, b, content)
	}
}

// mountAt mounts ms at target and unmounts it when the test ends.
func mountAt(t *testing.T, ms []Mount, target string) {
	t.Helper()
	if err := All(ms, target); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := UnmountAll(target, 0); err != nil {
			t.Error(err)
		}
	})
}

func TestBindReadWriteAndReadOnly(t *testing.T) {
	dir := setup(t)
	src, rw, ro := filepath.Join(dir, "src"), filepath.Join(dir, "rw"), filepath.Join(dir, "ro")
	mkdirs(t, src, rw, ro)
	writeFile(t, filepath.Join(src, "a"), "hello")

	mountAt(t, []Mount{{Type: "bind", Source: src, Options: []string{"rbind", "rw"}}}, rw)
	wantFile(t, filepath.Join(rw, "a"), "hello")
	writeFile(t, filepath.Join(rw, "b"), "through the bind")
	wantFile(t, filepath.Join(src, "b"), "through the bind")

	mountAt(t, []Mount{{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}}, ro)
	wantFile(t, filepath.Join(ro, "a"), "hello")
	err := os.WriteFile(filepath.Join(ro, "c"), nil, 0o644)
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("writing into a read-only bind: %v, want EROFS", err)
	}
}

// testOverlay checks what a user sees through a two-layer overlay: files from
// both layers, the upper one winning, and deletions recorded as whiteouts.
func testOverlay(t *testing.T, newAPI bool) {
	dir := setup(t)
	defer setNewAPI(newAPI)()
	l1, l2, up, work, merged := filepath.Join(dir, "l1"), filepath.Join(dir, "l2"),
		filepath.Join(dir, "up"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	mkdirs(t, l1, l2, up, work, merged)
	writeFile(t, filepath.Join(l1, "base"), "l1")
	writeFile(t, filepath.Join(l1, "shadowed"), "l1")
	writeFile(t, filepath.Join(l2, "shadowed"), "l2")

	mountAt(t, []Mount{{Type: "overlay", Source: "overlay", Options: []string{
		"index=off", "lowerdir=" + l2 + ":" + l1, "upperdir=" + up, "workdir=" + work,
	}}}, merged)
	wantFile(t, filepath.Join(merged, "base"), "l1")
	wantFile(t, filepath.Join(merged, "shadowed"), "l2")
	writeFile(t, filepath.Join(merged, "new"), "upper")
	wantFile(t, filepath.Join(up, "new"), "upper")
	if err := os.Remove(filepath.Join(merged, "base")); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(up, "base"), &st); err != nil {
		t.Fatalf("no whiteout in the upper dir after deleting base: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("upper/base after delete: mode %o rdev %d, want a 0/0 character device", st.Mode, st.Rdev)
	}
	if _, err := os.Stat(filepath.Join(l1, "base")); err != nil {
		t.Errorf("the lower layer changed: %v", err)
	}
}

func setNewAPI(on bool) (restore func()) {
	old := useNewAPI
	useNewAPI = on
	return func() { useNewAPI = old }
}

func TestOverlayNewAPI(t *testing.T)   { testOverlay(t, true) }
func TestOverlayMount2(t *testing.T)   { testOverlay(t, false) }
func TestLongChainNewAPI(t *testing.T) { testLongChain(t, true) }
func TestLongChainMount2(t *testing.T) { testLongChain(t, false) }

// testLongChain mounts 150 layers whose absolute paths add up to far more
// than the page mount(2) takes, and reads the top and bottom layers' files.
func testLongChain(t *testing.T, newAPI bool) {
	dir := setup(t)
	defer setNewAPI(newAPI)()
	layers := filepath.Join(dir, "a-rather-long-directory-name-for-the-layers")
	const n = 150
	var lower []string
	for i := n - 1; i >= 0; i-- { // nearest (top) first
		d := filepath.Join(layers, fmt.Sprint(i), "fs")
		mkdirs(t, d)
		writeFile(t, filepath.Join(d, fmt.Sprintf("layer-%d", i)), fmt.Sprint(i))
		writeFile(t, filepath.Join(d, "top"), fmt.Sprint(i))
		lower = append(lower, d)
	}
	up, work, merged := filepath.Join(layers, "up", "fs"), filepath.Join(layers, "up", "work"), filepath.Join(dir, "merged")
	mkdirs(t, up, work, merged)
	opts := []string{"lowerdir=" + strings.Join(lower, ":"), "upperdir=" + up, "workdir=" + work}
	if l := len(strings.Join(opts, ",")); l < 2*unix.Getpagesize() {
		t.Fatalf("options are only %d bytes: the test must overflow a page", l)
	}
	cwd, _ := os.Getwd()
	mountAt(t, []Mount{{Type: "overlay", Source: "overlay", Options: opts}}, merged)
	wantFile(t, filepath.Join(merged, "top"), fmt.Sprint(n-1))
	wantFile(t, filepath.Join(merged, "layer-0"), "0")
	wantFile(t, filepath.Join(merged, fmt.Sprintf("layer-%d", n-1)), fmt.Sprint(n-1))
	if now, _ := os.Getwd(); now != cwd {
		t.Errorf("mounting changed the working directory from %s to %s", cwd, now)
	}
}

func TestAllStacksAndUndoesOnFailure(t *testing.T) {
	dir := setup(t)
	a, b, target := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "target")
	mkdirs(t, a, b, target)
	writeFile(t, filepath.Join(a, "f"), "a")
	writeFile(t, filepath.Join(b, "f"), "b")

	err := All([]Mount{
		{Type: "bind", Source: a, Options: []string{"rbind"}},
		{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + filepath.Join(dir, "missing") + ":" + a}},
	}, target)
	if err == nil {
		t.Fatal("All with an overlay on a missing layer succeeded")
	}
	if !strings.Contains(err.Error(), "overlay") {
		t.Errorf("error %q does not name the failing mount", err)
	}
	if left := mounttest.MountsUnder(t, target); len(left) != 0 {
		t.Errorf("after the failure, still mounted: %v", left)
	}

	// Two binds stack: the later one is what the target shows, and
	// UnmountAll removes both.
	if err := All([]Mount{
		{Type: "bind", Source: a, Options: []string{"rbind"}},
		{Type: "bind", Source: b, Options: []string{"rbind"}},
	}, target); err != nil {
		t.Fatal(err)
	}
	wantFile(t, filepath.Join(target, "f"), "b")
	if err := UnmountAll(target, 0); err != nil {
		t.Fatal(err)
	}
	if left := mounttest.MountsUnder(t, target); len(left) != 0 {
		t.Errorf("after UnmountAll, still mounted: %v", left)
	}
	if err := Unmount(target, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Unmount of a directory that is not mounted: %v, want EINVAL", err)
	}
	if err := UnmountAll(filepath.Join(dir, "nowhere"), 0); err != nil {
		t.Errorf("UnmountAll of a missing path: %v, want nil", err)
	}
}

func TestAllRefusesTargetOutside(t *testing.T) {
	dir := setup(t)
	err := All([]Mount{{Type: "bind", Source: dir, Target: "../escape", Options: []string{"rbind"}}}, filepath.Join(dir, "t"))
	if err == nil || !strings.Contains(err.Error(), "not a path inside") {
		t.Errorf("All with Target ../escape: %v, want a refusal", err)
	}
}
