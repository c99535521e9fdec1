package pid1

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary play docker-init: PID1_TEST=1 runs Main.
func TestMain(m *testing.M) {
	if os.Getenv("PID1_TEST") == "1" {
		os.Exit(Main(os.Args[1:], os.Stderr))
	}
	os.Exit(m.Run())
}

func runInit(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PID1_TEST=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("docker-init did not exit")
		return -1
	}
}

func TestExitCodeAndOutputPassThrough(t *testing.T) {
	cmd, out := runInit(t, "--", "/bin/sh", "-c", "echo hi; exit 7")
	if code := exitCode(t, cmd); code != 7 || out.String() != "hi\n" {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}

// TestForwardsSignals: a program that traps TERM exits as it chooses when
// init receives TERM; one that does not dies of it (128+15).
func TestForwardsSignals(t *testing.T) {
	cmd, out := runInit(t, "--", "/bin/sh", "-c", "trap 'echo got term; exit 0' TERM; echo ready; while true; do sleep 0.05; done")
	for !strings.Contains(out.String(), "ready") {
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, cmd); code != 0 || !strings.Contains(out.String(), "got term") {
		t.Errorf("trapping program: exit %d, output %q", code, out.String())
	}
	cmd, _ = runInit(t, "--", "/bin/sleep", "30")
	time.Sleep(100 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := exitCode(t, cmd); code != 128+15 {
		t.Errorf("sleep killed by TERM: exit %d, want 143", code)
	}
}

func TestMissingProgram(t *testing.T) {
	cmd, out := runInit(t, "--", "/nosuch/program")
	if code := exitCode(t, cmd); code != 127 || !strings.Contains(out.String(), "docker-init:") {
		t.Errorf("exit %d, output %q", code, out.String())
	}
}
