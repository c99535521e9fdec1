package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

func readAll(t testing.TB, cfg Config, opts ReadOptions) []Message {
	t.Helper()
	r, err := NewReader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return collect(t, r, opts)
}

func collect(t testing.TB, r *Reader, opts ReadOptions) []Message {
	t.Helper()
	var ms []Message
	for m, err := range r.Read(context.Background(), opts) {
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

func lines(ms []Message) []string {
	var s []string
	for _, m := range ms {
		s = append(s, string(m.Line))
	}
	return s
}

// numbered returns n messages "line <i>\n" one second apart from t0.
func numbered(from, n int) []Message {
	var ms []Message
	for i := from; i < from+n; i++ {
		ms = append(ms, Message{Stream: Stdout, Line: fmt.Appendf(nil, "line %04d\n", i), Time: t0.Add(time.Duration(i) * time.Second)})
	}
	return ms
}

func wantLines(from, to int) []string { // [from, to)
	var s []string
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprintf("line %04d\n", i))
	}
	return s
}

func eachDriver(t *testing.T, f func(t *testing.T, cfg func(opts ...string) Config)) {
	t.Run(JSONFile, func(t *testing.T) { f(t, func(o ...string) Config { return jsonCfg(t, o...) }) })
	t.Run(Local, func(t *testing.T) { f(t, func(o ...string) Config { return localCfg(t, o...) }) })
}

func logFiles(t *testing.T, path string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestRotation(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg("max-size=1k", "max-file=3", "compress=false")
		writeAll(t, c, nil, numbered(0, 300)...)
		base := filepath.Base(c.Path)
		if got, want := logFiles(t, c.Path), []string{base, base + ".1", base + ".2"}; !slices.Equal(got, want) {
			t.Fatalf("files %v, want %v", got, want)
		}
		entry := int64(200) // more than one entry in either format
		for _, name := range []string{c.Path + ".1", c.Path + ".2"} {
			fi, _ := os.Stat(name)
			if fi.Size() < 1000 || fi.Size() >= 1000+entry {
				t.Errorf("%s: %d bytes, want max-size (1000) plus less than one entry", name, fi.Size())
			}
		}
		got := lines(readAll(t, c, ReadOptions{Tail: -1}))
		if len(got) == 0 || got[len(got)-1] != "line 0299\n" {
			t.Fatalf("read %d lines, last %q", len(got), got[len(got)-1:])
		}
		first := 300 - len(got)
		if !slices.Equal(got, wantLines(first, 300)) || first == 0 {
			t.Errorf("read lines %d..299 out of order or with gaps (%d lines)", first, len(got))
		}
	})
}

func TestCompressedRotation(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg("max-size=1k", "max-file=4", "compress=true")
		msgs := numbered(0, 300)
		writeAll(t, c, nil, msgs...)
		base := filepath.Base(c.Path)
		if got, want := logFiles(t, c.Path), []string{base, base + ".1.gz", base + ".2.gz", base + ".3.gz"}; !slices.Equal(got, want) {
			t.Fatalf("files %v, want %v", got, want)
		}
		// Each .gz is a gzip of a whole rotated file with Docker's lastTime in
		// the header, the time of its last entry.
		f, err := os.Open(c.Path + ".1.gz")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct{ LastTime time.Time }
		if err := json.Unmarshal(zr.Header.Extra, &meta); err != nil {
			t.Fatalf("gzip Extra %q: %v", zr.Header.Extra, err)
		}
		data, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < 1000 {
			t.Errorf(".1.gz holds %d bytes, want a whole rotated file", len(data))
		}
		all := readAll(t, c, ReadOptions{Tail: -1})
		got := lines(all)
		first := 300 - len(got)
		if !slices.Equal(got, wantLines(first, 300)) || first == 0 {
			t.Fatalf("read %d lines through compressed files, not lines %d..299", len(got), first)
		}
		var lastOfGz Message
		for _, m := range all {
			if m.Time.Equal(meta.LastTime) {
				lastOfGz = m
			}
		}
		if lastOfGz.Line == nil {
			t.Errorf("lastTime %v is no message's time", meta.LastTime)
		}
	})
}

// Unless configured, a log is bounded (20 MiB x 5 files, the rotated ones
// compressed): writing 130 MB keeps 5 files, the current one at most 20 MiB.
func TestBoundedByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 130 MB")
	}
	c := jsonCfg(t)
	w, err := OpenWriter(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("0123456789abcdef", 1024) + "\n") // 16 KiB + 1
	batch := make([]Message, 64)
	for i := range batch {
		batch[i] = Message{Stream: Stdout, Line: line}
	}
	for written := 0; written < 130<<20; written += len(batch) * len(line) {
		if err := w.(BatchWriter).LogBatch(batch); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	var total int64
	names := logFiles(t, c.Path)
	for _, n := range names {
		fi, _ := os.Stat(filepath.Join(filepath.Dir(c.Path), n))
		total += fi.Size()
	}
	base := filepath.Base(c.Path)
	if want := []string{base, base + ".1.gz", base + ".2.gz", base + ".3.gz", base + ".4.gz"}; !slices.Equal(names, want) {
		t.Errorf("files %v, want %v", names, want)
	}
	// These lines compress a hundredfold; a quarter of the raw size is a loose bound.
	if max := int64(20<<20 + 64*17000 + 20<<20); total > max || total < 1<<20 {
		t.Errorf("%d bytes on disk, want between 1 MiB and %d", total, max)
	}
}

func TestTail(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		for _, compress := range []string{"false", "true"} {
			c := cfg("max-size=1k", "max-file=5", "compress="+compress)
			writeAll(t, c, nil, numbered(0, 100)...)
			kept := len(readAll(t, c, ReadOptions{Tail: -1}))
			for _, n := range []int{0, 1, 3, 30, kept, kept + 10} {
				got := lines(readAll(t, c, ReadOptions{Tail: n}))
				want := wantLines(100-min(n, kept), 100)
				if !slices.Equal(got, want) {
					t.Errorf("compress=%s tail %d: got %d lines %q..., want %d", compress, n, len(got), got[:min(len(got), 2)], len(want))
				}
			}
		}
	})
}

func TestSinceUntil(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		for _, compress := range []string{"false", "true"} {
			c := cfg("max-size=1k", "max-file=20", "compress="+compress)
			writeAll(t, c, nil, numbered(0, 200)...)
			at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
			cases := []struct {
				opts     ReadOptions
				from, to int
			}{
				{ReadOptions{Tail: -1, Since: at(150)}, 150, 200},
				{ReadOptions{Tail: -1, Since: at(3)}, 3, 200}, // in the oldest file
				{ReadOptions{Tail: -1, Since: at(150).Add(-time.Millisecond)}, 150, 200},
				{ReadOptions{Tail: -1, Until: at(20)}, 0, 21},
				{ReadOptions{Tail: -1, Since: at(40), Until: at(60)}, 40, 61},
				{ReadOptions{Tail: 10, Since: at(150)}, 190, 200},
				{ReadOptions{Tail: 10, Since: at(195)}, 195, 200},
				// as in Docker, tail is taken from the end, then filtered
				{ReadOptions{Tail: 10, Until: at(195)}, 190, 196},
				{ReadOptions{Tail: -1, Since: at(500)}, 0, 0},
				{ReadOptions{Tail: -1, Until: at(-1)}, 0, 0},
			}
			for _, tc := range cases {
				got := lines(readAll(t, c, tc.opts))
				if want := wantLines(tc.from, tc.to); !slices.Equal(got, want) {
					t.Errorf("compress=%s %+v: got %d lines %q, want %d..%d", compress, tc.opts, len(got), got[:min(2, len(got))], tc.from, tc.to-1)
				}
			}
		}
	})
}

// A line longer than 16 KiB is stored in pieces, as Docker stores it; tail counts
// it as one line, and the pieces join back to the line.
func TestPartialLines(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg()
		w, err := OpenWriter(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		lw := NewLineWriter(w, Stdout)
		times := []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second), t0.Add(3 * time.Second)}
		lw.now = func() time.Time { tm := times[0]; times = times[1:]; return tm }
		long := strings.Repeat("a", 40000)
		io.WriteString(lw, "first\n"+long[:20000])
		io.WriteString(lw, long[20000:]+"\nsecond\nunfinished")
		lw.Close()
		w.Close()
		ms := readAll(t, c, ReadOptions{Tail: -1})
		var sizes []int
		for _, m := range ms {
			sizes = append(sizes, len(m.Line))
		}
		if want := []int{6, 16384, 16384, 40000 - 2*16384 + 1, 7, 11}; !slices.Equal(sizes, want) {
			t.Fatalf("entry sizes %v, want %v", sizes, want)
		}
		if !ms[1].Partial() || !ms[2].Partial() || ms[3].Partial() || ms[5].Partial() {
			t.Errorf("partial flags wrong: %v %v %v %v", ms[1].Partial(), ms[2].Partial(), ms[3].Partial(), ms[5].Partial())
		}
		if string(bytes.Join([][]byte{ms[1].Line, ms[2].Line, ms[3].Line}, nil)) != long+"\n" {
			t.Error("pieces do not join to the line")
		}
		// All pieces carry the time of the first; Close adds the "\n" Docker adds.
		if !ms[1].Time.Equal(t0) || !ms[3].Time.Equal(t0) || !ms[4].Time.Equal(t0.Add(time.Second)) || string(ms[5].Line) != "unfinished\n" {
			t.Errorf("times %v %v %v, last %q", ms[1].Time, ms[3].Time, ms[4].Time, ms[5].Line)
		}
		if got := readAll(t, c, ReadOptions{Tail: 3}); len(got) != 5 {
			t.Errorf("tail 3 returned %d entries, want the 3 pieces of the long line and 2 more", len(got))
		}
		if c.Driver == JSONFile {
			raw, _ := os.ReadFile(c.Path)
			second := bytes.Split(raw, []byte("\n"))[1]
			if !bytes.HasPrefix(second, []byte(`{"log":"aaaa`)) || !bytes.Contains(second, []byte(`aaaa","stream"`)) {
				t.Errorf("partial json-file entry not as Docker writes it: %.40q...", second)
			}
		}
	})
}

// Message.Attrs come back with every message (docker logs --details).
func TestAttrsReadBack(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg("max-size=1k", "max-file=3")
		writeAll(t, c, map[string]string{"com.example": "a b", "tag": "web"}, numbered(0, 50)...)
		for _, m := range readAll(t, c, ReadOptions{Tail: -1}) {
			if m.Attrs["com.example"] != "a b" || m.Attrs["tag"] != "web" || len(m.Attrs) != 2 {
				t.Fatalf("attrs %v", m.Attrs)
			}
		}
	})
}

// Writer times never go backwards, so searches by time are exact.
func TestTimesNonDecreasing(t *testing.T) {
	c := jsonCfg(t)
	writeAll(t, c, nil,
		Message{Stream: Stdout, Line: []byte("a\n"), Time: t0},
		Message{Stream: Stderr, Line: []byte("b\n"), Time: t0.Add(-time.Second)})
	// A second writer continues from the last time in the file.
	writeAll(t, c, nil, Message{Stream: Stdout, Line: []byte("c\n"), Time: t0.Add(-time.Hour)})
	ms := readAll(t, c, ReadOptions{Tail: -1})
	if len(ms) != 3 || !ms[1].Time.Equal(t0) || !ms[2].Time.Equal(t0) {
		t.Errorf("times %v", ms)
	}
}

func TestMissingLogReadsEmpty(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		if got := readAll(t, cfg(), ReadOptions{Tail: -1, Follow: true}); len(got) != 0 {
			t.Errorf("read %d messages", len(got))
		}
	})
}

func TestBadStream(t *testing.T) {
	w, err := OpenWriter(jsonCfg(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Log(Message{Stream: "stdin", Line: []byte("x\n")}); err == nil {
		t.Error("stream stdin accepted")
	}
}

// The shim's way: entries one by one, stored at each Flush (and at Close).
func TestEntryWriter(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg()
		w, err := OpenWriter(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		ew := w.(EntryWriter)
		line := []byte("one\n")
		ew.WriteLog(Stdout, line, t0)
		copy(line, "XXX\n") // not kept after the call
		ew.WriteLog(Stderr, []byte("tw"), t0)
		if got := readAll(t, c, ReadOptions{Tail: -1}); len(got) != 0 {
			t.Errorf("before Flush: %d messages stored", len(got))
		}
		if err := ew.Flush(); err != nil {
			t.Fatal(err)
		}
		ew.WriteLog(Stderr, []byte("o\n"), t0)
		if got := lines(readAll(t, c, ReadOptions{Tail: -1})); !slices.Equal(got, []string{"one\n", "tw"}) {
			t.Errorf("after Flush: %q", got)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		ms := readAll(t, c, ReadOptions{Tail: 1})
		if len(ms) != 2 || ms[0].Stream != Stderr || string(ms[0].Line)+string(ms[1].Line) != "two\n" {
			t.Errorf("after Close, tail 1: %+v", ms)
		}
	})
}
