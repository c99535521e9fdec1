package archive

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// listTree describes every entry under dir, one line each in path order, with
// what a user of the unpacked layer would check: type, permissions, owner,
// content, link target, device numbers, modification time, extended
// attributes and which names share an inode.
func listTree(t *testing.T, dir string) string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	firstName := map[[2]uint64]string{}
	var b strings.Builder
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		typ := map[uint32]string{unix.S_IFDIR: "d", unix.S_IFREG: "-", unix.S_IFLNK: "l", unix.S_IFCHR: "c",
			unix.S_IFBLK: "b", unix.S_IFIFO: "p", unix.S_IFSOCK: "s"}[st.Mode&unix.S_IFMT]
		fmt.Fprintf(&b, "%s %s%04o %d:%d", rel, typ, st.Mode&0o7777, st.Uid, st.Gid)
		switch typ {
		case "-":
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(data) <= 24 {
				fmt.Fprintf(&b, " %q", data)
			} else {
				sum := sha256.Sum256(data)
				fmt.Fprintf(&b, " size=%d sha256=%x", len(data), sum[:4])
			}
			id := [2]uint64{st.Dev, st.Ino}
			if first, ok := firstName[id]; ok {
				fmt.Fprintf(&b, " link=%s", first)
			} else {
				firstName[id] = rel
			}
		case "l":
			target, err := os.Readlink(p)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, " -> %s", target)
		case "c", "b":
			fmt.Fprintf(&b, " dev=%d,%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		fmt.Fprintf(&b, " mtime=%d", st.Mtim.Sec)
		attrs := listXattrs(t, p)
		for _, k := range attrs {
			fmt.Fprintf(&b, " %s", k)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func listXattrs(t *testing.T, p string) []string {
	t.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err == unix.ENOTSUP {
		return nil
	}
	if err != nil {
		t.Fatalf("listxattr %s: %v", p, err)
	}
	var out []string
	for _, name := range strings.Split(strings.TrimSuffix(string(buf[:n]), "\x00"), "\x00") {
		if name == "" || name == "security.selinux" {
			continue
		}
		val := make([]byte, 4096)
		m, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			t.Fatalf("getxattr %s %s: %v", p, name, err)
		}
		out = append(out, fmt.Sprintf("xattr:%s=%q", name, val[:m]))
	}
	slices.Sort(out)
	return out
}
