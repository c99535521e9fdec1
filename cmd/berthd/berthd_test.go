package main

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runBerthd runs the command line and returns its exit status and output.
func runBerthd(args ...string) (int, string, string) {
	var out, errOut strings.Builder
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersionFlag(t *testing.T) {
	code, out, _ := runBerthd("--version")
	if code != 0 || !strings.HasPrefix(out, "berthd version "+version+", build ") {
		t.Fatalf("exit %d, %q", code, out)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(`{"debug": true, "registry-mirrors": ["https://m.example.com"]}`), 0o644)
	os.WriteFile(bad, []byte(`{"debugg": true}`), 0o644)

	if code, out, errOut := runBerthd("--validate", "--config-file", good); code != 0 || out != "configuration OK\n" {
		t.Fatalf("good config: exit %d, %q %q", code, out, errOut)
	}
	code, _, errOut := runBerthd("--validate", "--config-file", bad)
	if want := `berthd: unknown key in ` + bad + `: "debugg"` + "\n"; code != 1 || errOut != want {
		t.Fatalf("bad config: exit %d, %q, want %q", code, errOut, want)
	}
	code, _, errOut = runBerthd("--validate", "--config-file", good, "--log-level", "loud")
	if code != 1 || errOut != "berthd: invalid log-level \"loud\": want one of debug, info, warn, error, fatal\n" {
		t.Fatalf("bad flag value: exit %d, %q", code, errOut)
	}
}

func TestCommandLineErrors(t *testing.T) {
	for _, args := range [][]string{{"--no-such-flag"}, {"extra-argument"}, {"--max-concurrent-downloads", "many"}} {
		code, _, errOut := runBerthd(args...)
		if code != 1 || !strings.HasPrefix(errOut, "berthd: ") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, %q", args, code, errOut)
		}
	}
}

func TestPidfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "berthd.pid")
	log := slog.New(slog.DiscardHandler)

	// A stale pidfile (pid 1 is no berthd) is replaced.
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte("1\n"), 0o644)
	if err := writePidfile(path); err != nil {
		t.Fatal(err)
	}
	if pid, ok := readPidfile(path); !ok || pid != os.Getpid() {
		t.Fatalf("pidfile holds %d", pid)
	}
	removePidfile(path, log)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("pidfile not removed: %v", err)
	}

	// One naming a running berthd is refused, and not removed by us.
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("needs sleep(1) to stand for a running berthd")
	}
	fake := filepath.Join(dir, "berthd")
	data, _ := os.ReadFile(sleep)
	if err := os.WriteFile(fake, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fake, "60")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	other := strconv.Itoa(cmd.Process.Pid)
	os.WriteFile(path, []byte(other+"\n"), 0o644)
	err = writePidfile(path)
	if err == nil || !strings.Contains(err.Error(), "names a running berthd (pid "+other+")") {
		t.Fatalf("got %v", err)
	}
	removePidfile(path, log)
	if pid, _ := readPidfile(path); strconv.Itoa(pid) != other {
		t.Fatal("removePidfile removed another daemon's pidfile")
	}

	// Killed but not yet reaped (a zombie, as a berthd killed -9 under a shell that
	// has not waited for it yet): not running, so its pidfile is stale.
	cmd.Process.Kill()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, _ := os.ReadFile("/proc/" + other + "/stat")
		if strings.Contains(string(st), ") Z") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed process did not become a zombie: %q", st)
		}
	}
	if err := writePidfile(path); err != nil {
		t.Fatalf("a zombie berthd's pidfile: %v", err)
	}
}
