package topdir

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// ext4Dir returns a new directory on an ext4 file system (the one holding
// /var/tmp), or skips: only ext4 places directories by FS_TOPDIR_FL.
func ext4Dir(t *testing.T) string {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/var/tmp", &st); err != nil || st.Type != unix.EXT4_SUPER_MAGIC {
		t.Skip("skipped: /var/tmp is not on ext4, the file system FS_TOPDIR_FL is for")
	}
	dir, err := os.MkdirTemp("/var/tmp", "topdir-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestMarkSetsTheFlagOnce(t *testing.T) {
	dir := ext4Dir(t)
	if marked, err := Marked(dir); err != nil || marked {
		t.Fatalf("a new directory: Marked = %v, %v; want false, nil", marked, err)
	}
	for range 2 { // marking twice is harmless
		if err := Mark(dir); err != nil {
			t.Fatal(err)
		}
	}
	if marked, err := Marked(dir); err != nil || !marked {
		t.Fatalf("after Mark: Marked = %v, %v; want true, nil", marked, err)
	}
	// The flag is the directory's own: what is made inside does not inherit it.
	sub := filepath.Join(dir, "layer")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if marked, _ := Marked(sub); marked {
		t.Error("a subdirectory inherited FS_TOPDIR_FL")
	}
}

func TestMarkWithoutInodeFlagsIsNotAnError(t *testing.T) {
	// proc has no inode flags at all.
	if err := Mark("/proc/sys"); err != nil {
		t.Fatalf("Mark(/proc/sys) = %v; want nil (nothing to place better)", err)
	}
}

func TestMarkMissingDirectory(t *testing.T) {
	err := Mark(filepath.Join(t.TempDir(), "missing"))
	if !os.IsNotExist(err) {
		t.Fatalf("Mark(missing) = %v; want a not-exist error", err)
	}
}
