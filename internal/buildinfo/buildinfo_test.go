package buildinfo

import (
	"testing"
	"time"
)

func TestCompleteKeepsWhatWasStampedAndFillsTheRest(t *testing.T) {
	stamped := Info{Version: "1.2.3", GitCommit: "abcdef0", BuildTime: "2026-01-02T03:04:05Z"}
	if got := stamped.Complete(); got != stamped {
		t.Errorf("Complete changed stamped values: %+v", got)
	}
	got := Info{Version: "dev"}.Complete()
	if _, err := time.Parse(time.RFC3339, got.BuildTime); err != nil || got.Version != "dev" {
		t.Errorf("unstamped build: %+v (%v), want the executable's time", got, err)
	}
}
