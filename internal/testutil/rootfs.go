package testutil

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// BusyboxPath is where Debian's busybox-static package installs busybox.
const BusyboxPath = "/bin/busybox"

// Users and groups of a busybox rootfs, as written to its /etc/passwd and
// /etc/group: root, nobody and an unprivileged "app" user, member of "users".
const (
	AppUID    = 1000
	AppGID    = 1000
	UsersGID  = 100 // supplementary group of "app"
	NobodyUID = 65534
	NobodyGID = 65534
)

const passwd = `root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const group = `root:x:0:
users:x:100:app
app:x:1000:
nogroup:x:65534:
`

var (
	appletsOnce sync.Once
	applets     []string
	appletsErr  error
)

// busyboxApplets checks that BusyboxPath is a static busybox and returns the
// names of its applets, once per process.
func busyboxApplets() ([]string, error) {
	appletsOnce.Do(func() {
		f, err := elf.Open(BusyboxPath)
		if err != nil {
			appletsErr = err
			return
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				appletsErr = fmt.Errorf("%s is dynamically linked", BusyboxPath)
				return
			}
		}
		out, err := exec.Command(BusyboxPath, "--list").Output()
		if err != nil {
			appletsErr = fmt.Errorf("%s --list: %w", BusyboxPath, err)
			return
		}
		applets = strings.Fields(string(out))
	})
	return applets, appletsErr
}

// BusyboxRootfs fills dir (created if missing) with a small writable root
// filesystem: /bin/busybox with a symlink per applet (so /bin/sh works),
// /etc/passwd and /etc/group (see AppUID), empty /proc /sys /dev /root /tmp
// (mode 1777) mount points, /home/app, and /testinit (see test/testinit).
// It skips the test when busybox-static is not installed.
func BusyboxRootfs(t testing.TB, dir string) {
	t.Helper()
	names, err := busyboxApplets()
	if err != nil {
		t.Skipf("needs busybox-static (apt-get install busybox-static): %v", err)
	}
	dirs := []struct {
		path string
		mode os.FileMode
	}{
		{"", 0o755}, {"bin", 0o755}, {"etc", 0o755}, {"proc", 0o555}, {"sys", 0o555},
		{"dev", 0o755}, {"root", 0o700}, {"tmp", os.ModeSticky | 0o777}, {"home", 0o755}, {"home/app", 0o755},
	}
	for _, d := range dirs {
		p := filepath.Join(dir, d.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(dir, "home/app"), AppUID, AppGID); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile(BusyboxPath, filepath.Join(dir, "bin/busybox"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if name == "busybox" || strings.Contains(name, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", name)); err != nil && !errors.Is(err, os.ErrExist) {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{"etc/passwd": passwd, "etc/group": group} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile(Binary(t, "testinit"), filepath.Join(dir, "testinit"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to a new file dst (io.Copy uses copy_file_range).
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
