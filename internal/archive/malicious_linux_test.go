package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestMaliciousLayersStayInside feeds Apply layers built to write, link or
// remove outside the target directory, in both modes and with both path
// resolvers, and checks that nothing outside changed. Whether Apply refuses a
// layer or confines it does not matter; escaping does. Every case aims at the
// test's own "outside" directory (symbolic links to "/" continue to it), so a
// broken resolver fails the test without touching the rest of the host.
func TestMaliciousLayersStayInside(t *testing.T) {
	uid, gid := me()
	withFallback(t, func(t *testing.T) {
		for _, mode := range []Mode{Native, Overlay} {
			t.Run(mode.String(), func(t *testing.T) {
				for _, tc := range maliciousCases(uid, gid) {
					t.Run(tc.name, func(t *testing.T) {
						if mode == Overlay && tc.whiteout && os.Getuid() != 0 {
							t.Skip("needs root: overlay whiteouts are character devices")
						}
						top := t.TempDir()
						root, outside := filepath.Join(top, "root"), filepath.Join(top, "outside")
						os.Mkdir(root, 0o755)
						os.Mkdir(outside, 0o755)
						secret := filepath.Join(outside, "secret")
						os.WriteFile(secret, []byte("secret"), 0o644)
						before := listTree(t, outside)

						layer := buildTar(t, tc.entries(outside))
						_, err := Apply(context.Background(), root, bytes.NewReader(layer), ApplyOptions{Mode: mode})
						if tc.mustFail && err == nil {
							t.Errorf("Apply succeeded, want an error")
						}
						if after := listTree(t, outside); after != before {
							t.Errorf("the layer changed what is outside the target:\n--- before\n%s--- after\n%s", before, after)
						}
						var st unix.Stat_t
						if unix.Stat(secret, &st) != nil || st.Nlink != 1 {
							t.Errorf("the file outside got linked: nlink %d", st.Nlink)
						}
						if names, _ := os.ReadDir(top); len(names) != 2 {
							t.Errorf("entries appeared beside the target: %v", names)
						}
						if tc.check != nil {
							tc.check(t, root, outside)
						}
					})
				}
			})
		}
	})
}

type maliciousCase struct {
	name     string
	entries  func(outside string) []entry
	mustFail bool
	whiteout bool // the layer holds whiteouts (overlay mode makes devices)
	check    func(t *testing.T, root, outside string)
}

func maliciousCases(uid, gid int) []maliciousCase {
	f := func(name, body string) entry { return fileE(name, 0o644, uid, gid, baseTime, body) }
	l := func(name, target string) entry {
		e := symlinkE(name, target, baseTime)
		e.hdr.Uid, e.hdr.Gid = uid, gid
		return e
	}
	d := func(name string) entry { return dirE(name, 0o755, uid, gid, baseTime) }
	hasFile := func(p, want string) func(t *testing.T, root, outside string) {
		return func(t *testing.T, root, outside string) {
			p := filepath.Join(root, p)
			if b, err := os.ReadFile(p); err != nil || string(b) != want {
				t.Errorf("%s: %q, %v; want %q", p, b, err, want)
			}
		}
	}
	return []maliciousCase{
		{name: "dotdot", mustFail: true, entries: func(string) []entry { return []entry{f("../outside/pwned", "x")} }},
		{name: "dotdot inside a name", mustFail: true, entries: func(string) []entry { return []entry{f("a/../../outside/pwned", "x")} }},
		{name: "absolute name lands inside", entries: func(o string) []entry { return []entry{f(o+"/pwned", "x")} },
			check: func(t *testing.T, root, outside string) { hasFile(outside+"/pwned", "x")(t, root, outside) }},
		{name: "absolute symlink as parent", entries: func(o string) []entry {
			return []entry{l("evil", o), f("evil/pwned", "x")}
		}},
		{name: "symlink to / as parent", entries: func(o string) []entry {
			return []entry{l("evil", "/"), f("evil"+o+"/pwned", "x")}
		}, check: func(t *testing.T, root, outside string) { hasFile(outside+"/pwned", "x")(t, root, outside) }},
		{name: "relative symlink climbing out", entries: func(o string) []entry {
			return []entry{l("up", "../outside"), f("up/pwned", "x"), d("up/dir/"), f("up/dir/pwned", "x")}
		}},
		{name: "relative symlink climbing to /", entries: func(o string) []entry {
			return []entry{l("up", "../../../../../../../../.."+o), f("up/pwned", "x")}
		}},
		{name: "symlink chain", entries: func(o string) []entry {
			return []entry{l("a", "b"), l("b", "c/.."), d("c/"), l("c/d", o), f("a/d/pwned", "x")}
		}},
		{name: "write through a symlink", entries: func(o string) []entry {
			return []entry{l("f", o+"/secret"), f("f", "pwned")}
		}, check: hasFile("f", "pwned")},
		{name: "directory over a symlink", entries: func(o string) []entry {
			return []entry{l("dir", o), d("dir/"), f("dir/pwned", "x")}
		}, check: hasFile("dir/pwned", "x")},
		{name: "hardlink climbing out", mustFail: true, entries: func(string) []entry {
			return []entry{hardlinkE("h", "../outside/secret")}
		}},
		{name: "hardlink to an absolute path", mustFail: true, entries: func(o string) []entry {
			return []entry{hardlinkE("h", o+"/secret")}
		}},
		{name: "hardlink through a symlinked parent", mustFail: true, entries: func(o string) []entry {
			return []entry{l("d", o), hardlinkE("h", "d/secret")}
		}},
		{name: "hardlink to a symlink, then written", entries: func(o string) []entry {
			return []entry{l("s", o+"/secret"), hardlinkE("h", "s"), f("h", "pwned")}
		}, check: hasFile("h", "pwned")},
		{name: "whiteout through a symlink", whiteout: true, entries: func(o string) []entry {
			return []entry{l("d", o), whiteoutE("d/.wh.secret", baseTime)}
		}},
		{name: "whiteout climbing out", mustFail: true, whiteout: true, entries: func(string) []entry {
			return []entry{whiteoutE("../outside/.wh.secret", baseTime)}
		}},
		{name: "opaque through a symlink", whiteout: true, entries: func(o string) []entry {
			return []entry{l("d", o), whiteoutE("d/.wh..wh..opq", baseTime)}
		}},
		{name: "opaque through a symlink to /", whiteout: true, entries: func(o string) []entry {
			return []entry{l("d", "/"), whiteoutE("d"+o+"/.wh..wh..opq", baseTime), f("kept", "x")}
		}, check: hasFile("kept", "x")},
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"a/b": "a/b", "./a/b/": "a/b", "/etc/passwd": "etc/passwd", "a/./b/../c": "a/c", ".": "", "./": "", "//": "",
	} {
		if got, err := cleanName(in); err != nil || got != want {
			t.Errorf("cleanName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../x", "a/../../x", "./../x"} {
		if _, err := cleanName(in); err == nil {
			t.Errorf("cleanName(%q) accepted", in)
		}
	}
}

// TestWalkInRootMatchesOpenat2 resolves the same tricky paths with both
// resolvers: they must land on the same directory.
func TestWalkInRootMatchesOpenat2(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib/x"), 0o755)
	os.Symlink("usr/lib", filepath.Join(root, "lib"))
	os.Symlink("/usr", filepath.Join(root, "abs"))
	os.Symlink("../../../..", filepath.Join(root, "usr/lib/up"))
	os.Symlink("loop", filepath.Join(root, "loop"))
	rootfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootfd)
	for _, p := range []string{"", "usr", "lib/x", "abs/lib/x", "usr/lib/up/usr", "lib/up/lib/../lib/x", "loop", "missing", "usr/lib/x/nope"} {
		fd1, err1 := openDirInRoot(rootfd, p)
		noOpenat2.Store(true)
		fd2, err2 := openDirInRoot(rootfd, p)
		noOpenat2.Store(false)
		if (err1 == nil) != (err2 == nil) {
			t.Errorf("%q: openat2 %v, walk %v", p, err1, err2)
			continue
		}
		if err1 != nil {
			continue
		}
		var s1, s2 unix.Stat_t
		unix.Fstat(fd1, &s1)
		unix.Fstat(fd2, &s2)
		unix.Close(fd1)
		unix.Close(fd2)
		if s1.Ino != s2.Ino {
			t.Errorf("%q: openat2 and walk reached different directories", p)
		}
	}
	if got, _ := readDirNames(rootfd); !slices.Contains(got, "usr") || slices.Contains(got, ".") {
		t.Errorf("readDirNames = %v", got)
	}
}
