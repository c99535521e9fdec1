package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// RequireRoot skips the test unless it runs as uid 0. reason says what needs
// root; the skip message reads "needs root: <reason> (running as uid N)".
func RequireRoot(t testing.TB, reason ...string) {
	t.Helper()
	requireRoot(t, os.Geteuid(), reason)
}

func requireRoot(t testing.TB, uid int, reason []string) {
	t.Helper()
	if uid != 0 {
		why := strings.Join(reason, " ")
		if why == "" {
			why = "privileged test"
		}
		t.Skipf("needs root: %s (running as uid %d)", why, uid)
	}
}

// UniqueID returns "berth-test-<prefix>-<8 hex digits>", a name for a
// container, cgroup or other host resource that no other test (in this or a
// concurrent test process) uses, and that leak hunters can recognise.
func UniqueID(prefix string) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on Linux
	}
	return "berth-test-" + prefix + "-" + hex.EncodeToString(b)
}
