package daemon

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	ctr "github.com/berth-engine/berth/internal/container"
)

// Unprivileged tests of the pieces of the file system operations; the
// operations themselves are tested as root in containerfs_root_test.go.

// tree makes files under dir: "name/" a directory, "name->target" a
// symbolic link, anything else a file holding its name.
func tree(t *testing.T, dir string, entries ...string) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(dir, strings.Split(e, "->")[0])
		var err error
		switch {
		case strings.Contains(e, "->"):
			err = os.Symlink(strings.SplitN(e, "->", 2)[1], p)
		case strings.HasSuffix(e, "/"):
			err = os.MkdirAll(p, 0o755)
		default:
			err = os.WriteFile(p, []byte(e), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func openRoot(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func TestWalkInRootStaysInside(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	// Outside the root: what an escape would reach.
	tree(t, base, "root/", "secret/", "secret/key")
	tree(t, root, "etc/", "etc/passwd", "abs->/etc", "up->../../../../secret", "rel->etc/passwd",
		"dangling->/nowhere/file", "loop->loop", "etc/self->../etc", "file")
	rfd := openRoot(t, root)

	cases := []struct {
		path       string
		followLast bool
		want       string // the resolved container path
		err        error
	}{
		{"/etc/passwd", false, "/etc/passwd", nil},
		{"etc/passwd", false, "/etc/passwd", nil},
		{"/abs", false, "/abs", nil},
		{"/abs", true, "/etc", nil},
		{"/abs/passwd", false, "/etc/passwd", nil},
		{"/abs/", false, "/etc", nil}, // a trailing slash follows
		{"/abs/.", false, "/etc", nil},
		{"/up", true, "/secret", unix.ENOENT}, // ".." stops at the root: /secret, which the root lacks
		{"/up/key", false, "/secret/key", unix.ENOENT},
		{"/../../secret/key", false, "/secret/key", unix.ENOENT},
		{"/rel", true, "/etc/passwd", nil},
		{"/etc/self/self/passwd", false, "/etc/passwd", nil},
		{"/dangling", true, "/nowhere/file", unix.ENOENT},
		{"/loop", true, "", unix.ELOOP},
		{"/file/x", false, "", unix.ENOTDIR},
		{"/", false, "/", nil},
	}
	for _, c := range cases {
		w, err := walkInRoot(rfd, c.path, c.followLast, createNone)
		if err != c.err || (c.want != "" && w.path != c.want) {
			t.Errorf("walk %q follow=%v: %q, %v; want %q, %v", c.path, c.followLast, w.path, err, c.want, c.err)
		}
		if err == nil {
			var st unix.Stat_t
			unix.Fstat(w.fd, &st)
			var want unix.Stat_t
			unix.Lstat(filepath.Join(root, c.want), &want)
			if st.Ino != want.Ino {
				t.Errorf("walk %q: descriptor is not %s inside the root", c.path, c.want)
			}
			unix.Close(w.fd)
		} else if w.fd != -1 {
			t.Errorf("walk %q failed and left descriptor %d", c.path, w.fd)
		}
	}

	// Making missing components makes them inside, through the links.
	w, err := walkInRoot(rfd, "/up/new/file", true, createFile)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(w.fd)
	if w.path != "/secret/new/file" {
		t.Errorf("created %q", w.path)
	}
	if _, err := os.Stat(filepath.Join(root, "secret/new/file")); err != nil {
		t.Errorf("not made inside the root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "secret/new")); err == nil {
		t.Errorf("made outside the root")
	}
}

func TestCpPath(t *testing.T) {
	for in, want := range map[string]string{
		"/etc": "/etc", "etc": "/etc", "/etc/": "/etc/", "/etc/.": "/etc/.", ".": "/.", "/": "/",
		"/a/../b": "/b", "/a//b/": "/a/b/", "../../x": "/x",
	} {
		if got := cpPath(in); got != want {
			t.Errorf("cpPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileMode(t *testing.T) {
	for _, c := range []struct {
		mode uint32
		want os.FileMode
	}{
		{unix.S_IFREG | 0o644, 0o644},
		{unix.S_IFDIR | 0o1777, os.ModeDir | os.ModeSticky | 0o777},
		{unix.S_IFREG | 0o4755, os.ModeSetuid | 0o755},
		{unix.S_IFLNK | 0o777, os.ModeSymlink | 0o777},
		{unix.S_IFCHR | 0o666, os.ModeDevice | os.ModeCharDevice | 0o666},
		{unix.S_IFIFO | 0o600, os.ModeNamedPipe | 0o600},
	} {
		if got := fileMode(&unix.Stat_t{Mode: c.mode}); got != c.want {
			t.Errorf("mode %o: %v, want %v", c.mode, got, c.want)
		}
	}
}

func TestChangesNative(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	common := []string{"bin/", "bin/sh", "etc/", "etc/passwd", "etc/group", "var/", "var/log/", "var/log/old", "usr/", "usr/lib/", "usr/lib/x", "link->bin/sh", "proc/"}
	tree(t, lower, common...)
	tree(t, upper, common...)
	// Copy the times, so only what the test changes differs.
	filepath.Walk(lower, func(p string, info os.FileInfo, err error) error {
		rel, _ := filepath.Rel(lower, p)
		ts := []unix.Timespec{unix.NsecToTimespec(1e18), unix.NsecToTimespec(1e18)}
		unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
		unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(upper, rel), ts, unix.AT_SYMLINK_NOFOLLOW)
		return nil
	})
	os.WriteFile(filepath.Join(upper, "new"), nil, 0o644)
	os.Remove(filepath.Join(upper, "etc/group"))
	os.WriteFile(filepath.Join(upper, "etc/passwd"), []byte("changed"), 0o644)
	os.RemoveAll(filepath.Join(upper, "var/log"))
	tree(t, upper, "a/", "a/b/", "a/b/c")
	os.Chmod(filepath.Join(upper, "usr/lib"), 0o700)
	os.Remove(filepath.Join(upper, "link"))
	os.Symlink("bin/other", filepath.Join(upper, "link"))
	// Mount points the runtime made, and a directory made only for them.
	tree(t, upper, "etc/hosts", "etc/hostname", "sbin/", "sbin/docker-init", "proc/self")

	got, err := changes(layerDirs{upper: upper, lower: lower}, runtimeStubs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A /a", "A /a/b", "A /a/b/c", "C /etc", "D /etc/group", "C /etc/passwd", "C /link", "A /new", "C /usr", "C /usr/lib", "C /var", "D /var/log"}
	if s := changeStrings(got); !slices.Equal(s, want) {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
	}

	// Without an image, everything is added.
	got, err = changes(layerDirs{upper: filepath.Join(upper, "a")}, runtimeStubs)
	if err != nil {
		t.Fatal(err)
	}
	if s := changeStrings(got); !slices.Equal(s, []string{"A /b", "A /b/c"}) {
		t.Errorf("no image: %q", s)
	}
}

func changeStrings(cs []container.FilesystemChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind.String()+" "+c.Path)
	}
	return out
}

func TestFilterLayerDropsRuntimeMountPoints(t *testing.T) {
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for _, e := range []struct {
		name string
		dir  bool
	}{
		{"etc/", true}, {"etc/hosts", false}, {"etc/hostname", false},
		{"sbin/", true}, {"sbin/docker-init", false}, {"sbin/tool", false},
		{"proc/", true},
		{"srv/", true}, {"srv/.wh.old", false}, {"srv/etc/", true},
		{"usr/", true}, {"usr/.wh..wh..opq", false},
		{"x", false},
	} {
		h := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: time.Unix(1, 0)}
		if e.dir {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		tw.WriteHeader(h)
	}
	tw.Close()
	var out bytes.Buffer
	if err := filterLayer(&in, runtimeStubs, &out); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	want := []string{"sbin/", "sbin/tool", "srv/", "srv/.wh.old", "srv/etc/", "usr/", "usr/.wh..wh..opq", "x"}
	if !slices.Equal(names, want) {
		t.Errorf("kept %q, want %q", names, want)
	}
}

func TestCommitConfig(t *testing.T) {
	port := network.MustParsePort("80/tcp")
	s := &ctr.Container{Config: &container.Config{
		User: "app", Env: []string{"PATH=/bin", "A=ctr"}, Cmd: []string{"sh", "-c", "serve"},
		Entrypoint: nil, WorkingDir: "/srv", Labels: map[string]string{"l": "ctr", "k": "ctr"},
		ExposedPorts: network.PortSet{port: {}}, Volumes: map[string]struct{}{"/data": {}}, StopSignal: "SIGINT",
		Hostname: "ignored", Tty: true,
	}}
	cases := []struct {
		name    string
		opts    CommitOptions
		check   func(c ocispec.ImageConfig) bool
		wantErr bool
	}{
		{"the container's own", CommitOptions{}, func(c ocispec.ImageConfig) bool {
			return c.User == "app" && slices.Equal(c.Cmd, []string{"sh", "-c", "serve"}) && c.WorkingDir == "/srv" &&
				c.StopSignal == "SIGINT" && reflect.DeepEqual(c.ExposedPorts, map[string]struct{}{"80/tcp": {}}) &&
				reflect.DeepEqual(c.Volumes, map[string]struct{}{"/data": {}}) && slices.Equal(c.Env, []string{"PATH=/bin", "A=ctr"})
		}, false},
		{"changes edit it", CommitOptions{Changes: []string{`CMD ["cat", "/file"]`, "ENV A=new B=2", "LABEL k=change", "EXPOSE 53/udp"}}, func(c ocispec.ImageConfig) bool {
			return slices.Equal(c.Cmd, []string{"cat", "/file"}) && slices.Equal(c.Env, []string{"PATH=/bin", "A=new", "B=2"}) &&
				c.Labels["k"] == "change" && c.Labels["l"] == "ctr" && len(c.ExposedPorts) == 2
		}, false},
		{"an entrypoint drops the inherited command", CommitOptions{Changes: []string{`ENTRYPOINT ["/bin/app"]`}}, func(c ocispec.ImageConfig) bool {
			return slices.Equal(c.Entrypoint, []string{"/bin/app"}) && c.Cmd == nil
		}, false},
		{"a CMD before it stays", CommitOptions{Changes: []string{`CMD ["x"]`, `ENTRYPOINT ["/bin/app"]`}}, func(c ocispec.ImageConfig) bool {
			return slices.Equal(c.Entrypoint, []string{"/bin/app"}) && slices.Equal(c.Cmd, []string{"x"})
		}, false},
		{"a request config is completed by the container's", CommitOptions{Config: &container.Config{Env: []string{"A=req"}, User: "root"}}, func(c ocispec.ImageConfig) bool {
			return c.User == "root" && slices.Equal(c.Env, []string{"A=req", "PATH=/bin"}) && slices.Equal(c.Cmd, []string{"sh", "-c", "serve"}) && c.WorkingDir == "/srv"
		}, false},
		{"RUN is refused", CommitOptions{Changes: []string{"RUN rm -rf /"}}, nil, true},
	}
	for _, c := range cases {
		got, err := commitConfig(s, c.opts)
		if (err != nil) != c.wantErr {
			t.Errorf("%s: error %v", c.name, err)
			continue
		}
		if err == nil && !c.check(got) {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
	if s.Config.Labels["k"] != "ctr" || len(s.Config.Env) != 2 {
		t.Errorf("the container's config was changed: %+v", s.Config)
	}
}
