package runtimecli_test

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Every bad input fails with a one-line error naming the problem and leaves nothing
// behind (the harness checks for state dirs, cgroups and mounts at cleanup).
func TestBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(h *harness)
		want string
	}{
		{"broken json", func(h *harness) {
			os.WriteFile(filepath.Join(h.bundle, "config.json"), []byte(`{"ociVersion": "1.2.1", `), 0o644)
		}, "not valid JSON"},
		{"no config", func(h *harness) { os.Remove(filepath.Join(h.bundle, "config.json")) }, "config.json: no such file"},
		{"missing rootfs", func(h *harness) { h.edit(func(s *specs.Spec) { s.Root.Path = "nope" }) }, "rootfs"},
		{"unknown namespace", func(h *harness) {
			h.edit(func(s *specs.Spec) {
				s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			})
		}, `unknown namespace type "bogus"`},
		{"empty args", func(h *harness) { h.edit(func(s *specs.Spec) { s.Process.Args = nil }) }, "args must not be empty"},
		{"missing program", func(h *harness) {
			h.edit(func(s *specs.Spec) { s.Process.Args = []string{"/no/such/program"} })
		}, "/no/such/program"},
		{"unknown capability", func(h *harness) {
			h.edit(func(s *specs.Spec) {
				s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_BOGUS")
			})
		}, "CAP_BOGUS"},
		{"unknown rlimit", func(h *harness) {
			h.edit(func(s *specs.Spec) { s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}} })
		}, "RLIMIT_BOGUS"},
		{"bad mount", func(h *harness) {
			h.edit(func(s *specs.Spec) {
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "nosuchfs", Source: "none"})
			})
		}, "/x"},
		{"relative cwd", func(h *harness) { h.edit(func(s *specs.Spec) { s.Process.Cwd = "tmp" }) }, "cwd"},
		{"non-namespaced sysctl", func(h *harness) {
			h.edit(func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} })
		}, "vm.swappiness"},
		{"apparmor on a kernel without it", func(h *harness) {
			h.edit(func(s *specs.Spec) { s.Process.ApparmorProfile = "docker-default" })
		}, "AppArmor"},
		{"bad seccomp action", func(h *harness) {
			h.edit(func(s *specs.Spec) { s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_BOGUS"} })
		}, "SCMP_ACT_BOGUS"},
		{"bad memory limit", func(h *harness) {
			lim, swap := int64(64<<20), int64(1<<20)
			h.edit(func(s *specs.Spec) {
				s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim, Swap: &swap}}
			})
		}, "swap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.edit(h)
			h.fails(c.want, "create", "--bundle", h.bundle, h.id)
			h.assertNoLeftovers(h.id)
		})
	}
}

func TestBadLifecycleCalls(t *testing.T) {
	h := newHarness(t)
	h.fails("container id is required", "create", "--bundle", h.bundle)
	h.fails("invalid container id", "create", "--bundle", h.bundle, "../escape")
	h.fails("does not exist", "start", "nosuch")
	h.fails("does not exist", "delete", "nosuch")
	h.ok("delete", "--force", "nosuch")
	h.fails("unknown command", "frobnicate")
	h.fails("flag provided but not defined", "create", "--bogus", h.id)

	h.createRunning()
	h.fails("already exists", "create", "--bundle", h.bundle, h.id)
	h.fails("already running", "start", h.id)
	h.fails("not stopped", "delete", h.id)
	h.fails("not paused", "resume", h.id)
	if st := h.state(h.id); st.Status != "running" {
		t.Errorf("after the failed calls the container is %s, want running", st.Status)
	}
}
