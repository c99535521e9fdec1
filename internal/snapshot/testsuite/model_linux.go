package testsuite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/snapshot"
)

// testKinds follows a snapshot from active to committed and checks what
// Stat says at each step.
func testKinds(e *env) {
	before := time.Now()
	e.prepare("a", "")
	info := e.stat("a")
	if info.Kind != snapshot.KindActive || info.Name != "a" || info.Parent != "" {
		e.t.Errorf("Stat(a) after Prepare = %+v, want an active snapshot without parent", info)
	}
	if info.Created.Before(before.Add(-time.Second)) || info.Created.After(time.Now().Add(time.Second)) {
		e.t.Errorf("Stat(a).Created = %v, not around now (%v)", info.Created, before)
	}

	e.commit("A", "a")
	if _, err := e.sn.Stat(e.ctx, "a"); !errdefs.IsNotFound(err) {
		e.t.Errorf("Stat(a) after committing it: %v, want not found", err)
	}
	if info := e.stat("A"); info.Kind != snapshot.KindCommitted || info.Parent != "" {
		e.t.Errorf("Stat(A) = %+v, want committed without parent", info)
	}

	e.prepare("b", "A")
	if info := e.stat("b"); info.Kind != snapshot.KindActive || info.Parent != "A" {
		e.t.Errorf("Stat(b) = %+v, want active with parent A", info)
	}
	e.commit("B", "b")
	if info := e.stat("B"); info.Kind != snapshot.KindCommitted || info.Parent != "A" {
		e.t.Errorf("Stat(B) = %+v, want committed with parent A (kept through Commit)", info)
	}
	e.view("v", "B")
	if info := e.stat("v"); info.Kind != snapshot.KindView || info.Parent != "B" {
		e.t.Errorf("Stat(v) = %+v, want a view with parent B", info)
	}

	// Mounts: again for active and view snapshots; never for committed ones.
	e.prepare("c", "B")
	for _, key := range []string{"c", "v"} {
		if ms, err := e.sn.Mounts(e.ctx, key); err != nil || len(ms) == 0 {
			e.t.Errorf("Mounts(%s) = %v, %v; want mounts", key, ms, err)
		}
	}
	_, err := e.sn.Mounts(e.ctx, "B")
	e.wantErr("Mounts of a committed snapshot", err, errdefs.ErrFailedPrecondition, "B")

	// The mounts say whether the tree is writable.
	ms, _ := e.sn.Mounts(e.ctx, "c")
	for _, m := range ms {
		if m.ReadOnly() {
			e.t.Errorf("active snapshot c has a read-only mount %+v", m)
		}
	}
	ms, _ = e.sn.Mounts(e.ctx, "v")
	if !ms[len(ms)-1].ReadOnly() {
		e.t.Errorf("view v mounts %+v, not read-only", ms)
	}
}

func testErrors(e *env) {
	e.prepare("a", "")
	e.view("v", "")

	_, err := e.sn.Prepare(e.ctx, "a", "")
	e.wantErr("Prepare of an existing key", err, errdefs.ErrAlreadyExists, "a")
	_, err = e.sn.View(e.ctx, "v", "")
	e.wantErr("View of an existing key", err, errdefs.ErrAlreadyExists, "v")
	_, err = e.sn.Prepare(e.ctx, "b", "missing")
	e.wantErr("Prepare on a missing parent", err, errdefs.ErrNotFound, "missing")
	_, err = e.sn.Prepare(e.ctx, "b", "a")
	e.wantErr("Prepare on an active parent", err, errdefs.ErrFailedPrecondition, "a")
	_, err = e.sn.View(e.ctx, "w", "v")
	e.wantErr("View on a view", err, errdefs.ErrFailedPrecondition, "v")
	_, err = e.sn.Prepare(e.ctx, "", "")
	if !errdefs.IsInvalidArgument(err) {
		e.t.Errorf("Prepare with an empty key: %v, want invalid argument", err)
	}
	for _, key := range []string{"b", "w"} {
		if _, err := e.sn.Stat(e.ctx, key); !errdefs.IsNotFound(err) {
			e.t.Errorf("a failed create left %q behind: Stat says %v", key, err)
		}
	}

	err = e.sn.Commit(e.ctx, "V", "v")
	e.wantErr("Commit of a view", err, errdefs.ErrFailedPrecondition, "v")
	err = e.sn.Commit(e.ctx, "X", "missing")
	e.wantErr("Commit of a missing key", err, errdefs.ErrNotFound, "missing")
	e.commit("A", "a")
	err = e.sn.Commit(e.ctx, "AA", "A")
	e.wantErr("Commit of a committed snapshot", err, errdefs.ErrFailedPrecondition, "A")

	// Committing onto a taken name fails and leaves the active snapshot.
	e.prepare("b", "A")
	err = e.sn.Commit(e.ctx, "A", "b")
	e.wantErr("Commit onto an existing name", err, errdefs.ErrAlreadyExists, "A")
	if info := e.stat("b"); info.Kind != snapshot.KindActive {
		e.t.Errorf("after the failed commit, b is %v, want still active", info.Kind)
	}

	_, err = e.sn.Stat(e.ctx, "missing")
	e.wantErr("Stat of a missing key", err, errdefs.ErrNotFound, "missing")
	err = e.sn.Remove(e.ctx, "missing")
	e.wantErr("Remove of a missing key", err, errdefs.ErrNotFound, "missing")
	_, err = e.sn.Mounts(e.ctx, "missing")
	e.wantErr("Mounts of a missing key", err, errdefs.ErrNotFound, "missing")
}

func testRemoveRefusesParent(e *env) {
	e.prepare("a", "")
	e.commit("A", "a")
	e.prepare("b", "A")
	e.view("v", "A")

	err := e.sn.Remove(e.ctx, "A")
	e.wantErr("Remove of a parent", err, errdefs.ErrFailedPrecondition, "A")
	e.remove("b")
	err = e.sn.Remove(e.ctx, "A")
	e.wantErr("Remove of a parent of a view", err, errdefs.ErrFailedPrecondition, "A")
	e.remove("v")
	e.remove("A")
	if _, err := e.sn.Stat(e.ctx, "A"); !errdefs.IsNotFound(err) {
		e.t.Errorf("Stat(A) after Remove: %v, want not found", err)
	}

	// A committed child keeps its parent too.
	e.prepare("a", "")
	e.commit("A", "a")
	e.prepare("b", "A")
	e.commit("B", "b")
	err = e.sn.Remove(e.ctx, "A")
	e.wantErr("Remove of a committed parent", err, errdefs.ErrFailedPrecondition, "A")
	e.remove("B")
	e.remove("A")
}

// testRemoveLeavesNothing checks that removing every snapshot takes the
// root back to what it held before any existed.
func testRemoveLeavesNothing(e *env) {
	e.prepare("warm-up", "")
	e.remove("warm-up")
	empty := e.tree(e.root)

	e.prepare("a", "")
	e.commit("A", "a")
	e.prepare("b", "A")
	e.commit("B", "b")
	e.prepare("c", "B")
	e.view("v", "B")
	if len(e.tree(e.root)) <= len(empty) {
		e.t.Fatalf("snapshots take no room under %s: the check below would prove nothing", e.root)
	}
	for _, key := range []string{"c", "v", "B", "A"} {
		e.remove(key)
	}
	if got := e.tree(e.root); !reflect.DeepEqual(got, empty) {
		e.t.Errorf("after removing every snapshot the root holds %q, want %q", got, empty)
	}
}

func testLabels(e *env) {
	e.prepare("a", "", snapshot.WithLabels(map[string]string{"berth.test/x": "1", "berth.test/y": "2"}))
	if got := e.stat("a").Labels; !reflect.DeepEqual(got, map[string]string{"berth.test/x": "1", "berth.test/y": "2"}) {
		e.t.Errorf("labels of a = %v", got)
	}
	e.commit("A", "a", snapshot.WithLabels(map[string]string{"berth.test/chain": "sha256:abc"}))
	if got := e.stat("A").Labels; !reflect.DeepEqual(got, map[string]string{"berth.test/chain": "sha256:abc"}) {
		e.t.Errorf("labels of A = %v, want only those given to Commit", got)
	}
	e.prepare("b", "A")
	if got := e.stat("b").Labels; len(got) != 0 {
		e.t.Errorf("labels of b (none given) = %v", got)
	}

	_, err := e.sn.Prepare(e.ctx, "bad", "", snapshot.WithLabels(map[string]string{"": "v"}))
	if !errdefs.IsInvalidArgument(err) {
		e.t.Errorf("Prepare with an empty label key: %v, want invalid argument", err)
	}
	big := strings.Repeat("x", snapshot.MaxLabelSize)
	_, err = e.sn.Prepare(e.ctx, "bad", "", snapshot.WithLabels(map[string]string{"k": big}))
	if !errdefs.IsInvalidArgument(err) {
		e.t.Errorf("Prepare with a %d-byte label: %v, want invalid argument", len(big)+1, err)
	}
	if _, err := e.sn.Stat(e.ctx, "bad"); !errdefs.IsNotFound(err) {
		e.t.Errorf("a refused Prepare left snapshot bad: %v", err)
	}
}

// infos returns every snapshot by key, as Walk reports them.
func (e *env) infos() map[string]snapshot.Info {
	e.t.Helper()
	got := map[string]snapshot.Info{}
	err := e.sn.Walk(e.ctx, func(_ context.Context, info snapshot.Info) error {
		if _, dup := got[info.Name]; dup {
			e.t.Errorf("Walk reported %q twice", info.Name)
		}
		got[info.Name] = info
		return nil
	})
	if err != nil {
		e.t.Fatalf("Walk: %v", err)
	}
	return got
}

func testWalk(e *env) {
	if got := e.infos(); len(got) != 0 {
		e.t.Errorf("Walk of a new snapshotter: %v", got)
	}
	e.prepare("a", "")
	e.commit("A", "a")
	e.prepare("b", "A", snapshot.WithLabels(map[string]string{"l": "v"}))
	e.view("v", "A")
	got := e.infos()
	want := map[string]struct {
		kind   snapshot.Kind
		parent string
	}{"A": {snapshot.KindCommitted, ""}, "b": {snapshot.KindActive, "A"}, "v": {snapshot.KindView, "A"}}
	if len(got) != len(want) {
		e.t.Errorf("Walk found %d snapshots, want %d: %v", len(got), len(want), got)
	}
	for key, w := range want {
		if g := got[key]; g.Kind != w.kind || g.Parent != w.parent {
			e.t.Errorf("Walk: %s is %v on %q, want %v on %q", key, g.Kind, g.Parent, w.kind, w.parent)
		}
		if !reflect.DeepEqual(got[key], e.stat(key)) {
			e.t.Errorf("Walk says %+v, Stat says %+v", got[key], e.stat(key))
		}
	}

	// Walk stops at fn's first error and returns it.
	stop := fmt.Errorf("stop here")
	calls := 0
	err := e.sn.Walk(e.ctx, func(context.Context, snapshot.Info) error { calls++; return stop })
	if err != stop || calls != 1 {
		e.t.Errorf("Walk with a failing fn: %d calls, error %v; want 1 call and fn's error", calls, err)
	}
	// fn may use the snapshotter.
	err = e.sn.Walk(e.ctx, func(ctx context.Context, info snapshot.Info) error {
		_, err := e.sn.Stat(ctx, info.Name)
		return err
	})
	if err != nil {
		e.t.Errorf("Walk with fn calling Stat: %v", err)
	}
}

// testReopen checks that everything survives closing and reopening.
func testReopen(e *env) {
	e.prepare("a", "", snapshot.WithLabels(map[string]string{"l": "a"}))
	e.commit("A", "a", snapshot.WithLabels(map[string]string{"l": "A"}))
	e.prepare("b", "A")
	e.commit("B", "b")
	cMounts := e.prepare("c", "B")
	e.view("v", "A")
	before := e.infos()

	e.reopen()

	after := e.infos()
	if len(after) != len(before) {
		e.t.Errorf("after reopening: %d snapshots, want %d", len(after), len(before))
	}
	for key, b := range before {
		a := after[key]
		if a.Kind != b.Kind || a.Parent != b.Parent || !reflect.DeepEqual(a.Labels, b.Labels) ||
			!a.Created.Equal(b.Created) || !a.Updated.Equal(b.Updated) {
			e.t.Errorf("%s before reopening %+v, after %+v", key, b, a)
		}
	}
	if ms, err := e.sn.Mounts(e.ctx, "c"); err != nil || !reflect.DeepEqual(ms, cMounts) {
		e.t.Errorf("Mounts(c) after reopening = %+v, %v; want %+v", ms, err, cMounts)
	}
	// New snapshots get their own directories, not those of old ones.
	d := e.prepare("d", "B")
	if reflect.DeepEqual(d, cMounts) {
		e.t.Errorf("d, prepared after reopening, has c's mounts %+v", d)
	}
	e.commit("C", "c")
	e.remove("C")
	e.remove("d")
}

func testConcurrentPrepare(e *env) {
	e.prepare("a", "")
	e.commit("A", "a")
	const n = 16
	mounts := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ms, err := e.sn.Prepare(e.ctx, fmt.Sprintf("c%d", i), "A")
			if err == nil {
				mounts[i] = fmt.Sprint(ms)
				err = e.sn.Commit(e.ctx, fmt.Sprintf("C%d", i), fmt.Sprintf("c%d", i))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	seen := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			e.t.Errorf("snapshot c%d: %v", i, errs[i])
			continue
		}
		if j, dup := seen[mounts[i]]; dup {
			e.t.Errorf("c%d and c%d got the same mounts %s", j, i, mounts[i])
		}
		seen[mounts[i]] = i
	}
	if got := len(e.infos()); got != n+1 {
		e.t.Errorf("Walk after %d concurrent commits found %d snapshots, want %d", n, got, n+1)
	}
}

// testCleanupAfterCrash plants what a crash in the middle of Prepare or
// Remove leaves (directories the metadata does not know) and checks that
// Cleanup removes them and nothing else.
func testCleanupAfterCrash(e *env) {
	cleaner, ok := e.sn.(snapshot.Cleaner)
	if !ok {
		e.t.Skip("the snapshotter is not a snapshot.Cleaner")
	}
	snapshots := filepath.Join(e.root, "snapshots")
	if _, err := os.Stat(snapshots); err != nil {
		e.t.Skipf("no %s: not the storage layout this case knows", snapshots)
	}
	e.prepare("a", "")
	e.commit("A", "a")
	e.prepare("b", "A")
	kept := e.tree(e.root)

	orphans := []string{"999999", "new-0123456789abcdef", "rm-7-0123456789abcdef"}
	for _, o := range orphans {
		e.write(filepath.Join(snapshots, o, "fs", "etc", "junk"), "left by a crash")
	}
	if err := cleaner.Cleanup(e.ctx); err != nil {
		e.t.Fatalf("Cleanup: %v", err)
	}
	if got := e.tree(e.root); !reflect.DeepEqual(got, kept) {
		e.t.Errorf("after Cleanup the root holds %q, want %q", got, kept)
	}
	for _, key := range []string{"A", "b"} {
		e.stat(key)
	}
	e.prepare("c", "A")
	e.remove("c")
	e.remove("b")
	e.remove("A")
}
