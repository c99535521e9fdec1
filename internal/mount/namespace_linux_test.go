package mount

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/testutil"
)

// A namespace made by InPrivateNamespace or InSlaveNamespace keeps its own
// mounts to itself; the slave one hears of a mount made meanwhile under a
// shared mount of the caller's namespace, the private one does not.
func TestNewNamespacesKeepTheirMounts(t *testing.T) {
	testutil.RequireRoot(t, "mounts filesystems")
	// The process's own namespace is the caller's here, as in berthd: the
	// functions' threads are made from it, whichever thread the test is on.
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared")
	mkdirs(t, shared)
	tmpfs(t, shared)
	if err := unix.Mount("", shared, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		enter func(func() error) error
		hears bool
	}{
		{"private", InPrivateNamespace, false},
		{"slave", InSlaveNamespace, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			later, own := filepath.Join(shared, tc.name), filepath.Join(dir, tc.name+"-own")
			mkdirs(t, later, own)
			inside, mounted := make(chan struct{}), make(chan struct{})
			errc := make(chan error, 1)
			go func() {
				errc <- tc.enter(func() error {
					if err := unix.Mount("tmpfs", own, "tmpfs", 0, ""); err != nil {
						return err
					}
					close(inside)
					<-mounted
					heard, err := mountedAt("/proc/thread-self/mountinfo", later)
					if err == nil && heard != tc.hears {
						err = fmt.Errorf("a mount made outside meanwhile seen inside: %v, want %v", heard, tc.hears)
					}
					return err
				})
			}()
			select {
			case <-inside:
			case err := <-errc:
				t.Fatalf("entering the namespace: %v", err)
			}
			tmpfs(t, later)
			close(mounted)
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if leaked, err := mountedAt("/proc/self/mountinfo", own); err != nil || leaked {
				t.Errorf("the namespace's own mount reached the caller's: %v (err %v)", leaked, err)
			}
		})
	}
}

// tmpfs mounts a tmpfs at dir until the test ends.
func tmpfs(t *testing.T, dir string) {
	t.Helper()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
}

// mountedAt tells whether the mountinfo file lists a mount at path.
func mountedAt(mountinfo, path string) (bool, error) {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == path {
			return true, nil
		}
	}
	return false, nil
}
