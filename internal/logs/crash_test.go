package logs

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// What a writer killed mid-write leaves — part of an entry at the end — is never
// returned, and the next writer cuts it off.
func TestTornTail(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg()
		writeAll(t, c, nil, numbered(0, 3)...)
		var torn []byte
		if c.Driver == JSONFile {
			torn, _ = appendJSONEntry(nil, Stdout, []byte(strings.Repeat("x", 300)), false, nil, t0)
		} else {
			torn, _ = appendLocalEntry(nil, Stdout, []byte(strings.Repeat("x", 300)), false, t0)
		}
		f, err := os.OpenFile(c.Path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(torn[:len(torn)/2])
		f.Close()
		for _, tc := range []struct{ tail, from int }{{-1, 0}, {1, 2}, {2, 1}} {
			if got := lines(readAll(t, c, ReadOptions{Tail: tc.tail})); !slices.Equal(got, wantLines(tc.from, 3)) {
				t.Errorf("tail %d with a torn end: %q", tc.tail, got)
			}
		}
		writeAll(t, c, nil, numbered(3, 1)...)
		if got := lines(readAll(t, c, ReadOptions{Tail: -1})); !slices.Equal(got, wantLines(0, 4)) {
			t.Errorf("after a new writer: %q", got)
		}
	})
}

// A writer that died between the two renames of a rotation (the old file under
// both names) leaves a state the next writer completes.
func TestInterruptedRotation(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg("max-size=1k", "max-file=3", "compress=false")
		writeAll(t, c, nil, numbered(0, 120)...)
		before := lines(readAll(t, c, ReadOptions{Tail: -1}))
		// Redo the first half of a rotation by hand.
		os.Remove(c.Path + ".2")
		if err := os.Rename(c.Path+".1", c.Path+".2"); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(c.Path, c.Path+".1"); err != nil {
			t.Fatal(err)
		}
		// Readers see each file once meanwhile.
		if got := lines(readAll(t, c, ReadOptions{Tail: -1})); len(got) >= len(before) || !slices.Equal(got, before[len(before)-len(got):]) {
			t.Errorf("mid-rotation read %d lines, want a suffix of the %d before", len(got), len(before))
		}
		writeAll(t, c, nil, numbered(120, 1)...)
		fi, _ := os.Stat(c.Path)
		fi1, _ := os.Stat(c.Path + ".1")
		if os.SameFile(fi, fi1) {
			t.Fatal("rotation not completed")
		}
		got := lines(readAll(t, c, ReadOptions{Tail: -1}))
		if !slices.Equal(got[len(got)-1:], wantLines(120, 121)) || !slices.Equal(got[:len(got)-1], before[len(before)-len(got)+1:]) {
			t.Errorf("after recovery: %q", got)
		}
	})
}

func TestOneWriter(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg()
		w, err := OpenWriter(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if w2, err := OpenWriter(c, nil); err == nil || !strings.Contains(err.Error(), "another writer") {
			t.Errorf("second writer: %v", err)
			if err == nil {
				w2.Close()
			}
		}
		w.Close()
		w, err = OpenWriter(c, nil)
		if err != nil {
			t.Fatalf("writer after the first closed: %v", err)
		}
		w.Close()
	})
}
