package runtimecli_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSchedulerIOPriorityAndAffinity(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedBatch, Nice: 5}
		s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 6}
	})
	if got := h.runOK("/testinit", "sched"); !strings.HasPrefix(got, "policy=3 nice=5 ioprio=2:6") {
		t.Errorf("sched = %q, want SCHED_BATCH (3), nice 5, best-effort (2) level 6", got)
	}
	h.createRunning()
	proc := `{"args": ["/testinit", "sched"], "cwd": "/", "execCPUAffinity": {"initial": "0-1", "final": "0"}}`
	pf := t.TempDir() + "/process.json"
	writeFile(t, pf, proc)
	if got := strings.TrimSpace(h.ok("exec", "--process", pf, h.id)); !strings.HasSuffix(got, "cpus=1") {
		t.Errorf("exec with execCPUAffinity.final 0: %q, want cpus=1", got)
	}
	h.fails("unknown scheduler policy", "exec", "--process", writeTemp(t, `{"args": ["/testinit"], "cwd": "/", "scheduler": {"policy": "SCHED_BOGUS"}}`), h.id)
}

func TestPersonality(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux32} })
	if got := h.runOK("/bin/uname", "-m"); got != "i686" {
		t.Errorf("uname -m under LINUX32 = %q, want i686", got)
	}
	h.edit(func(s *specs.Spec) { s.Linux.Personality = &specs.LinuxPersonality{Domain: "BOGUS"} })
	h.fails("unknown personality domain", "create", "--bundle", h.bundle, h.id)
}

func TestConsoleSize(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 33, Width: 111}
		s.Process.Args = []string{"/bin/stty", "size"}
	})
	sock, master := consoleSocket(t)
	h.ok("create", "--bundle", h.bundle, "--console-socket", sock, h.id)
	m := master()
	defer m.Close()
	h.ok("start", h.id)
	var out bytes.Buffer
	io.Copy(&out, m)
	if got := strings.TrimSpace(out.String()); got != "33 111" {
		t.Errorf("stty size = %q, want 33 111", got)
	}
}
