package daemon

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type countingWriter struct {
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) snapshot() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes, c.buf.String()
}

// TestBatchWriterGathersLines checks that a log's many small lines reach the
// client in few writes, all of them and in order.
func TestBatchWriterGathersLines(t *testing.T) {
	var out countingWriter
	b := newBatchWriter(&out, 64<<10, time.Hour)
	var want strings.Builder
	for i := range 10000 {
		line := strings.Repeat("x", i%50) + "\n"
		want.WriteString(line)
		b.Write([]byte(line))
	}
	b.Close()
	writes, got := out.snapshot()
	if got != want.String() {
		t.Fatalf("got %d bytes, want %d", len(got), want.Len())
	}
	if max := want.Len()/(64<<10) + 1; writes > max {
		t.Errorf("%d writes for %d bytes, want at most %d", writes, want.Len(), max)
	}
}

// TestBatchWriterFlushesWhileIdle checks that a follower sees a line without
// waiting for more: the timer writes out what is held.
func TestBatchWriterFlushesWhileIdle(t *testing.T) {
	var out countingWriter
	b := newBatchWriter(&out, 64<<10, 20*time.Millisecond)
	defer b.Close()
	b.Write([]byte("one line\n"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, got := out.snapshot(); got == "one line\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a held line was not written out while the writer was idle")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
