package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-engine/berth/internal/atomicfile"
)

// readPidfile returns the pid written at path.
func readPidfile(path string) (int, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid, err == nil && pid > 0
}

// isBerthd reports whether process pid is running and is a berthd. A berthd that
// was killed but not yet reaped by its parent (a zombie) runs no more.
func isBerthd(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses, so from the last ")".
	s := string(stat)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || len(s) < end+3 {
		return false
	}
	return s[open+1:end] == "berthd" && s[end+2] != 'Z'
}

// writePidfile records this process's pid at path, atomically. A pidfile that
// names another running berthd is an error; any other is stale and replaced.
func writePidfile(path string) error {
	if pid, ok := readPidfile(path); ok && pid != os.Getpid() && isBerthd(pid) {
		return fmt.Errorf("pidfile %s names a running berthd (pid %d); is another daemon using it?", path, pid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("pidfile: %w", err)
	}
	if err := atomicfile.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pidfile: %w", err)
	}
	return nil
}

// removePidfile removes the pidfile if it still names this process.
func removePidfile(path string, log *slog.Logger) {
	if pid, ok := readPidfile(path); ok && pid == os.Getpid() {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.Warn("remove pidfile", "error", err)
		}
	}
}
