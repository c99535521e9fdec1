package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestHooksGetStateOnStdinAndStopAtFirstFailure(t *testing.T) {
	sh := "/bin/sh"
	if _, err := os.Stat(sh); err != nil {
		t.Skip("needs /bin/sh")
	}
	out := filepath.Join(t.TempDir(), "out")
	hooks := []specs.Hook{
		{Path: sh, Args: []string{"sh", "-c", "cat >> " + out}},
		{Path: sh, Args: []string{"sh", "-c", "echo boom >&2; exit 3"}},
		{Path: sh, Args: []string{"sh", "-c", "echo never >> " + out}},
	}
	err := runHooks("prestart", hooks, []byte(`{"id":"c1"}`))
	if err == nil || !strings.Contains(err.Error(), "prestart hook #1") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("error = %v, want it to name hook #1 and its message", err)
	}
	b, _ := os.ReadFile(out)
	if string(b) != `{"id":"c1"}` {
		t.Errorf("first hook got %q on stdin; hooks after the failure must not run", b)
	}
}

func TestHookTimeout(t *testing.T) {
	one := 1
	err := runHook(specs.Hook{Path: "/bin/sleep", Args: []string{"sleep", "10"}, Timeout: &one}, nil)
	if err == nil || !strings.Contains(err.Error(), "timed out after 1s") {
		t.Fatalf("error = %v, want a timeout", err)
	}
	zero := 0
	if err := runHook(specs.Hook{Path: "/bin/true", Timeout: &zero}, nil); err == nil {
		t.Error("a zero timeout was accepted")
	}
}

func TestSyncPipeCarriesErrors(t *testing.T) {
	a, b, err := socketPair()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	pa, pb := newSyncPipe(a), newSyncPipe(b)
	pa.send(syncMsg{Type: msgMounted})
	if _, err := pb.expect(msgMounted); err != nil {
		t.Fatal(err)
	}
	pa.send(syncMsg{Type: msgReady})
	if _, err := pb.expect(msgMounted); err == nil {
		t.Error("an unexpected message kind was accepted")
	}
	pa.send(syncMsg{Type: msgError, Error: "mount /x: no such device"})
	if _, err := pb.recv(); err == nil || err.Error() != "mount /x: no such device" {
		t.Errorf("error message = %v", err)
	}
	a.Close()
	if _, err := pb.recv(); err == nil {
		t.Error("EOF was not an error")
	}
}

func TestLookPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "prog")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "plain"), []byte("x"), 0o644)
	if p, err := lookPath("prog", []string{"PATH=/nonexistent:" + dir}, "/"); err != nil || p != exe {
		t.Errorf("lookPath(prog) = %q, %v", p, err)
	}
	if _, err := lookPath("plain", []string{"PATH=" + dir}, "/"); err == nil || !strings.Contains(err.Error(), "not found in $PATH") {
		t.Errorf("a non-executable file was found: %v", err)
	}
	if _, err := lookPath(dir+"/plain", nil, "/"); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("lookPath of a non-executable path: %v", err)
	}
	if p, err := lookPath("./prog", nil, dir); err != nil || p != exe {
		t.Errorf("relative path: %q, %v", p, err)
	}
}
