package cli

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// archiveFake is the archive endpoint of a container whose files are the
// entries of files: HEAD and GET answer the path's stat in the
// X-Docker-Container-Path-Stat header, GET with the path's tar, PUT keeps
// what it is sent.
type archiveFake struct {
	stats map[string]container.PathStat
	tars  map[string][]byte
	put   *capture
}

func (d *fakeDaemon) addArchive(t *testing.T, name string) *archiveFake {
	a := &archiveFake{stats: map[string]container.PathStat{}, tars: map[string][]byte{}, put: &capture{}}
	d.mux.HandleFunc("/containers/"+name+"/archive", func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Query().Get("path")
		if r.Method == http.MethodPut {
			a.put.add(r)
			w.WriteHeader(http.StatusOK)
			return
		}
		st, ok := a.stats[p]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]string{"message": "Could not find the file " + p + " in container " + name})
			return
		}
		b, _ := json.Marshal(st)
		w.Header().Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/x-tar")
			w.Write(a.tars[p])
		}
	})
	return a
}

// tree lists the files under dir as path=content (directories with a
// trailing /).
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case fi.IsDir():
			out = append(out, rel+"/")
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+"->"+target)
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+"="+string(b))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestCpFromContainer(t *testing.T) {
	d := newFakeDaemon(t)
	a := d.addArchive(t, "web")
	mtime := time.Unix(1700000000, 0)
	a.stats["/etc/app"] = container.PathStat{Name: "app", Mode: os.ModeDir | 0o755, Mtime: mtime}
	a.tars["/etc/app"] = tarOf(t, [2]string{"app/", ""}, [2]string{"app/a.conf", "A"}, [2]string{"app/sub/", ""}, [2]string{"app/sub/b", "B"})
	a.stats["/etc/hosts"] = container.PathStat{Name: "hosts", Size: 9, Mode: 0o644, Mtime: mtime}
	a.tars["/etc/hosts"] = tarOf(t, [2]string{"hosts", "127.0.0.1"})
	a.stats["/etc/app/."] = a.stats["/etc/app"]
	a.tars["/etc/app/."] = tarOf(t, [2]string{"./", ""}, [2]string{"./a.conf", "A"})
	a.stats["/evil"] = container.PathStat{Name: "evil", Mode: os.ModeDir | 0o755}
	a.tars["/evil"] = tarOf(t, [2]string{"evil/", ""}, [2]string{"evil/../../escaped", "X"})
	a.stats["/link"] = container.PathStat{Name: "link", Mode: os.ModeSymlink | 0o777, LinkTarget: "/etc/hosts"}

	for _, c := range []struct {
		name   string
		setup  func(dir string)
		args   func(dir string) []string
		code   int
		stderr string
		tree   []string
	}{
		{"dir into an existing dir", nil, func(dir string) []string { return []string{"web:/etc/app", dir} }, 0, "",
			[]string{"app/", "app/a.conf=A", "app/sub/", "app/sub/b=B"}},
		{"dir to a new name", nil, func(dir string) []string { return []string{"web:/etc/app", filepath.Join(dir, "conf")} }, 0, "",
			[]string{"conf/", "conf/a.conf=A", "conf/sub/", "conf/sub/b=B"}},
		{"dir contents", func(dir string) { os.Mkdir(filepath.Join(dir, "d"), 0o755) },
			func(dir string) []string { return []string{"web:/etc/app/.", filepath.Join(dir, "d")} }, 0, "", []string{"d/", "d/a.conf=A"}},
		{"file over a file", func(dir string) { os.WriteFile(filepath.Join(dir, "h"), []byte("old"), 0o644) },
			func(dir string) []string { return []string{"web:/etc/hosts", filepath.Join(dir, "h")} }, 0, "", []string{"h=127.0.0.1"}},
		{"file to a new name", nil, func(dir string) []string { return []string{"web:/etc/hosts", filepath.Join(dir, "h2")} }, 0, "", []string{"h2=127.0.0.1"}},
		{"file to a missing dir/", nil, func(dir string) []string { return []string{"web:/etc/hosts", filepath.Join(dir, "nodir") + "/"} }, 1,
			"no such directory\n", nil},
		{"dir over a file", func(dir string) { os.WriteFile(filepath.Join(dir, "f"), nil, 0o644) },
			func(dir string) []string { return []string{"web:/etc/app", filepath.Join(dir, "f")} }, 1, "cannot copy directory\n", []string{"f="}},
		{"following a link", nil, func(dir string) []string { return []string{"-L", "web:/link", filepath.Join(dir, "x")} }, 0, "", []string{"x=127.0.0.1"}},
		{"missing in the container", nil, func(dir string) []string { return []string{"web:/nope", dir} }, 1,
			"Error response from daemon: Could not find the file /nope in container web\n", nil},
		{"an entry escaping the destination", nil, func(dir string) []string { return []string{"web:/evil", filepath.Join(dir, "in")} }, 1,
			"\"in/../../escaped\" is outside of \"DIR\"\n", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "dst")
			os.Mkdir(dir, 0o755)
			if c.setup != nil {
				c.setup(dir)
			}
			r := runAt(t, d, append([]string{"cp"}, c.args(dir)...)...)
			if stderr := strings.ReplaceAll(c.stderr, "DIR", dir); r.code != c.code || r.stderr != stderr {
				t.Errorf("exit %d %q, want exit %d %q", r.code, r.stderr, c.code, stderr)
			}
			if got := tree(t, dir); c.tree != nil && !reflect.DeepEqual(got, c.tree) {
				t.Errorf("files %q, want %q", got, c.tree)
			}
			if _, err := os.Stat(filepath.Join(base, "escaped")); err == nil {
				t.Errorf("an entry was written outside the destination")
			}
		})
	}
	r := runAt(t, d, "cp", "web:/etc/hosts", "-")
	if r.code != 0 || entriesOf(t, []byte(r.stdout))[0] != "hosts=127.0.0.1" {
		t.Errorf("to stdout: exit %d %q", r.code, r.stderr)
	}
	r = runAt(t, d, "cp", "web:/etc/hosts", "/nonexistent/dir/x")
	if r.code != 1 || r.stderr != "invalid output path: directory \"/nonexistent/dir\" does not exist\n" {
		t.Errorf("missing local dir: exit %d %q", r.code, r.stderr)
	}
}

func TestCpToContainer(t *testing.T) {
	d := newFakeDaemon(t)
	a := d.addArchive(t, "web")
	a.stats["/tmp"] = container.PathStat{Name: "tmp", Mode: os.ModeDir | 0o1777}
	a.stats["/etc/hosts"] = container.PathStat{Name: "hosts", Mode: 0o644}
	a.stats["/dev/null"] = container.PathStat{Name: "null", Mode: os.ModeDevice | os.ModeCharDevice | 0o666}
	a.stats["/tmplink"] = container.PathStat{Name: "tmplink", Mode: os.ModeSymlink | 0o777, LinkTarget: "tmp"}
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "dir", "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "dir", "f"), []byte("F"), 0o644)
	os.WriteFile(filepath.Join(src, "dir", "sub", "g"), []byte("G"), 0o600)
	os.Symlink("f", filepath.Join(src, "dir", "l"))
	os.WriteFile(filepath.Join(src, "file.txt"), []byte("T"), 0o644)
	for _, c := range []struct {
		name    string
		args    []string
		path    string
		entries []string
		query   string
	}{
		{"dir into a dir", []string{filepath.Join(src, "dir"), "web:/tmp"}, "/tmp",
			[]string{"dir/=", "dir/f=F", "dir/l=", "dir/sub/=", "dir/sub/g=G"}, "noOverwriteDirNonDir=true&path=%2Ftmp"},
		{"dir to a new name", []string{filepath.Join(src, "dir"), "web:/tmp/new"}, "/tmp",
			[]string{"new/=", "new/f=F", "new/l=", "new/sub/=", "new/sub/g=G"}, ""},
		{"dir contents", []string{filepath.Join(src, "dir") + "/.", "web:/tmp"}, "/tmp",
			[]string{"./=", "./f=F", "./l=", "./sub/=", "./sub/g=G"}, ""},
		{"file over a file", []string{filepath.Join(src, "file.txt"), "web:/etc/hosts"}, "/etc", []string{"hosts=T"}, ""},
		{"file through a link", []string{"-a", filepath.Join(src, "file.txt"), "web:/tmplink"}, "/tmp", []string{"file.txt=T"},
			"copyUIDGID=true&noOverwriteDirNonDir=true&path=%2Ftmp"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runAt(t, d, append([]string{"cp"}, c.args...)...)
			if r.code != 0 || r.stdout != "" || r.stderr != "" {
				t.Fatalf("exit %d %q %q", r.code, r.stdout, r.stderr)
			}
			if p := a.put.query(t).Get("path"); p != c.path {
				t.Errorf("PUT path %q, want %q", p, c.path)
			}
			if c.query != "" && a.put.query(t).Encode() != c.query {
				t.Errorf("PUT query %q, want %q", a.put.query(t).Encode(), c.query)
			}
			a.put.mu.Lock()
			body := a.put.bodies[len(a.put.bodies)-1]
			a.put.mu.Unlock()
			if got := entriesOf(t, body); !reflect.DeepEqual(got, c.entries) {
				t.Errorf("entries %q, want %q", got, c.entries)
			}
			if c.name == "file over a file" && len(body) != 2048 {
				// A header, a block of content and the end, as docker's archive: no PAX
				// records for sub-second or access times.
				t.Errorf("archive of a one-byte file is %d bytes, want 2048 as docker's", len(body))
			}
		})
	}
	for _, c := range []struct {
		args   []string
		stdin  string
		stderr string
	}{
		{[]string{filepath.Join(src, "missing"), "web:/tmp"}, "", "lstat " + filepath.Join(src, "missing") + ": no such file or directory\n"},
		{[]string{filepath.Join(src, "dir"), "web:/etc/hosts"}, "", "cannot copy directory\n"},
		{[]string{filepath.Join(src, "file.txt"), "web:/dev/null"}, "", `destination "web:/dev/null" must be a directory or a regular file: got a device` + "\n"},
		{[]string{"-", "web:/etc/hosts"}, "", `destination "web:/etc/hosts" must be a directory` + "\n"},
		{[]string{"a:/x", "b:/y"}, "", "copying between containers is not supported\n"},
		{[]string{"/x", "./y"}, "", "must specify at least one container source\n"},
		{[]string{"", "web:/tmp"}, "", "source can not be empty\n"},
	} {
		r := runIn(t, d, c.stdin, append([]string{"cp"}, c.args...)...)
		if r.code != 1 || r.stderr != c.stderr {
			t.Errorf("cp %s: exit %d %q, want %q", strings.Join(c.args, " "), r.code, r.stderr, c.stderr)
		}
	}
	tarball := tarOf(t, [2]string{"x", "1"})
	if r := runIn(t, d, string(tarball), "cp", "-", "web:/tmp"); r.code != 0 {
		t.Fatalf("from stdin: exit %d %q", r.code, r.stderr)
	}
	a.put.mu.Lock()
	body := a.put.bodies[len(a.put.bodies)-1]
	a.put.mu.Unlock()
	if string(body) != string(tarball) {
		t.Errorf("stdin's tar was not sent as it is")
	}
}
