package testsuite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/snapshot"
)

// testLayeredContents builds an image of two layers and a container on it,
// and checks what each mount shows.
func testLayeredContents(e *env) {
	e.layer("A", "", func(dir string) {
		e.write(filepath.Join(dir, "etc/os-release"), "A")
		e.write(filepath.Join(dir, "shared"), "A")
	})
	e.layer("B", "A", func(dir string) {
		e.wantFile(filepath.Join(dir, "etc/os-release"), "A")
		e.write(filepath.Join(dir, "shared"), "B")
		e.write(filepath.Join(dir, "usr/b"), "B")
	})

	ctr := e.mount(e.prepare("ctr", "B"))
	e.wantFile(filepath.Join(ctr, "etc/os-release"), "A")
	e.wantFile(filepath.Join(ctr, "shared"), "B")
	e.wantFile(filepath.Join(ctr, "usr/b"), "B")
	e.write(filepath.Join(ctr, "etc/os-release"), "changed by the container")
	e.write(filepath.Join(ctr, "ctr-file"), "ctr")
	e.wantFile(filepath.Join(ctr, "etc/os-release"), "changed by the container")

	// The layers underneath did not change.
	va := e.mount(e.view("va", "A"))
	e.wantFile(filepath.Join(va, "etc/os-release"), "A")
	e.wantFile(filepath.Join(va, "shared"), "A")
	e.wantAbsent(filepath.Join(va, "usr/b"))
	e.wantAbsent(filepath.Join(va, "ctr-file"))
	vb := e.mount(e.view("vb", "B"))
	e.wantFile(filepath.Join(vb, "shared"), "B")
	e.wantFile(filepath.Join(vb, "etc/os-release"), "A")
	e.wantAbsent(filepath.Join(vb, "ctr-file"))

	// A second container on the same image starts from the image, not
	// from the first container.
	ctr2 := e.mount(e.prepare("ctr2", "B"))
	e.wantFile(filepath.Join(ctr2, "etc/os-release"), "A")
	e.wantAbsent(filepath.Join(ctr2, "ctr-file"))
}

// testWhiteouts deletes a file, a directory, and replaces a directory in a
// layer, and checks that trees built on it see the deletions while trees
// built on its parent do not.
func testWhiteouts(e *env) {
	e.layer("A", "", func(dir string) {
		e.write(filepath.Join(dir, "gone"), "A")
		e.write(filepath.Join(dir, "keep"), "A")
		e.write(filepath.Join(dir, "d/x"), "A")
		e.write(filepath.Join(dir, "d/y"), "A")
		e.write(filepath.Join(dir, "e/f"), "A")
	})
	e.layer("B", "A", func(dir string) {
		for _, p := range []string{"gone", "d", "e"} {
			if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
				e.t.Fatal(err)
			}
		}
		e.write(filepath.Join(dir, "d/z"), "B") // d is now a new, opaque directory
	})

	vb := e.mount(e.view("vb", "B"))
	if got, want := e.tree(vb), []string{".", "d", "d/z", "keep"}; !reflect.DeepEqual(got, want) {
		e.t.Errorf("view of B holds %q, want %q", got, want)
	}
	va := e.mount(e.view("va", "A"))
	if got, want := e.tree(va), []string{".", "d", "d/x", "d/y", "e", "e/f", "gone", "keep"}; !reflect.DeepEqual(got, want) {
		e.t.Errorf("view of A holds %q, want %q", got, want)
	}

	// A layer on B can bring the deleted names back.
	e.layer("C", "B", func(dir string) {
		e.wantAbsent(filepath.Join(dir, "gone"))
		e.write(filepath.Join(dir, "gone"), "again")
		e.write(filepath.Join(dir, "e/g"), "C")
	})
	vc := e.mount(e.view("vc", "C"))
	if got, want := e.tree(vc), []string{".", "d", "d/z", "e", "e/g", "gone", "keep"}; !reflect.DeepEqual(got, want) {
		e.t.Errorf("view of C holds %q, want %q", got, want)
	}
	e.wantFile(filepath.Join(vc, "gone"), "again")
}

// testViewReadOnly checks views of nothing, of one layer and of a chain.
func testViewReadOnly(e *env) {
	e.layer("A", "", func(dir string) { e.write(filepath.Join(dir, "f"), "A") })
	e.layer("B", "A", func(dir string) { e.write(filepath.Join(dir, "g"), "B") })

	for _, c := range []struct {
		key, parent string
		want        []string
	}{
		{"v0", "", []string{"."}},
		{"v1", "A", []string{".", "f"}},
		{"v2", "B", []string{".", "f", "g"}},
	} {
		dir := e.mount(e.view(c.key, c.parent))
		if got := e.tree(dir); !reflect.DeepEqual(got, c.want) {
			e.t.Errorf("view %s of %q holds %q, want %q", c.key, c.parent, got, c.want)
		}
		if err := os.WriteFile(filepath.Join(dir, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			e.t.Errorf("creating a file in view %s: %v, want EROFS", c.key, err)
		}
		if c.parent != "" {
			if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); !errors.Is(err, unix.EROFS) {
				e.t.Errorf("writing f in view %s: %v, want EROFS", c.key, err)
			}
		}
	}
}

// testMountsAgain checks that Mounts returns the same tree as Prepare did.
func testMountsAgain(e *env) {
	e.layer("A", "", func(dir string) { e.write(filepath.Join(dir, "a"), "A") })
	for _, parent := range []string{"", "A"} {
		key := "c-on-" + parent
		e.with(e.prepare(key, parent), func(dir string) { e.write(filepath.Join(dir, "mine"), key) })
		ms, err := e.sn.Mounts(e.ctx, key)
		if err != nil {
			e.t.Fatalf("Mounts(%s): %v", key, err)
		}
		e.with(ms, func(dir string) {
			e.wantFile(filepath.Join(dir, "mine"), key)
			e.write(filepath.Join(dir, "second"), "2")
		})
		e.commit("C"+parent, key)
		e.with(e.view("v"+parent, "C"+parent), func(dir string) {
			e.wantFile(filepath.Join(dir, "mine"), key)
			e.wantFile(filepath.Join(dir, "second"), "2")
		})
	}
}

// A moment with nanoseconds, for times that must survive.
var oldTime = time.Date(2001, 2, 3, 4, 5, 6, 123456789, time.UTC)

// testFileMetadata puts the kinds of file a root filesystem holds in a
// layer, and checks them in a view of a layer on top of it.
func testFileMetadata(e *env) {
	must := func(what string, err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatalf("%s: %v", what, err)
		}
	}
	e.layer("A", "", func(dir string) {
		p := func(name string) string { return filepath.Join(dir, name) }
		e.write(p("suid"), "#!/bin/sh\n")
		must("chown suid", os.Lchown(p("suid"), 1000, 1000))
		must("chmod suid", unix.Chmod(p("suid"), 0o4755))
		must("mkdir sticky", os.Mkdir(p("sticky"), 0o755))
		must("chmod sticky", unix.Chmod(p("sticky"), 0o1777))
		e.write(p("x"), "with attributes")
		must("user xattr", unix.Setxattr(p("x"), "user.berth", []byte("hello"), 0))
		must("trusted xattr", unix.Setxattr(p("x"), "trusted.berth", []byte("secret"), 0))
		must("link", os.Link(p("x"), p("x-link")))
		must("symlink", os.Symlink("../nowhere/at-all", p("link")))
		must("lchown link", os.Lchown(p("link"), 1000, 1001))
		must("mknod null", unix.Mknod(p("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
		must("chmod null", unix.Chmod(p("null"), 0o666)) // past the umask
		must("mkfifo", unix.Mkfifo(p("fifo"), 0o600))
		must("mknod sock", unix.Mknod(p("sock"), unix.S_IFSOCK|0o755, 0))
		e.write(p("olddir/old"), "old")
		for _, name := range []string{"olddir/old", "olddir"} {
			must("chtimes "+name, os.Chtimes(p(name), oldTime, oldTime))
		}
	})
	e.layer("B", "A", func(dir string) { e.write(filepath.Join(dir, "new"), "B") })
	v := e.mount(e.view("v", "B"))

	st := func(name string) unix.Stat_t {
		e.t.Helper()
		var st unix.Stat_t
		must("lstat "+name, unix.Lstat(filepath.Join(v, name), &st))
		return st
	}
	checks := []struct {
		name     string
		mode     uint32 // type and permission bits
		uid, gid uint32
	}{
		{"suid", unix.S_IFREG | 0o4755, 1000, 1000},
		{"sticky", unix.S_IFDIR | 0o1777, 0, 0},
		{"link", unix.S_IFLNK | 0o777, 1000, 1001},
		{"null", unix.S_IFCHR | 0o666, 0, 0},
		{"fifo", unix.S_IFIFO | 0o600, 0, 0},
		{"sock", unix.S_IFSOCK | 0o755, 0, 0},
	}
	for _, c := range checks {
		s := st(c.name)
		if s.Mode != c.mode || s.Uid != c.uid || s.Gid != c.gid {
			e.t.Errorf("%s: mode %o owner %d:%d, want %o %d:%d", c.name, s.Mode, s.Uid, s.Gid, c.mode, c.uid, c.gid)
		}
	}
	if s := st("null"); s.Rdev != unix.Mkdev(1, 3) {
		e.t.Errorf("null: device %d:%d, want 1:3", unix.Major(s.Rdev), unix.Minor(s.Rdev))
	}
	if target, err := os.Readlink(filepath.Join(v, "link")); err != nil || target != "../nowhere/at-all" {
		e.t.Errorf("link points to %q (%v), want ../nowhere/at-all", target, err)
	}
	if a, b := st("x"), st("x-link"); a.Ino != b.Ino || a.Nlink != 2 {
		e.t.Errorf("x and x-link: inodes %d and %d, %d links; want one inode with 2 links", a.Ino, b.Ino, a.Nlink)
	}
	for name, want := range map[string]string{"user.berth": "hello", "trusted.berth": "secret"} {
		buf := make([]byte, 64)
		n, err := unix.Getxattr(filepath.Join(v, "x"), name, buf)
		if err != nil || string(buf[:n]) != want {
			e.t.Errorf("x: xattr %s = %q (%v), want %q", name, buf[:max(n, 0)], err, want)
		}
	}
	for _, name := range []string{"olddir", "olddir/old"} {
		s := st(name)
		if got := time.Unix(s.Mtim.Unix()); !got.Equal(oldTime) {
			e.t.Errorf("%s: mtime %v, want %v", name, got.UTC(), oldTime)
		}
	}
	e.wantFile(filepath.Join(v, "new"), "B")
}

// LongChainLength is the number of layers testLongChain stacks: more than
// Docker's limit of 125, and far more than fit in one mount(2) page.
const LongChainLength = 120

func testLongChain(e *env) {
	parent := ""
	for i := range LongChainLength {
		name := fmt.Sprintf("L%03d", i)
		e.layer(name, parent, func(dir string) {
			e.write(filepath.Join(dir, fmt.Sprintf("layer-%03d", i)), fmt.Sprint(i))
			e.write(filepath.Join(dir, "top"), fmt.Sprint(i))
		})
		parent = name
	}
	ctr := e.mount(e.prepare("ctr", parent))
	e.wantFile(filepath.Join(ctr, "top"), fmt.Sprint(LongChainLength-1))
	e.wantFile(filepath.Join(ctr, "layer-000"), "0")
	e.wantFile(filepath.Join(ctr, fmt.Sprintf("layer-%03d", LongChainLength/2)), fmt.Sprint(LongChainLength/2))
	if got := len(e.names(ctr)); got != LongChainLength+1 {
		e.t.Errorf("the container sees %d files, want %d", got, LongChainLength+1)
	}
	e.write(filepath.Join(ctr, "top"), "container")
	e.wantFile(filepath.Join(ctr, "top"), "container")

	v := e.mount(e.view("v", parent))
	e.wantFile(filepath.Join(v, "top"), fmt.Sprint(LongChainLength-1))
}

func testUsage(e *env) {
	u, ok := e.sn.(snapshot.Usager)
	if !ok {
		e.t.Skip("the snapshotter is not a snapshot.Usager")
	}
	usage := func(key string) snapshot.Usage {
		e.t.Helper()
		got, err := u.Usage(e.ctx, key)
		if err != nil {
			e.t.Fatalf("Usage(%s): %v", key, err)
		}
		return got
	}
	const mib = 1 << 20
	ms := e.prepare("a", "")
	empty := usage("a")
	e.with(ms, func(dir string) {
		e.write(filepath.Join(dir, "big"), strings.Repeat("berth", mib/5))
		if err := os.Link(filepath.Join(dir, "big"), filepath.Join(dir, "big-link")); err != nil {
			e.t.Fatal(err)
		}
		e.write(filepath.Join(dir, "sub/small"), "s")
	})
	active := usage("a")
	if active.Size < mib || active.Size > mib+mib/4 {
		e.t.Errorf("usage of a with one 1 MiB file (linked twice) = %d bytes, want 1 MiB to 1.25 MiB", active.Size)
	}
	if want := int64(len("berth")*(mib/5) + 1); active.Files != want || empty.Files != 0 {
		e.t.Errorf("file bytes of a: %d, want %d (the file once, the small one, no directories); empty: %d", active.Files, want, empty.Files)
	}
	if active.Inodes < empty.Inodes+3 {
		e.t.Errorf("inodes of a: %d after adding a file, a directory and a file, %d before", active.Inodes, empty.Inodes)
	}
	e.commit("A", "a")
	if got := usage("A"); got != active {
		e.t.Errorf("usage of A after commit %+v, of a before %+v", got, active)
	}
	_, err := u.Usage(e.ctx, "missing")
	e.wantErr("Usage of a missing key", err, errdefs.ErrNotFound, "missing")
}
