package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

// makeTree builds a small root file system with the calling user's
// ownership (and others' too, as root): every kind of entry Tar writes, and
// with withSocket a socket, which it leaves out.
func makeTree(t *testing.T, dir string, withSocket bool) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin", "etc", "opt/app", "srv", "usr/lib", "var/log", "run"} {
		must(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	files := map[string]string{
		"bin/tool": "tool", "etc/motd": "hello", "etc/passwd": "root:x:0:0", "opt/app/data": strings.Repeat("data", 100_000),
		"usr/lib/libc.so": "libc", "var/log/syslog": "log", "usr/x": "x",
		"srv/" + strings.Repeat("long-name-", 20) + "é": "a name past ustar's 100 bytes",
	}
	for p, body := range files {
		must(os.WriteFile(filepath.Join(dir, p), []byte(body), 0o644))
	}
	must(unix.Chmod(filepath.Join(dir, "bin/tool"), 0o4755))
	must(unix.Chmod(filepath.Join(dir, "srv"), 0o2750))
	must(os.Link(filepath.Join(dir, "bin/tool"), filepath.Join(dir, "bin/tool-link")))
	must(os.Symlink("usr/lib", filepath.Join(dir, "lib")))
	must(os.Symlink("/nowhere/at/all", filepath.Join(dir, "etc/dangling")))
	must(unix.Mkfifo(filepath.Join(dir, "run/fifo"), 0o620))
	if withSocket {
		l, err := net.Listen("unix", filepath.Join(dir, "run/sock"))
		must(err)
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		l.Close()
	}
	if xattrsWork(dir) {
		must(unix.Lsetxattr(filepath.Join(dir, "etc/motd"), "user.berth", []byte("v1"), 0))
		must(unix.Lsetxattr(filepath.Join(dir, "opt"), "user.dir", []byte("d"), 0))
	}
	if os.Getuid() == 0 {
		must(os.Lchown(filepath.Join(dir, "etc/passwd"), 1000, 1001))
		must(os.Lchown(filepath.Join(dir, "lib"), 7, 8))
		must(unix.Mknod(filepath.Join(dir, "run/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	}
	// Whole seconds, as tar keeps them; directories last.
	var paths []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	})
	for i, p := range slices.Backward(paths) {
		ts := []unix.Timespec{{Sec: 1600000000 + int64(i)}, {Sec: 1600000000 + int64(i)}}
		must(unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

func xattrsWork(dir string) bool {
	err := unix.Lsetxattr(dir, "user.probe", []byte("1"), 0)
	unix.Lremovexattr(dir, "user.probe")
	return err == nil
}

func tarBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Tar(context.Background(), dir, &buf); err != nil {
		t.Fatalf("Tar: %v", err)
	}
	return buf.Bytes()
}

func tarNames(t *testing.T, b []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		n := h.Name
		if h.Typeflag == tar.TypeLink {
			n += " link to " + h.Linkname
		}
		for k := range h.PAXRecords {
			if strings.Contains(k, "overlay") {
				t.Errorf("%s carries %s", h.Name, k)
			}
		}
		names = append(names, n)
	}
}

// copyTree copies src into a new directory with Tar and a native Apply.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	apply(t, dst, tarBytes(t, src), Native)
	return dst
}

func TestTarRoundTrip(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, true)
	withFallback(t, func(t *testing.T) {
		dst := copyTree(t, src)
		lines := strings.SplitAfter(listTree(t, src), "\n")
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "run/sock s") }) {
			t.Fatal("no socket in the source tree")
		}
		want := strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.HasPrefix(l, "run/sock ") }), "") // sockets stay behind
		if got := listTree(t, dst); got != want {
			t.Fatalf("tree after Tar and Apply differs\n--- got\n%s--- want\n%s", got, want)
		}
	})
}

func TestTarIsDeterministicAndOrdered(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, true)
	a, b := tarBytes(t, src), tarBytes(t, src)
	if !bytes.Equal(a, b) {
		t.Fatal("two Tars of the same tree differ")
	}
	got := tarNames(t, a)
	want := []string{"bin/", "bin/tool", "bin/tool-link link to bin/tool", "etc/", "etc/dangling", "etc/motd", "etc/passwd",
		"lib", "opt/", "opt/app/", "opt/app/data", "run/", "run/fifo", "srv/", "srv/" + strings.Repeat("long-name-", 20) + "é", "usr/", "usr/lib/", "usr/lib/libc.so", "usr/x",
		"var/", "var/log/", "var/log/syslog"}
	if os.Getuid() == 0 {
		want = slices.Insert(want, slices.Index(want, "run/fifo")+1, "run/null")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Tar entries\n%v\nwant\n%v", got, want)
	}
}

// TestTarOfGoldenLayer: a tree unpacked from a layer, archived again, unpacks
// to the same tree (devices, owners, set-id bits, xattrs, hardlinks).
func TestTarOfGoldenLayer(t *testing.T) {
	testutil.RequireRoot(t, "the layer holds devices and other owners")
	src := t.TempDir()
	apply(t, src, readTestdata(t, "base.tar"), Native)
	dst := copyTree(t, src)
	checkGolden(t, "base.golden", listTree(t, dst))
}

func TestDiffNative(t *testing.T) {
	lower := t.TempDir()
	makeTree(t, lower, false)
	upper := copyTree(t, lower)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u := func(p string) string { return filepath.Join(upper, p) }
	later := time.Unix(1650000000, 0)
	must(os.Remove(u("etc/motd")))
	must(os.RemoveAll(u("var/log")))
	must(os.WriteFile(u("etc/new"), []byte("new"), 0o600))
	must(os.WriteFile(u("etc/passwd"), []byte("root:x:0:0:changed"), 0o644))
	must(os.Chtimes(u("etc/passwd"), later, later))
	must(os.Chmod(u("bin/tool"), 0o700))
	must(os.RemoveAll(u("opt/app")))
	must(os.WriteFile(u("opt/app"), []byte("a file now"), 0o644))
	must(os.MkdirAll(u("srv/new/a/b"), 0o755))
	must(os.WriteFile(u("srv/new/a/b/f"), []byte("f"), 0o644))
	must(os.Remove(u("lib")))
	must(os.Symlink("usr/lib64", u("lib")))
	want := []string{"bin/", "bin/tool", "bin/tool-link link to bin/tool", "etc/", "etc/.wh.motd", "etc/new", "etc/passwd", "lib",
		"opt/", "opt/app", "srv/", "srv/new/", "srv/new/a/", "srv/new/a/b/", "srv/new/a/b/f", "usr/", "usr/x", "var/", "var/.wh.log"}
	if xattrsWork(upper) {
		must(unix.Lsetxattr(u("usr/x"), "user.new", []byte("1"), 0))
	} else {
		want = slices.DeleteFunc(want, func(s string) bool { return strings.HasPrefix(s, "usr/") })
	}

	var buf bytes.Buffer
	if err := Diff(context.Background(), lower, upper, &buf); err != nil {
		t.Fatalf("Diff: %v", err)
	}
	if got := tarNames(t, buf.Bytes()); !slices.Equal(got, want) {
		t.Fatalf("Diff entries\n%v\nwant\n%v", got, want)
	}
	result := copyTree(t, lower)
	apply(t, result, buf.Bytes(), Native)
	if got, want := listTree(t, result), listTree(t, upper); got != want {
		t.Fatalf("lower + Diff differs from upper\n--- got\n%s--- want\n%s", got, want)
	}

	buf.Reset()
	if err := Diff(context.Background(), lower, copyTree(t, lower), &buf); err != nil {
		t.Fatal(err)
	}
	if got := tarNames(t, buf.Bytes()); len(got) != 0 {
		t.Fatalf("Diff of identical trees: %v", got)
	}
}

// TestDiffOverlayUpper changes files through a real overlay mount, then turns
// the upper directory into a layer: applied onto the lower tree (native) or
// mounted over it (overlay) it gives what the mount showed.
func TestDiffOverlayUpper(t *testing.T) {
	requireOverlay(t)
	base := readTestdata(t, "base.tar")
	lower, upper := t.TempDir(), t.TempDir()
	apply(t, lower, base, Overlay)
	mnt := mountOverlay(t, upper, lower)
	m := func(p string) string { return filepath.Join(mnt, p) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Remove(m("etc/motd")))        // whiteout
	must(os.RemoveAll(m("var/cache")))    // whiteout of a directory
	must(os.Mkdir(m("var/cache"), 0o700)) // ...made again: opaque
	must(os.WriteFile(m("var/cache/new"), []byte("n"), 0o644))
	must(os.WriteFile(m("etc/passwd"), []byte("changed"), 0o644)) // copy-up
	must(os.Chmod(m("bin/ping"), 0o755))                          // metadata-only copy-up
	must(os.Link(m("etc/passwd"), m("etc/passwd-hard")))          // hardlink inside the upper
	must(os.Symlink("/bin/sh", m("usr/sh")))
	must(os.RemoveAll(m("home/user")))
	merged := listTree(t, mnt)
	unmount(t, mnt)

	var buf bytes.Buffer
	if err := Diff(context.Background(), "", upper, &buf); err != nil {
		t.Fatalf("Diff: %v", err)
	}
	names := tarNames(t, buf.Bytes())
	for _, want := range []string{"etc/.wh.motd", "var/cache/", "var/cache/.wh..wh..opq", "var/cache/new", "home/.wh.user",
		"etc/passwd-hard link to etc/passwd", "usr/sh"} {
		if !slices.Contains(names, want) {
			t.Errorf("Diff lacks %q: %v", want, names)
		}
	}
	if a, b := slices.Index(names, "var/cache/"), slices.Index(names, "var/cache/.wh..wh..opq"); b != a+1 {
		t.Errorf("the opaque marker does not follow its directory: %v", names)
	}

	native := t.TempDir()
	apply(t, native, base, Native)
	apply(t, native, buf.Bytes(), Native)
	if got := listTree(t, native); got != merged {
		t.Errorf("base + Diff (native) differs from the mount\n--- got\n%s--- mount\n%s", got, merged)
	}
	layer := t.TempDir()
	apply(t, layer, buf.Bytes(), Overlay)
	if got := listTree(t, mountOverlay(t, "", layer, lower)); got != merged {
		t.Errorf("base + Diff (overlay) differs from the mount\n--- got\n%s--- mount\n%s", got, merged)
	}
}

func TestDiffOverlayRefusesRedirects(t *testing.T) {
	testutil.RequireRoot(t, "sets trusted.* xattrs")
	upper := t.TempDir()
	os.Mkdir(filepath.Join(upper, "moved"), 0o755)
	if err := unix.Lsetxattr(filepath.Join(upper, "moved"), "trusted.overlay.redirect", []byte("/old"), 0); err != nil {
		t.Fatal(err)
	}
	err := Diff(context.Background(), "", upper, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "redirect_dir=off") {
		t.Fatalf("Diff of an upper with a redirect = %v", err)
	}
}
