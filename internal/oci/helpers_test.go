package oci

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// testHost is a fixed two-CPU amd64 host with kernel 6.18.
var testHost = Host{
	Arch:     "amd64",
	Kernel:   KernelVersion{6, 18},
	NumCPU:   2,
	CPUs:     "0-1",
	Mems:     "0",
	LastCap:  40,
	Hostname: "thehost",
}

// input returns the Input of `run IMAGE sh` with the options edit sets.
func input(t *testing.T, edit func(*Input)) Input {
	t.Helper()
	in := Input{
		ID:         testID,
		Config:     &container.Config{Cmd: []string{"sh"}},
		HostConfig: &container.HostConfig{},
		Rootfs:     testRootfs(t),
		Host:       testHost,
	}
	if edit != nil {
		edit(&in)
	}
	return in
}

// mustSpec returns Spec(in), failing the test on an error.
func mustSpec(t *testing.T, in Input) *specs.Spec {
	t.Helper()
	s, err := Spec(in)
	if err != nil {
		t.Fatalf("Spec: %v", err)
	}
	return s
}

// testRootfs returns a root file system holding only /etc/passwd and
// /etc/group, as a small Debian image has them.
func testRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "etc/passwd"), ""+
		"root:x:0:0:root:/root:/bin/sh\n"+
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"+
		"# a comment\n"+
		"\n"+
		"app:x:1000:1000:App:/home/app:/bin/sh\n"+
		"broken:x:notanumber:1::/:\n")
	write(t, filepath.Join(dir, "etc/group"), ""+
		"root:x:0:\n"+
		"daemon:x:1:\n"+
		"audio:x:29:app\n"+
		"video:x:44:app,daemon\n"+
		"app:x:1000:\n"+
		"staff:x:50:\n")
	return dir
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantInvalid checks that err is an invalid-argument error with exactly msg.
func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", msg)
	}
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("error %q is not of class invalid argument", err)
	}
	if err.Error() != msg {
		t.Errorf("error\n got %q\nwant %q", err.Error(), msg)
	}
}

func mountAt(s *specs.Spec, dst string) (specs.Mount, bool) {
	for _, m := range s.Mounts {
		if m.Destination == dst {
			return m, true
		}
	}
	return specs.Mount{}, false
}

func namespaceTypes(s *specs.Spec) map[specs.LinuxNamespaceType]string {
	m := map[specs.LinuxNamespaceType]string{}
	for _, n := range s.Linux.Namespaces {
		m[n.Type] = n.Path
	}
	return m
}

// jsonOf renders v as compact JSON, for comparisons with readable failures.
func jsonOf[T any](v *T) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
