package volume

import (
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/testutil"
)

// imageRootfs builds a container root file system holding, at /data, one of
// every kind of entry with distinct owners, modes, times and attributes, and
// beside it, outside the root file system, a secret that symbolic links in
// the image point at. It returns the root file system and the secret's
// directory.
func imageRootfs(t *testing.T) (rootfs, outside string) {
	t.Helper()
	base := t.TempDir()
	rootfs, outside = filepath.Join(base, "rootfs"), filepath.Join(base, "outside")
	data := filepath.Join(rootfs, "data")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(data, "sub", "deeper"), 0o755))
	must(os.MkdirAll(outside, 0o755))
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600))

	must(os.WriteFile(filepath.Join(data, "suid-tool"), []byte("#!/bin/true\n"), 0o644))
	must(os.WriteFile(filepath.Join(data, "sub", "config.txt"), []byte("key=value\n"), 0o644))
	must(os.WriteFile(filepath.Join(data, "sub", "deeper", "empty"), nil, 0o644))
	must(os.WriteFile(filepath.Join(data, "hard1"), []byte("linked"), 0o644))
	must(os.Link(filepath.Join(data, "hard1"), filepath.Join(data, "sub", "hard2")))
	must(os.Symlink("/etc", filepath.Join(data, "abs-escape")))
	must(os.Symlink("../../../../../../"+strings.TrimPrefix(outside, "/")+"/secret", filepath.Join(data, "rel-escape")))
	must(os.Symlink(outside, filepath.Join(data, "outside-dir")))
	must(os.Symlink("sub/config.txt", filepath.Join(data, "rel-link")))
	must(unix.Mkfifo(filepath.Join(data, "fifo"), 0o620))
	must(unix.Mknod(filepath.Join(data, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))

	// Owners, modes (set after chown, which clears setuid), attributes.
	for p, own := range map[string][2]int{
		"": {1001, 1002}, "suid-tool": {0, 0}, "sub": {1003, 1004}, "sub/config.txt": {1005, 1006},
		"hard1": {1007, 1008}, "rel-link": {1009, 1010}, "fifo": {1011, 1012}, "null": {0, 5},
	} {
		must(os.Lchown(filepath.Join(data, p), own[0], own[1]))
	}
	for p, mode := range map[string]uint32{"": 0o750, "suid-tool": 0o4755, "sub": 0o2770, "sub/deeper": 0o1777, "sub/config.txt": 0o640} {
		must(unix.Chmod(filepath.Join(data, p), mode))
	}
	for p, kv := range map[string][2]string{"": {"user.dir", "top"}, "sub/config.txt": {"user.color", "blue"}, "sub": {"user.empty", ""}} {
		must(unix.Setxattr(filepath.Join(data, p), kv[0], []byte(kv[1]), 0))
	}
	// Times last, deepest first, so creating entries does not move them.
	var paths []string
	must(filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	slices.Reverse(paths)
	for i, p := range paths {
		ts := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		tv := []unix.Timespec{unix.NsecToTimespec(ts.UnixNano()), unix.NsecToTimespec(ts.UnixNano())}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p, tv, unix.AT_SYMLINK_NOFOLLOW))
	}

	must(os.Symlink("/data", filepath.Join(rootfs, "abs-data")))            // resolves inside the root
	must(os.Symlink(outside, filepath.Join(rootfs, "evil")))                // would be the host's directory
	must(os.Symlink("../../../../outside", filepath.Join(rootfs, "climb"))) // ".." stops at the root
	return rootfs, outside
}

// describe lists everything under dir (the root as ".") with what a copy must
// keep: type, mode, owner, size, modification time, link target, content and
// extended attributes.
func describe(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		s := fmt.Sprintf("mode=%o owner=%d:%d size=%d mtime=%d.%09d", st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			target, _ := os.Readlink(p)
			s += " -> " + target
		case unix.S_IFREG:
			b, _ := os.ReadFile(p)
			s += fmt.Sprintf(" content=%q", b)
		case unix.S_IFCHR:
			s += fmt.Sprintf(" rdev=%d", st.Rdev)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFREG || st.Mode&unix.S_IFMT == unix.S_IFDIR {
			buf := make([]byte, 4096)
			n, _ := unix.Llistxattr(p, buf)
			names := strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
			slices.Sort(names)
			for _, name := range names {
				if name == "" {
					continue
				}
				v := make([]byte, 256)
				m, _ := unix.Lgetxattr(p, name, v)
				s += fmt.Sprintf(" %s=%q", name, v[:max(m, 0)])
			}
		}
		out[rel] = s
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCopyUpCopiesTheImageFaithfully(t *testing.T) {
	testutil.RequireRoot(t, "copies owners and device nodes")
	rootfs, _ := imageRootfs(t)
	vol := t.TempDir()

	copied, err := CopyUp(vol, rootfs, "/data")
	if err != nil || !copied {
		t.Fatalf("CopyUp = %v, %v; want a copy", copied, err)
	}
	want, got := describe(t, filepath.Join(rootfs, "data")), describe(t, vol)
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("%s:\n  image  %s\n  volume %s", k, want[k], got[k])
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s is in the volume but not in the image", k)
		}
	}
	var a, b unix.Stat_t
	unix.Lstat(filepath.Join(vol, "hard1"), &a)
	unix.Lstat(filepath.Join(vol, "sub", "hard2"), &b)
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard1 and sub/hard2 are not one file in the volume (inodes %d, %d; links %d)", a.Ino, b.Ino, a.Nlink)
	}

	// A volume with content is left alone.
	os.Remove(filepath.Join(vol, "hard1"))
	copied, err = CopyUp(vol, rootfs, "/data")
	if err != nil || copied {
		t.Fatalf("CopyUp into a non-empty volume = %v, %v; want nothing copied", copied, err)
	}
	if _, err := os.Lstat(filepath.Join(vol, "hard1")); !os.IsNotExist(err) {
		t.Error("CopyUp refilled a volume that was not empty")
	}
}

func TestCopyUpStaysInsideTheImage(t *testing.T) {
	testutil.RequireRoot(t, "builds an image tree with other owners")
	rootfs, outside := imageRootfs(t)

	// Links inside the copied tree are copied as links, never followed.
	vol := t.TempDir()
	if _, err := CopyUp(vol, rootfs, "/data"); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"abs-escape", "rel-escape", "outside-dir"} {
		fi, err := os.Lstat(filepath.Join(vol, l))
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s in the volume: %v, %v; want the symbolic link itself", l, fi, err)
		}
	}
	found := false
	filepath.WalkDir(vol, func(p string, d fs.DirEntry, err error) error {
		if d == nil || !d.Type().IsRegular() {
			return nil // never open the fifo or the device
		}
		if b, _ := os.ReadFile(p); string(b) == "host secret" {
			found = true
		}
		return nil
	})
	if found {
		t.Error("the host's secret was copied into the volume")
	}

	// The mount point itself resolves inside the image.
	for _, tc := range []struct {
		path   string
		copied bool
	}{
		{"/abs-data", true},    // -> /data inside the image
		{"../../data", true},   // ".." stops at the root
		{"/evil", false},       // -> <outside>, which the image does not have
		{"/climb", false},      // -> /outside, which the image does not have
		{"/nope", false},       // missing
		{"/data/hard1", false}, // not a directory
		{"/data/outside-dir", false},
	} {
		vol := t.TempDir()
		copied, err := CopyUp(vol, rootfs, tc.path)
		if err != nil || copied != tc.copied {
			t.Errorf("CopyUp(%s) = %v, %v; want copied=%v", tc.path, copied, err, tc.copied)
		}
		if _, err := os.Stat(filepath.Join(vol, "secret")); err == nil {
			t.Errorf("CopyUp(%s) copied the directory outside the image", tc.path)
		}
		if tc.copied {
			if _, err := os.Stat(filepath.Join(vol, "sub", "config.txt")); err != nil {
				t.Errorf("CopyUp(%s) did not copy /data: %v", tc.path, err)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(outside, "secret")); err != nil || string(b) != "host secret" {
		t.Errorf("the host's secret changed: %q, %v", b, err)
	}
}

func TestPopulateKeepsOwnershipOptions(t *testing.T) {
	testutil.RequireRoot(t, "chowns volumes")
	rootfs, _ := imageRootfs(t)
	s := openStore(t)
	plain := create(t, s, "plain", nil, nil)
	owned := create(t, s, "owned", map[string]string{"uid": "77", "mode": "0700"}, nil)

	for _, v := range []Volume{plain, owned} {
		copied, err := s.Populate(ctx, v.Name, rootfs, "/data")
		if err != nil || !copied {
			t.Fatalf("populate %s = %v, %v", v.Name, copied, err)
		}
		if _, err := os.Stat(filepath.Join(v.Mountpoint, "sub", "config.txt")); err != nil {
			t.Errorf("populate %s: %v", v.Name, err)
		}
	}
	var st unix.Stat_t
	unix.Stat(plain.Mountpoint, &st)
	if st.Uid != 1001 || st.Gid != 1002 || st.Mode&0o7777 != 0o750 {
		t.Errorf("plain volume's root after populate: %d:%d %04o, want the image's 1001:1002 0750", st.Uid, st.Gid, st.Mode&0o7777)
	}
	unix.Stat(owned.Mountpoint, &st)
	if st.Uid != 77 || st.Gid != 1002 || st.Mode&0o7777 != 0o700 {
		t.Errorf("owned volume's root after populate: %d:%d %04o, want uid 77 and 0700 from its options, gid 1002 from the image",
			st.Uid, st.Gid, st.Mode&0o7777)
	}
	if copied, err := s.Populate(ctx, "plain", rootfs, "/data"); err != nil || copied {
		t.Errorf("second populate = %v, %v; want nothing copied", copied, err)
	}

	tmpfs := create(t, s, "tmp", map[string]string{"type": "tmpfs", "device": "tmpfs"}, nil)
	if _, err := s.Populate(ctx, tmpfs.Name, rootfs, "/data"); err == nil {
		t.Error("populating an unmounted tmpfs volume succeeded; it would fill the hidden directory")
	}
}
