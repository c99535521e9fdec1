package volume

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/mount/mounttest"
	"github.com/berth-engine/berth/internal/testutil"
)

// mountStore is openStore for tests that mount: the test's thread gets a
// private mount namespace, and anything still mounted under the store's root
// when the test ends fails it (and is detached).
func mountStore(t *testing.T) *Store {
	t.Helper()
	testutil.RequireRoot(t, "mounts volumes")
	mounttest.PrivateNamespace(t)
	s := openStore(t)
	mounttest.NoLeaks(t, s.Root())
	return s
}

// mountsAt returns the file system types mounted at dir, as the test
// thread's /proc/thread-self/mountinfo shows them (bottom first).
func mountsAt(t *testing.T, dir string) []string {
	t.Helper()
	infos, err := mountinfo.GetMounts(mountinfo.SingleEntryFilter(dir))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, m := range infos {
		types = append(types, m.FSType)
	}
	return types
}

func TestTmpfsVolumeIsMountedWhileUsed(t *testing.T) {
	s := mountStore(t)
	v := create(t, s, "scratch", map[string]string{
		"type": "tmpfs", "device": "tmpfs", "o": "size=1m,nr_inodes=100",
		"uid": "4242", "gid": "4343", "mode": "0750",
	}, nil)
	t.Cleanup(func() { mount.UnmountAll(v.Mountpoint, unix.MNT_DETACH) })
	if got := mountsAt(t, v.Mountpoint); got != nil {
		t.Fatalf("create mounted %v; Docker mounts on first use", got)
	}

	dir, err := s.Mount(ctx, "scratch", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if dir != v.Mountpoint || !slices.Equal(mountsAt(t, dir), []string{"tmpfs"}) {
		t.Fatalf("first Mount: dir %s, mounts there %v; want one tmpfs at %s", dir, mountsAt(t, dir), v.Mountpoint)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 4242 || st.Gid != 4343 || st.Mode&0o7777 != 0o750 {
		t.Errorf("the mounted volume's root is %d:%d %04o, want 4242:4343 0750", st.Uid, st.Gid, st.Mode&0o7777)
	}
	writeFile(t, filepath.Join(dir, "f"), 10)

	if _, err := s.Mount(ctx, "scratch", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unmount(ctx, "scratch", "c1"); err != nil {
		t.Fatal(err)
	}
	if got := mountsAt(t, dir); !slices.Equal(got, []string{"tmpfs"}) {
		t.Fatalf("after the second holder mounted and the first unmounted: %v, want one tmpfs", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
		t.Fatalf("the file system changed under a holder: %v", err)
	}
	wantErr(t, s.Remove(ctx, "scratch", true), errdefs.IsConflict, "remove scratch: volume is in use - [c1, c2]")

	if err := s.Release(ctx, "scratch", "c2"); err != nil {
		t.Fatal(err)
	}
	if got := mountsAt(t, dir); got != nil {
		t.Fatalf("after the last holder released it: still mounted %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); !os.IsNotExist(err) {
		t.Errorf("tmpfs content outlived the mount: %v", err)
	}
	// c1 unmounted but still references it.
	wantErr(t, s.Remove(ctx, "scratch", false), errdefs.IsConflict, "remove scratch: volume is in use - [c1]")
	s.Release(ctx, "scratch", "c1")
	if err := s.Remove(ctx, "scratch", false); err != nil {
		t.Fatal(err)
	}
}

func TestBindVolumeKeepsHostData(t *testing.T) {
	s := mountStore(t)
	host := t.TempDir()
	writeFile(t, filepath.Join(host, "keep"), 7)
	v := create(t, s, "bound", map[string]string{"type": "none", "o": "bind", "device": host}, nil)
	t.Cleanup(func() { mount.UnmountAll(v.Mountpoint, unix.MNT_DETACH) })

	dir, err := s.Mount(ctx, "bound", "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep")); err != nil {
		t.Fatalf("the bound host directory is not visible in the volume: %v", err)
	}
	writeFile(t, filepath.Join(dir, "new"), 3)
	if err := s.Release(ctx, "bound", "c1"); err != nil {
		t.Fatal(err)
	}
	if got := mountsAt(t, dir); got != nil {
		t.Fatalf("still mounted after the last release: %v", got)
	}

	// A leftover mount with no holder (a crash): Remove unmounts before it
	// deletes, so the host's files survive.
	if err := mount.All([]mount.Mount{{Type: "bind", Source: host}}, dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "bound", false); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"keep", "new"} {
		if _, err := os.Stat(filepath.Join(host, f)); err != nil {
			t.Errorf("removing the volume hurt the host directory: %v", err)
		}
	}
}

func TestMountFailureLeavesNoHolder(t *testing.T) {
	s := mountStore(t)
	create(t, s, "broken", map[string]string{"type": "nosuchfs", "device": "x"}, nil)
	if _, err := s.Mount(ctx, "broken", "c1"); err == nil {
		t.Fatal("mounting a file system type the kernel lacks succeeded")
	}
	v, _ := s.Get(ctx, "broken")
	if v.Refs != nil || v.Mounts != nil {
		t.Errorf("a failed Mount recorded the container: %+v", v)
	}
	if err := s.Remove(ctx, "broken", false); err != nil {
		t.Error(err)
	}
}

func TestOpenUnmountsStaleMounts(t *testing.T) {
	s := mountStore(t)
	opts := map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
	stale := create(t, s, "stale", opts, nil)
	held := create(t, s, "held", opts, nil)
	for _, v := range []Volume{stale, held} {
		t.Cleanup(func() { mount.UnmountAll(v.Mountpoint, unix.MNT_DETACH) })
	}
	if err := mount.All([]mount.Mount{{Type: "tmpfs", Source: "tmpfs"}}, stale.Mountpoint); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount(ctx, "held", "running-ctr"); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s)
	if rc := s.Reconciled(); !slices.Equal(rc.Unmounted, []string{"stale"}) || rc.Errors != nil {
		t.Errorf("reconciled = %+v, want stale unmounted", rc)
	}
	if got := mountsAt(t, stale.Mountpoint); got != nil {
		t.Errorf("the stale mount is still there: %v", got)
	}
	if got := mountsAt(t, held.Mountpoint); !slices.Equal(got, []string{"tmpfs"}) {
		t.Errorf("the held volume's mount after reopen: %v, want it kept", got)
	}
	if err := s.Release(ctx, "held", "running-ctr"); err != nil {
		t.Fatal(err)
	}
	if got := mountsAt(t, held.Mountpoint); got != nil {
		t.Errorf("still mounted after its holder released it: %v", got)
	}
}
