package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestUniqueID(t *testing.T) {
	a, b := UniqueID("caps"), UniqueID("caps")
	if !regexp.MustCompile(`^berth-test-caps-[0-9a-f]{8}$`).MatchString(a) {
		t.Errorf("UniqueID = %q, want berth-test-caps-<8 hex>", a)
	}
	if a == b {
		t.Errorf("two calls returned the same id %q", a)
	}
}

// skipRecorder records Skipf instead of ending the test.
type skipRecorder struct {
	testing.TB
	skipped string
}

func (r *skipRecorder) Helper()                          {}
func (r *skipRecorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func TestRequireRoot(t *testing.T) {
	tests := []struct {
		uid    int
		reason []string
		want   string
	}{
		{0, []string{"mounts"}, ""},
		{1000, []string{"mounts"}, "needs root: mounts (running as uid 1000)"},
		{1000, nil, "needs root: privileged test (running as uid 1000)"},
	}
	for _, tt := range tests {
		r := &skipRecorder{TB: t}
		requireRoot(r, tt.uid, tt.reason)
		if r.skipped != tt.want {
			t.Errorf("uid %d: skip message %q, want %q", tt.uid, r.skipped, tt.want)
		}
	}
}

func TestBinaryBuildsTestinit(t *testing.T) {
	t.Setenv(BinDirEnv, "")
	p := Binary(t, "testinit")
	out, err := exec.Command(p, "echo", "hello", "world").Output()
	if err != nil {
		t.Fatalf("%s echo: %v", p, err)
	}
	if string(out) != "hello world\n" {
		t.Errorf("testinit echo printed %q", out)
	}
	if again := Binary(t, "testinit"); again != p {
		t.Errorf("second Binary call = %s, want the cached %s", again, p)
	}
	if !strings.Contains(filepath.Base(filepath.Dir(p)), binDirPrefix) {
		t.Errorf("built into %s, want a %s* directory", p, binDirPrefix)
	}
}

func TestBinaryPrefersBinDir(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "testinit")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(BinDirEnv, dir)
	if p := Binary(t, "testinit"); p != fake {
		t.Errorf("Binary = %s, want %s from %s", p, fake, BinDirEnv)
	}
}

func TestBusyboxRootfsLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rootfs")
	BusyboxRootfs(t, dir)

	if target, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q (%v), want busybox", target, err)
	}
	st, err := os.Stat(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModePerm != 0o777 || st.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmp mode = %v, want drwxrwxrwt", st.Mode())
	}
	for _, p := range []string{"proc", "sys", "dev", "root", "etc"} {
		if st, err := os.Stat(filepath.Join(dir, p)); err != nil || !st.IsDir() {
			t.Errorf("%s is not a directory: %v", p, err)
		}
	}
	pw, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"root:x:0:0:", "app:x:1000:1000:", "nobody:x:65534:65534:"} {
		if !strings.Contains(string(pw), want) {
			t.Errorf("etc/passwd lacks %q:\n%s", want, pw)
		}
	}
	st, err = os.Stat(filepath.Join(dir, "testinit"))
	if err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("testinit missing or not executable: %v", err)
	}
}

// TestBusyboxRootfsRuns runs the rootfs's /bin/sh and /testinit in a chroot.
func TestBusyboxRootfsRuns(t *testing.T) {
	RequireRoot(t, "chroot")
	dir := filepath.Join(t.TempDir(), "rootfs")
	BusyboxRootfs(t, dir)

	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = []string{"PATH=/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
		cmd.Dir = "/"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("/bin/sh", "-c", "echo hi from $(id -un)"); out != "hi from root\n" {
		t.Errorf("sh printed %q", out)
	}
	if out := run("/bin/sh", "-c", "id app"); !strings.Contains(out, "uid=1000(app) gid=1000(app)") ||
		!strings.Contains(out, "100(users)") {
		t.Errorf("id app printed %q", out)
	}
	if out := run("/testinit", "cwd"); out != "/\n" {
		t.Errorf("testinit cwd printed %q", out)
	}
}

func TestBundle(t *testing.T) {
	dir := Bundle(t)
	spec := ReadSpec(t, dir)
	if !slices.Equal(spec.Process.Args, []string{"/testinit", "pid"}) || spec.Process.Terminal {
		t.Errorf("process = %+v, want /testinit pid without terminal", spec.Process)
	}
	if spec.Root.Path != "rootfs" {
		t.Errorf("root = %q", spec.Root.Path)
	}
	if _, err := os.Stat(filepath.Join(dir, spec.Root.Path, "testinit")); err != nil {
		t.Error(err)
	}
	spec.Process.Args = []string{"/testinit", "id"}
	WriteSpec(t, dir, spec)
	if got := ReadSpec(t, dir).Process.Args; !slices.Equal(got, spec.Process.Args) {
		t.Errorf("after WriteSpec, args = %v", got)
	}
	for _, p := range []string{filepath.Dir(dir), dir} {
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o755 {
			t.Errorf("%s mode = %v, want 0755", p, st.Mode())
		}
	}
}
