package runtimecli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/testutil"
)

// harness drives the built berth-runtime binary as a user (or containerd) would, with a
// private state root and a bundle of its own.
type harness struct {
	t      *testing.T
	bin    string
	root   string
	bundle string
	id     string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	testutil.RequireRoot(t, "containers need namespaces, mounts and cgroups")
	h := &harness{
		t:      t,
		bin:    testutil.Binary(t, "berth-runtime"),
		root:   t.TempDir(),
		bundle: testutil.Bundle(t),
		id:     testutil.UniqueID("rt"),
	}
	// A cgroup of our own per test, so tests never meet each other's limits.
	h.edit(func(s *specs.Spec) { s.Linux.CgroupsPath = "/" + h.id })
	t.Cleanup(func() {
		h.runtime("delete", "--force", h.id)
		h.assertNoLeftovers(h.id)
	})
	return h
}

// result is what a command printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

func (h *harness) runtime(args ...string) result {
	h.t.Helper()
	return h.runtimeIn(nil, args...)
}

func (h *harness) runtimeIn(stdin []byte, args ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.bin, append([]string{"--root", h.root}, args...)...)
	// Files, not pipes: a created container keeps the stdio it inherited, as with runc,
	// and a pipe would not reach EOF until the container exits.
	out, errf := h.tempFile(), h.tempFile()
	defer out.Close()
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = out, errf
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		h.t.Fatalf("berth-runtime %v: did not finish within a minute", args)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatalf("run berth-runtime %v: %v", args, err)
	}
	return result{readAll(out), readAll(errf), code}
}

func (h *harness) tempFile() *os.File {
	f, err := os.CreateTemp(h.t.TempDir(), "out")
	if err != nil {
		h.t.Fatal(err)
	}
	return f
}

func readAll(f *os.File) string {
	b, _ := os.ReadFile(f.Name())
	return string(b)
}

// ok runs a command that must succeed and returns its stdout.
func (h *harness) ok(args ...string) string {
	h.t.Helper()
	r := h.runtime(args...)
	if r.code != 0 {
		h.t.Fatalf("berth-runtime %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// fails runs a command that must fail with a one-line error containing want.
func (h *harness) fails(want string, args ...string) result {
	h.t.Helper()
	r := h.runtime(args...)
	if r.code == 0 {
		h.t.Fatalf("berth-runtime %s succeeded, want an error containing %q", strings.Join(args, " "), want)
	}
	msg := strings.TrimSpace(r.stderr)
	if strings.Count(msg, "\n") != 0 {
		h.t.Errorf("berth-runtime %s: error is not one line:\n%s", strings.Join(args, " "), msg)
	}
	if !strings.Contains(msg, want) {
		h.t.Errorf("berth-runtime %s: error %q does not mention %q", strings.Join(args, " "), msg, want)
	}
	return r
}

// edit changes the bundle's config.json.
func (h *harness) edit(f func(*specs.Spec)) {
	h.t.Helper()
	s := testutil.ReadSpec(h.t, h.bundle)
	f(s)
	testutil.WriteSpec(h.t, h.bundle, s)
}

// run runs the container in the foreground with args as its process.
func (h *harness) run(args ...string) result {
	h.t.Helper()
	h.edit(func(s *specs.Spec) { s.Process.Args = args })
	return h.runtime("run", "--bundle", h.bundle, h.id)
}

// runOK runs the container and returns its trimmed stdout, failing on a non-zero exit.
func (h *harness) runOK(args ...string) string {
	h.t.Helper()
	r := h.run(args...)
	if r.code != 0 {
		h.t.Fatalf("run %v: exit %d: stderr %s stdout %s", args, r.code, r.stderr, r.stdout)
	}
	return strings.TrimSpace(r.stdout)
}

// state returns the container's runtime-spec state.
func (h *harness) state(id string) specs.State {
	h.t.Helper()
	var st specs.State
	if err := json.Unmarshal([]byte(h.ok("state", id)), &st); err != nil {
		h.t.Fatalf("state %s: %v", id, err)
	}
	return st
}

// waitStatus waits until the container exists and reaches status.
func (h *harness) waitStatus(id string, status specs.ContainerState) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := "no state"
	for time.Now().Before(deadline) {
		r := h.runtime("state", id)
		var st specs.State
		if r.code == 0 && json.Unmarshal([]byte(r.stdout), &st) == nil {
			if st.Status == status {
				return
			}
			last = string(st.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("container %s: %s, want %s", id, last, status)
}

// createRunning creates and starts a container that sleeps, for exec/pause/kill tests.
func (h *harness) createRunning() {
	h.t.Helper()
	h.edit(func(s *specs.Spec) { s.Process.Args = []string{"/testinit", "sleep", "60"} })
	h.ok("create", "--bundle", h.bundle, h.id)
	h.ok("start", h.id)
	h.waitStatus(h.id, "running")
}

// assertNoLeftovers checks that nothing of container id remains: state dir, cgroup
// dirs, mounts mentioning the bundle, processes.
func (h *harness) assertNoLeftovers(id string) {
	h.t.Helper()
	if _, err := os.Stat(filepath.Join(h.root, id)); err == nil {
		h.t.Errorf("state dir of %s left behind", id)
	}
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/" + id)
	if len(cgs) > 0 {
		h.t.Errorf("cgroups of %s left behind: %v", id, cgs)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), h.bundle) {
		h.t.Errorf("mounts under %s left behind", h.bundle)
	}
}

// command returns the berth-runtime command for args without running it.
func (h *harness) command(args ...string) *exec.Cmd {
	return exec.Command(h.bin, append([]string{"--root", h.root}, args...)...)
}

func itoa(n int) string { return strconv.Itoa(n) }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTemp writes content to a new file and returns its path.
func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file")
	writeFile(t, p, content)
	return p
}
