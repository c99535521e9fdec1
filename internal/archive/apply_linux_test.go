package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-engine/berth/internal/testutil"
	"golang.org/x/sys/unix"
)

func apply(t *testing.T, dir string, layer []byte, mode Mode) int64 {
	t.Helper()
	n, err := Apply(context.Background(), dir, bytes.NewReader(layer), ApplyOptions{Mode: mode})
	if err != nil {
		t.Fatalf("Apply (%v): %v", mode, err)
	}
	return n
}

// withFallback runs fn with openat2(2) and again with the walk used on
// kernels that lack it.
func withFallback(t *testing.T, fn func(t *testing.T)) {
	t.Run("openat2", fn)
	t.Run("walk", func(t *testing.T) {
		noOpenat2.Store(true)
		defer noOpenat2.Store(false)
		fn(t)
	})
}

// requireOverlay skips when overlayfs cannot be mounted here.
func requireOverlay(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t, "mounts overlayfs")
	fss, err := os.ReadFile("/proc/filesystems")
	if err != nil || !bytes.Contains(fss, []byte("\toverlay\n")) {
		t.Skip("needs overlayfs: not in /proc/filesystems")
	}
}

// mountOverlay mounts an overlay of lowers (topmost first), read-only unless
// upper is set, and unmounts it when the test ends.
func mountOverlay(t *testing.T, upper string, lowers ...string) string {
	t.Helper()
	mnt := t.TempDir()
	opts := "lowerdir=" + strings.Join(lowers, ":") + ",redirect_dir=off,metacopy=off"
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + t.TempDir()
	}
	if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay %s: %v", opts, err)
	}
	t.Cleanup(func() { unmount(t, mnt) })
	return mnt
}

func unmount(t *testing.T, mnt string) {
	if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil && err != unix.EINVAL {
		t.Errorf("unmount %s: %v", mnt, err)
	}
}

func TestApplyGolden(t *testing.T) {
	testutil.RequireRoot(t, "the layers hold devices, other owners and trusted xattrs")
	base, upper := readTestdata(t, "base.tar"), readTestdata(t, "upper.tar")
	withFallback(t, func(t *testing.T) {
		for _, mode := range []Mode{Native, Overlay} {
			dir := t.TempDir()
			n := apply(t, dir, base, mode)
			// The files' bytes, and the targets of etc/localtime and lib, as Docker counts a layer.
			if n != int64(200_000+7+4+5+10+6+9+3+4+5+3+3+len("/usr/share/zoneinfo/UTC")+len("usr/lib")) {
				t.Errorf("Apply returned a layer size of %d bytes", n)
			}
			checkGolden(t, "base.golden", listTree(t, dir))
			if mode == Native {
				apply(t, dir, upper, Native)
				checkGolden(t, "native.golden", listTree(t, dir))
			}
		}
		dir := t.TempDir()
		apply(t, dir, upper, Overlay)
		checkGolden(t, "overlay.golden", listTree(t, dir))
	})
}

// TestOverlayModeMountsLikeNative is the point of overlay mode: the layers,
// unpacked each into its own directory and mounted, show the same tree as
// the native mode's layers applied one onto the other.
func TestOverlayModeMountsLikeNative(t *testing.T) {
	requireOverlay(t)
	base, upper := readTestdata(t, "base.tar"), readTestdata(t, "upper.tar")
	native := t.TempDir()
	apply(t, native, base, Native)
	apply(t, native, upper, Native)

	lower, top := t.TempDir(), t.TempDir()
	apply(t, lower, base, Overlay)
	apply(t, top, upper, Overlay)
	mnt := mountOverlay(t, "", top, lower)
	if got, want := listTree(t, mnt), listTree(t, native); got != want {
		t.Fatalf("mounted overlay layers differ from native apply\n--- overlay\n%s--- native\n%s", got, want)
	}
}

func TestApplyIDMap(t *testing.T) {
	testutil.RequireRoot(t, "chowns to mapped ids")
	layer := buildTar(t, []entry{
		dirE("home/", 0o755, 0, 0, baseTime),
		fileE("home/f", 0o644, 1000, 1001, baseTime, "x"),
		symlinkE("home/l", "f", baseTime),
		fileE("implicit/parent/f", 0o644, 5, 5, baseTime, "y"),
	})
	dir := t.TempDir()
	_, err := Apply(context.Background(), dir, bytes.NewReader(layer), ApplyOptions{
		IDMap: func(uid, gid int) (int, int, error) { return uid + 100000, gid + 200000, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string][2]uint32{
		"home": {100000, 200000}, "home/f": {101000, 201001}, "home/l": {100000, 200000},
		"implicit": {100000, 200000}, "implicit/parent/f": {100005, 200005},
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, p), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, want[0], want[1])
		}
	}
	refuse := errors.New("no mapping")
	_, err = Apply(context.Background(), t.TempDir(), bytes.NewReader(layer), ApplyOptions{
		IDMap: func(uid, gid int) (int, int, error) { return 0, 0, refuse },
	})
	if !errors.Is(err, refuse) {
		t.Fatalf("Apply with a failing IDMap = %v", err)
	}
}

// me returns entries' owner for tests that must run without root.
func me() (int, int) { return os.Getuid(), os.Getgid() }

func TestApplyImplicitParentsAndDirTimes(t *testing.T) {
	uid, gid := me()
	old := syscallUmask(0o077)
	defer syscallUmask(old)
	layer := buildTar(t, []entry{
		fileE("a/b/c", 0o640, uid, gid, baseTime, "c"),
		dirE("d/", 0o711, uid, gid, baseTime),
		fileE("d/x", 0o600, uid, gid, layerTime, "x"), // written after d's entry: d keeps its time
	})
	dir := t.TempDir()
	apply(t, dir, layer, Native)
	for p, mode := range map[string]uint32{"a": 0o755, "a/b": 0o755, "a/b/c": 0o640, "d": 0o711} {
		st, err := os.Lstat(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		if uint32(st.Mode().Perm()) != mode {
			t.Errorf("%s has mode %o, want %o (whatever the umask)", p, st.Mode().Perm(), mode)
		}
	}
	st, _ := os.Stat(filepath.Join(dir, "d"))
	if !st.ModTime().Equal(baseTime) {
		t.Errorf("d's mtime is %v, want %v from its entry", st.ModTime(), baseTime)
	}
}

func syscallUmask(m int) int { return unix.Umask(m) }

func TestApplyReadsToTheEnd(t *testing.T) {
	uid, gid := me()
	layer := buildTar(t, []entry{fileE("f", 0o644, uid, gid, baseTime, "12345")})
	layer = append(layer, make([]byte, 10240)...) // padding after the trailer, as tar(1) writes
	r := bytes.NewReader(layer)
	n, err := Apply(context.Background(), t.TempDir(), r, ApplyOptions{})
	if err != nil || n != 5 {
		t.Fatalf("Apply = %d, %v; want 5 bytes", n, err)
	}
	if r.Len() != 0 {
		t.Fatalf("Apply left %d bytes of the stream unread", r.Len())
	}
}

func TestApplyTruncatedLayerFails(t *testing.T) {
	uid, gid := me()
	layer := buildTar(t, []entry{fileE("f", 0o644, uid, gid, baseTime, strings.Repeat("x", 5000))})
	if _, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(layer[:3000]), ApplyOptions{}); err == nil {
		t.Fatal("Apply of a truncated layer succeeded")
	}
}

func TestApplyCancelled(t *testing.T) {
	uid, gid := me()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	layer := buildTar(t, []entry{fileE("f", 0o644, uid, gid, baseTime, "x")})
	if _, err := Apply(ctx, t.TempDir(), bytes.NewReader(layer), ApplyOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Apply with a cancelled context = %v", err)
	}
}

// TestApplyWhiteoutOrder: a whiteout hides only the lower layers, wherever it
// sits in the stream relative to this layer's own entries.
func TestApplyWhiteoutOrder(t *testing.T) {
	uid, gid := me()
	lower := buildTar(t, []entry{
		dirE("d/", 0o755, uid, gid, baseTime),
		fileE("d/old", 0o644, uid, gid, baseTime, "old"),
		dirE("d/sub/", 0o755, uid, gid, baseTime),
		fileE("d/sub/old", 0o644, uid, gid, baseTime, "old"),
		fileE("gone", 0o644, uid, gid, baseTime, "gone"),
	})
	upper := buildTar(t, []entry{
		dirE("d/", 0o755, uid, gid, layerTime),
		dirE("d/sub/", 0o755, uid, gid, layerTime),
		fileE("d/sub/new", 0o644, uid, gid, layerTime, "new"),
		whiteoutE("d/.wh..wh..opq", layerTime), // after this layer's d/sub/new
		fileE("d/later", 0o644, uid, gid, layerTime, "later"),
		whiteoutE(".wh.gone", layerTime),
		fileE("gone", 0o600, uid, gid, layerTime, "back"), // re-added after its whiteout
	})
	dir := t.TempDir()
	apply(t, dir, lower, Native)
	apply(t, dir, upper, Native)
	var got []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		got = append(got, rel)
		return err
	})
	want := []string{".", "d", "d/later", "d/sub", "d/sub/new", "gone"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("tree %v, want %v", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "gone")); string(b) != "back" {
		t.Fatalf("gone holds %q, want back", b)
	}
}

func TestApplyRefusesUnknownEntryTypes(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeCont, Name: "x", Format: tar.FormatGNU})
	tw.Close()
	_, err := Apply(context.Background(), t.TempDir(), &buf, ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Fatalf("Apply of a contiguous-file entry = %v, want unsupported", err)
	}
}

func TestApplyRefusesTheMachineRoot(t *testing.T) {
	for _, dir := range []string{"/", "", "//", "/./"} {
		if _, err := Apply(context.Background(), dir, strings.NewReader(""), ApplyOptions{}); err == nil {
			t.Errorf("Apply onto %q was accepted", dir)
		}
	}
}
