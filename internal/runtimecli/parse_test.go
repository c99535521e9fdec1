package runtimecli

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"9": 9, "KILL": 9, "SIGKILL": 9, "sigterm": 15, "hup": 1, "SIGRTMIN+1": 35,
	} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "65", "-1", "NOPE", "SIGRTMIN+99", ""} {
		if _, err := parseSignal(bad); err == nil {
			t.Errorf("parseSignal(%q) accepted", bad)
		}
	}
}

func TestSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "4k": 4096, "512m": 512 << 20, "1G": 1 << 30, "2gb": 2 << 30, "-1": -1} {
		if got, err := sizeFlag("memory", in); err != nil || *got != want {
			t.Errorf("sizeFlag(%q) = %v, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1x", "m", "-2", "1.5g"} {
		if _, err := sizeFlag("memory", bad); err == nil || !strings.Contains(err.Error(), "--memory") {
			t.Errorf("sizeFlag(%q) = %v, want an error naming --memory", bad, err)
		}
	}
}

func TestUnknownCommandAndFlagsAreOneLineErrors(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"--bogus", "list"}, {"state"}, {"kill", "a", "b", "c"}} {
		var out, errb bytes.Buffer
		code := Main(append([]string{"--root", t.TempDir()}, args...), &out, &errb)
		msg := strings.TrimSpace(errb.String())
		if code == 0 || msg == "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "berth-runtime: ") {
			t.Errorf("%v: exit %d, stderr %q: want a one-line error and a non-zero exit", args, code, msg)
		}
	}
}

func TestListEmptyRoot(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"--root", t.TempDir(), "list", "--format", "json"}, &out, &errb); code != 0 {
		t.Fatalf("list: exit %d: %s", code, errb.String())
	}
	if strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("list --format json of an empty root = %q, want []", out.String())
	}
}

func TestDebugLogsTheCommand(t *testing.T) {
	log := t.TempDir() + "/log"
	var out, errb bytes.Buffer
	Main([]string{"--root", t.TempDir(), "--debug", "--log", log, "--log-format", "json", "list", "-q"}, &out, &errb)
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), `"level":"debug"`) || !strings.Contains(string(b), `list`) {
		t.Errorf("--debug log: %q", b)
	}
}
