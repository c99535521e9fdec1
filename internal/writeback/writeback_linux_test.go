package writeback

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
)

// dirtyKB reads how much of the machine's page cache waits to be written.
func dirtyKB(t *testing.T) int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Skip("no /proc/meminfo")
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Dirty:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	t.Skip("no Dirty: in /proc/meminfo")
	return 0
}

// TestWritebackStartsBeforeTheSync checks that data written through a Tracker
// is on its way to the disk without any sync: the file's bytes do not stay
// dirty in the page cache.
func TestWritebackStartsBeforeTheSync(t *testing.T) {
	f, err := os.CreateTemp("/var/tmp", "writeback-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	tr := New(f.Fd(), 0)
	block := bytes.Repeat([]byte{1}, 1<<20)
	before := dirtyKB(t)
	for range 64 {
		n, err := f.Write(block)
		if err != nil {
			t.Fatal(err)
		}
		tr.Wrote(n)
	}
	// 64 MiB written; all but the last chunk handed to writeback. The machine
	// writes other things too, so allow a margin, but not the whole file.
	if grew := dirtyKB(t) - before; grew > 40<<10 {
		t.Errorf("dirty page cache grew by %d KiB after 64 MiB through a Tracker; want most of it already written back", grew)
	}
}

func TestNilTrackerIsHarmless(t *testing.T) {
	var tr *Tracker
	tr.Wrote(10)
}
