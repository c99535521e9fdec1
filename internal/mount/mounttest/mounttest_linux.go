// Package mounttest lets privileged tests mount for real without leaving
// mounts behind, even when a test fails half-way.
//
//	func TestSomething(t *testing.T) {
//		testutil.RequireRoot(t, "mounts overlayfs")
//		mounttest.PrivateNamespace(t)   // this test's thread only
//		dir := t.TempDir()
//		mounttest.NoLeaks(t, dir)        // checked after the test's own cleanups
//		...mount.All(mounts, target); t.Cleanup(func() { mount.UnmountAll(target, 0) })
//	}
//
// PrivateNamespace moves the OS thread running the test (and only it) into a
// mount namespace of its own whose mounts do not propagate to the host. The
// thread stays locked to the test's goroutine and dies with it, taking the
// namespace and anything still mounted in it along. Code under test that
// mounts from other goroutines would act in the host's namespace instead: keep
// mounting on the test goroutine.
package mounttest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// PrivateNamespace puts the calling goroutine's thread into a new private
// mount namespace for the rest of the test. Call it first thing in the test
// (or subtest) function, after skipping when not root.
func PrivateNamespace(t testing.TB) {
	t.Helper()
	runtime.LockOSThread() // never unlocked: the thread exits with the test goroutine
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		t.Fatalf("unshare mount namespace: %v", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make / rprivate in the test's mount namespace: %v", err)
	}
}

// MountsUnder returns the mount points at or below dir in the calling
// thread's mount namespace, deepest last.
func MountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatalf("read mountinfo: %v", err)
	}
	return mountpoints(infos)
}

// processMountsUnder is MountsUnder for the process's (thread group
// leader's) namespace: the host's, when the test thread has its own.
func processMountsUnder(t testing.TB, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("read mountinfo: %v", err)
	}
	defer f.Close()
	infos, err := mountinfo.GetMountsFromReader(f, mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatalf("read /proc/self/mountinfo: %v", err)
	}
	return mountpoints(infos)
}

func mountpoints(infos []*mountinfo.Info) []string {
	out := make([]string, 0, len(infos))
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	return out
}

// NoLeaks registers a cleanup, run after the cleanups registered later (so
// after the test's own unmounts), that fails the test if anything is still
// mounted at or below dir, in the test thread's namespace or the process's.
// Leaked mounts in the test's namespace are then detached, so removing the
// temporary directory cannot reach into a mounted layer.
func NoLeaks(t testing.TB, dir string) {
	t.Helper()
	dir = realPath(dir)
	t.Cleanup(func() {
		if left := MountsUnder(t, dir); len(left) > 0 {
			t.Errorf("mounts left under %s: %v", dir, left)
			for i := len(left) - 1; i >= 0; i-- {
				_ = unix.Unmount(left[i], unix.MNT_DETACH)
			}
		}
		if left := processMountsUnder(t, dir); len(left) > 0 {
			t.Errorf("mounts under %s leaked into the process's mount namespace: %v", dir, left)
		}
	})
}

// realPath resolves symlinks in dir as mountinfo shows mount points resolved.
func realPath(dir string) string {
	if p, err := filepath.EvalSymlinks(dir); err == nil {
		return p
	}
	return dir
}
