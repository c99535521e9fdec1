package api

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestListenUnixModeAndGroup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "api.sock")
	l, err := ListenUnix(path, strconv.Itoa(os.Getegid()))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v, want socket 0660", st.Mode())
	}
	if gid := st.Sys().(*syscall.Stat_t).Gid; int(gid) != os.Getegid() {
		t.Fatalf("socket group %d, want %d", gid, os.Getegid())
	}
	l.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket left after Close: %v", err)
	}
}

func TestListenUnixReplacesOnlyStaleSockets(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "api.sock")

	// A live socket: some process still answers on it.
	live, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(path, ""); err == nil || !strings.Contains(err.Error(), "another daemon is listening") {
		t.Fatalf("live socket: got %v", err)
	}

	// A stale one: the listener is gone but its file stayed (as after a crash).
	live.(*net.UnixListener).SetUnlinkOnClose(false)
	live.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket file missing: %v", err)
	}
	l, err := ListenUnix(path, "")
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	l.Close()

	// Not a socket at all: never removed.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ListenUnix(file, ""); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file: got %v", err)
	}
	if data, _ := os.ReadFile(file); string(data) != "keep" {
		t.Fatal("regular file was touched")
	}
}

func TestListenUnixUnknownGroup(t *testing.T) {
	_, err := ListenUnix(filepath.Join(t.TempDir(), "s.sock"), "berth-test-api-nosuchgroup")
	if err == nil || !strings.Contains(err.Error(), `socket group "berth-test-api-nosuchgroup"`) {
		t.Fatalf("got %v", err)
	}
}
