package testsuite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/mount/mounttest"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/testutil"
)

// NewFunc makes a snapshotter rooted at root, failing or skipping t if it
// cannot. The suite closes every snapshotter it gets.
type NewFunc func(t *testing.T, root string) snapshot.Snapshotter

type testCase struct {
	name       string
	privileged bool // mounts what the snapshotter returns
	fn         func(*env)
}

var cases = []testCase{
	{"Kinds", false, testKinds},
	{"Errors", false, testErrors},
	{"RemoveRefusesParent", false, testRemoveRefusesParent},
	{"RemoveLeavesNothing", false, testRemoveLeavesNothing},
	{"Labels", false, testLabels},
	{"Walk", false, testWalk},
	{"Reopen", false, testReopen},
	{"ConcurrentPrepare", false, testConcurrentPrepare},
	{"CleanupAfterCrash", false, testCleanupAfterCrash},
	{"LayeredContents", true, testLayeredContents},
	{"WhiteoutsAndOpaqueDirs", true, testWhiteouts},
	{"ViewIsReadOnly", true, testViewReadOnly},
	{"MountsAgain", true, testMountsAgain},
	{"FileMetadata", true, testFileMetadata},
	{"LongChain", true, testLongChain},
	{"Usage", true, testUsage},
}

// Run runs every case of the suite as a subtest of t, each on a fresh
// snapshotter from newSnapshotter in its own temporary root.
func Run(t *testing.T, newSnapshotter NewFunc) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.fn(newEnv(t, newSnapshotter, c.privileged))
		})
	}
}

// env is one case's world: a snapshotter, its root, and a directory for
// mount points.
type env struct {
	t     *testing.T
	ctx   context.Context
	root  string
	mnt   string
	newSn NewFunc
	sn    snapshot.Snapshotter
}

func newEnv(t *testing.T, newSn NewFunc, privileged bool) *env {
	t.Helper()
	if privileged {
		testutil.RequireRoot(t, "mounts the snapshots it makes")
		mounttest.PrivateNamespace(t)
	}
	e := &env{t: t, ctx: t.Context(), root: t.TempDir(), mnt: t.TempDir(), newSn: newSn}
	if privileged {
		mounttest.NoLeaks(t, e.root)
		mounttest.NoLeaks(t, e.mnt)
	}
	e.open()
	return e
}

// open makes e.sn a snapshotter on e.root, closed when the case ends.
func (e *env) open() {
	sn := e.newSn(e.t, e.root)
	e.sn = sn
	e.t.Cleanup(func() { sn.Close() })
}

// reopen closes the snapshotter and opens a new one on the same root.
func (e *env) reopen() {
	if err := e.sn.Close(); err != nil {
		e.t.Fatalf("Close: %v", err)
	}
	e.open()
}

func (e *env) prepare(key, parent string, opts ...snapshot.Opt) []mount.Mount {
	e.t.Helper()
	ms, err := e.sn.Prepare(e.ctx, key, parent, opts...)
	if err != nil {
		e.t.Fatalf("Prepare(%q, %q): %v", key, parent, err)
	}
	return ms
}

func (e *env) view(key, parent string) []mount.Mount {
	e.t.Helper()
	ms, err := e.sn.View(e.ctx, key, parent)
	if err != nil {
		e.t.Fatalf("View(%q, %q): %v", key, parent, err)
	}
	return ms
}

func (e *env) commit(name, key string, opts ...snapshot.Opt) {
	e.t.Helper()
	if err := e.sn.Commit(e.ctx, name, key, opts...); err != nil {
		e.t.Fatalf("Commit(%q, %q): %v", name, key, err)
	}
}

func (e *env) remove(key string) {
	e.t.Helper()
	if err := e.sn.Remove(e.ctx, key); err != nil {
		e.t.Fatalf("Remove(%q): %v", key, err)
	}
}

func (e *env) stat(key string) snapshot.Info {
	e.t.Helper()
	info, err := e.sn.Stat(e.ctx, key)
	if err != nil {
		e.t.Fatalf("Stat(%q): %v", key, err)
	}
	return info
}

// layer prepares key on parent, lets edit change its tree through the
// mounts, and commits it as name.
func (e *env) layer(name, parent string, edit func(dir string)) {
	e.t.Helper()
	key := "extract-" + name
	e.with(e.prepare(key, parent), edit)
	e.commit(name, key)
}

// with mounts ms on a fresh directory, runs fn on it and unmounts.
func (e *env) with(ms []mount.Mount, fn func(dir string)) {
	e.t.Helper()
	dir := e.mount(ms)
	fn(dir)
	if err := mount.UnmountAll(dir, 0); err != nil {
		e.t.Fatal(err)
	}
}

// mount mounts ms on a fresh directory, unmounted when the case ends.
func (e *env) mount(ms []mount.Mount) string {
	e.t.Helper()
	dir, err := os.MkdirTemp(e.mnt, "m")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := mount.All(ms, dir); err != nil {
		e.t.Fatalf("mount %+v: %v", ms, err)
	}
	e.t.Cleanup(func() {
		if err := mount.UnmountAll(dir, unix.MNT_DETACH); err != nil {
			e.t.Error(err)
		}
	})
	return dir
}

// wantErr fails unless err is of class class and mentions key.
func (e *env) wantErr(what string, err error, class error, key string) {
	e.t.Helper()
	if !errors.Is(err, class) {
		e.t.Errorf("%s: error %v, want %v", what, err, class)
		return
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
		e.t.Errorf("%s: error %q does not name %q", what, err, key)
	}
}

// ---- files ----

func (e *env) write(path, content string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) wantFile(path, content string) {
	e.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Errorf("read %s: %v", path, err)
		return
	}
	if string(b) != content {
		e.t.Errorf("%s holds %q, want %q", path, b, content)
	}
}

func (e *env) wantAbsent(path string) {
	e.t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		e.t.Errorf("%s: %v, want it absent", path, err)
	}
}

// names lists dir, sorted.
func (e *env) names(dir string) []string {
	e.t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range entries {
		out = append(out, d.Name())
	}
	return out
}

// tree lists every path under dir (relative), sorted.
func (e *env) tree(dir string) []string {
	e.t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
