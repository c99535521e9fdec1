package archive

import (
	"archive/tar"
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The layers in testdata/ are made by this generator, so what they hold is
// readable here; TestTestdataIsGenerated keeps the files and the generator in
// step. Run `go test ./internal/archive -update` (as root) to rewrite the
// tars and the golden listings.
var update = flag.Bool("update", false, "rewrite the layers and golden listings in testdata")

var (
	baseTime  = time.Unix(1700000000, 0)
	layerTime = time.Unix(1710000000, 0)
)

type entry struct {
	hdr  tar.Header
	body string
}

func dirE(name string, mode int64, uid, gid int, mt time.Time) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: gid, ModTime: mt}}
}

func fileE(name string, mode int64, uid, gid int, mt time.Time, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: uid, Gid: gid, ModTime: mt, Size: int64(len(body))}, body: body}
}

func symlinkE(name, target string, mt time.Time) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: mt}}
}

func hardlinkE(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: baseTime}}
}

func whiteoutE(name string, mt time.Time) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, ModTime: mt}}
}

func withXattr(e entry, kv ...string) entry {
	e.hdr.PAXRecords = map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		e.hdr.PAXRecords[paxXattr+kv[i]] = kv[i+1]
	}
	return e
}

// baseLayer is a small root file system: every kind of entry, odd modes and
// owners, an extended attribute, a hardlink and symbolic links.
func baseLayer() []entry {
	t := baseTime
	big := bytes.Repeat([]byte("0123456789"), 20_000)
	return []entry{
		dirE("bin/", 0o755, 0, 0, t),
		fileE("bin/sh", 0o755, 0, 0, t, "#!shell"),
		hardlinkE("bin/sh-link", "bin/sh"),
		withXattr(fileE("bin/ping", 0o4755, 0, 0, t, "ping"), "user.berth.test", "cap"),
		dirE("dev/", 0o755, 0, 0, t),
		{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: t}},
		{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/loop0", Mode: 0o660, Gid: 6, Devmajor: 7, Devminor: 0, ModTime: t}},
		{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "dev/initctl", Mode: 0o600, ModTime: t}},
		dirE("etc/", 0o755, 0, 0, t),
		symlinkE("etc/localtime", "/usr/share/zoneinfo/UTC", t),
		fileE("etc/motd", 0o644, 0, 0, t, "hello"),
		fileE("etc/passwd", 0o644, 0, 0, t, "root:x:0:0"),
		fileE("etc/shadow", 0o640, 0, 42, t, "root:*"),
		dirE("home/", 0o755, 0, 0, t),
		dirE("home/user/", 0o700, 1000, 1000, t),
		fileE("home/user/.profile", 0o644, 1000, 1000, t, "PATH=/bin"),
		symlinkE("lib", "usr/lib", t),
		dirE("opt/", 0o755, 0, 0, t),
		dirE("opt/app/", 0o755, 0, 0, t),
		fileE("opt/app/data", 0o600, 0, 0, t, string(big)),
		dirE("srv/", 0o755, 0, 0, t),
		fileE("srv/old", 0o644, 0, 0, t, "old"),
		dirE("tmp/", 0o1777, 0, 0, t),
		dirE("usr/", 0o755, 0, 0, t),
		dirE("usr/lib/", 0o755, 0, 0, t),
		fileE("usr/lib/libc.so", 0o755, 0, 0, t, "libc"),
		dirE("var/", 0o755, 0, 0, t),
		dirE("var/cache/", 0o755, 0, 0, t),
		dirE("var/cache/apt/", 0o755, 0, 0, t),
		fileE("var/cache/apt/pkgcache.bin", 0o644, 0, 0, t, "cache"),
		fileE("var/cache/old", 0o644, 0, 0, t, "old"),
		dirE("var/log/", 0o755, 0, 0, t),
		fileE("var/log/syslog", 0o640, 0, 4, t, "log"),
	}
}

// upperLayer changes baseLayer: removals by whiteout, an opaque directory,
// replacements of one kind of entry by another, whiteouts naming entries of
// the same layer (which they must not hide), an aufs bookkeeping entry and an
// overlay attribute that must not get through.
func upperLayer() []entry {
	t := layerTime
	return []entry{
		dirE("bin/", 0o755, 0, 0, t),
		symlinkE("bin/sh", "busybox", t),
		fileE("bin/busybox", 0o755, 0, 0, t, "busybox"),
		dirE("etc/", 0o755, 0, 0, t),
		whiteoutE("etc/.wh.motd", t),
		withXattr(fileE("etc/new", 0o600, 0, 0, t, "new"), "trusted.overlay.redirect", "/etc/passwd", "user.kept", "yes"),
		fileE("etc/passwd", 0o600, 0, 0, t, "root:x:0:0:new"),
		dirE("home/", 0o755, 0, 0, t),
		dirE("home/user/", 0o750, 1000, 1000, t),
		whiteoutE("home/user/.wh..profile", t),
		dirE("opt/", 0o755, 0, 0, t),
		fileE("opt/app", 0o644, 0, 0, t, "app is a file now"),
		dirE("srv/", 0o755, 0, 0, t),
		fileE("srv/keep", 0o644, 0, 0, t, "same layer"),
		whiteoutE("srv/.wh.keep", t),
		whiteoutE("srv/.wh..wh..opq", t),
		whiteoutE(".wh..wh.plnk", t),
		dirE("var/", 0o755, 0, 0, t),
		whiteoutE("var/cache/.wh..wh..opq", t),
		withXattr(dirE("var/cache/", 0o700, 0, 0, t), "user.note", "opaque"),
		fileE("var/cache/fresh", 0o644, 0, 0, t, "fresh"),
		whiteoutE("var/.wh.log", t),
	}
}

func buildTar(t testing.TB, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.Format = tar.FormatPAX
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var testdataLayers = map[string]func() []entry{
	"base.tar":  baseLayer,
	"upper.tar": upperLayer,
}

func TestTestdataIsGenerated(t *testing.T) {
	for name, gen := range testdataLayers {
		want := buildTar(t, gen())
		p := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator makes: run go test -update", p)
		}
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s: listing differs\n--- got\n%s--- want\n%s", p, got, want)
	}
}
