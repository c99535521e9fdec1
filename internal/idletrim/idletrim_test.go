package idletrim

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestTrimRunsOnceAfterTheLastTouch(t *testing.T) {
	var trims atomic.Int32
	done := make(chan struct{}, 10)
	tr := &Trimmer{delay: 200 * time.Millisecond, trim: func() { trims.Add(1); done <- struct{}{} }}
	start := time.Now()
	for range 5 {
		tr.Touch()
		time.Sleep(10 * time.Millisecond) // a burst: each touch postpones the trim
	}
	<-done
	if since := time.Since(start); since < 240*time.Millisecond {
		t.Errorf("trimmed %v after the first touch, before the burst was over", since)
	}
	select {
	case <-done:
		t.Errorf("a burst of 5 touches trimmed %d times, want once", trims.Load())
	case <-time.After(400 * time.Millisecond):
	}
	tr.Touch() // the next burst trims again
	<-done
	if n := trims.Load(); n != 2 {
		t.Errorf("%d trims after two bursts, want 2", n)
	}
}

func TestStopCancelsAPendingTrim(t *testing.T) {
	var trims atomic.Int32
	tr := &Trimmer{delay: 20 * time.Millisecond, trim: func() { trims.Add(1) }}
	tr.Touch()
	tr.Stop()
	time.Sleep(60 * time.Millisecond)
	if n := trims.Load(); n != 0 {
		t.Errorf("%d trims after Stop, want none", n)
	}
}
