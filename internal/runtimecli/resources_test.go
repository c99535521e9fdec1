package runtimecli_test

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// cgroupFile reads a file of the container's v1 cgroup as the host sees it.
func (h *harness) cgroupFile(controller, name string) string {
	h.t.Helper()
	b, err := os.ReadFile("/sys/fs/cgroup/" + controller + "/" + h.id + "/" + name)
	if err != nil {
		h.t.Fatalf("read cgroup file: %v", err)
	}
	return strings.TrimSpace(string(b))
}

func requireV1Memory(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err != nil {
		t.Skip("needs the cgroup v1 memory controller (this test reads its files)")
	}
}

func TestLimitsAndUpdate(t *testing.T) {
	h := newHarness(t)
	requireV1Memory(t)
	mem, pids, shares := int64(64<<20), int64(50), uint64(256)
	h.edit(func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &mem},
			Pids:   &specs.LinuxPids{Limit: pids},
			CPU:    &specs.LinuxCPU{Shares: &shares},
		}
	})
	h.createRunning()
	if got := h.cgroupFile("memory", "memory.limit_in_bytes"); got != strconv.FormatInt(mem, 10) {
		t.Errorf("memory.limit_in_bytes = %s, want %d", got, mem)
	}
	if got := h.cgroupFile("pids", "pids.max"); got != "50" {
		t.Errorf("pids.max = %s, want 50", got)
	}
	if got := h.cgroupFile("cpu", "cpu.shares"); got != "256" {
		t.Errorf("cpu.shares = %s, want 256", got)
	}
	// The container's own view of its cgroup is its namespace root.
	if got := strings.TrimSpace(h.ok("exec", h.id, "/testinit", "cgroup")); !strings.Contains(got, "memory:/\n") && !strings.HasSuffix(got, "memory:/") {
		t.Errorf("the container sees its cgroup path from the host:\n%s", got)
	}

	h.ok("update", "--memory", "128m", "--pids-limit", "70", h.id)
	if got := h.cgroupFile("memory", "memory.limit_in_bytes"); got != strconv.Itoa(128<<20) {
		t.Errorf("after update memory.limit_in_bytes = %s, want %d", got, 128<<20)
	}
	if got := h.cgroupFile("pids", "pids.max"); got != "70" {
		t.Errorf("after update pids.max = %s, want 70", got)
	}
	h.runtimeIn([]byte(`{"cpu": {"shares": 1024}}`), "update", "-r", "-", h.id)
	if got := h.cgroupFile("cpu", "cpu.shares"); got != "1024" {
		t.Errorf("after update -r - cpu.shares = %s, want 1024", got)
	}
	h.fails("--memory", "update", "--memory", "lots", h.id)
}

func TestOOMKillIsReported(t *testing.T) {
	h := newHarness(t)
	requireV1Memory(t)
	mem := int64(32 << 20)
	h.edit(func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem, Swap: &mem}}
		// busybox dd allocates and fills a 128 MiB buffer: four times the limit.
		s.Process.Args = []string{"/bin/dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"}
	})
	h.ok("create", "--bundle", h.bundle, h.id)
	h.ok("start", h.id)
	h.waitStatus(h.id, "stopped")
	var ev struct {
		Type string                    `json:"type"`
		Data struct{ OOMKills uint64 } `json:"data"`
	}
	out := h.ok("events", "--stats", h.id)
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatalf("events --stats: %v: %s", err, out)
	}
	if ev.Type != "stats" || ev.Data.OOMKills < 1 {
		t.Errorf("events --stats after an OOM kill = %s, want OOMKills >= 1", out)
	}
	lines := strings.Split(strings.TrimSpace(h.ok("events", "--interval", "10ms", h.id)), "\n")
	if len(lines) == 0 || !strings.Contains(h.ok("events", "--stats", h.id), `"OOMKills":`) {
		t.Errorf("events printed nothing for a stopped container")
	}
}
