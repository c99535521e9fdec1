package logs

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// countingFile counts the bytes read through it.
type countingFile struct {
	*os.File
	n *atomic.Int64
}

func (c countingFile) Read(p []byte) (int, error) {
	n, err := c.File.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.File.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func countingReader(t testing.TB, cfg Config) (*Reader, *atomic.Int64) {
	r, err := NewReader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n := new(atomic.Int64)
	r.open = func(name string) (file, error) {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		return countingFile{f, n}, nil
	}
	return r, n
}

const bigStep = 10 * time.Millisecond // time between two lines of the big log

// writeBigLog writes about size bytes of 100-byte lines, one every bigStep from
// t0, into a single file, through the Writer. It returns the number of lines.
func writeBigLog(t testing.TB, cfg Config, size int64) int {
	t.Helper()
	w, err := OpenWriter(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	bw := w.(BatchWriter)
	batch := make([]Message, 1000)
	buf := make([]byte, 0, 100*len(batch))
	n := 0
	for written := int64(0); written < size; {
		buf = buf[:0]
		for i := range batch {
			start := len(buf)
			buf = fmt.Appendf(buf, "%09d the quick brown fox jumps over the lazy dog, again and again and again, forever\n", n)
			batch[i] = Message{Stream: Stdout, Line: buf[start:len(buf):len(buf)], Time: t0.Add(time.Duration(n) * bigStep)}
			n++
		}
		if err := bw.LogBatch(batch); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(cfg.Path)
		written = fi.Size()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// On a 200 MB log, tail 10 and a minute's worth of --since or --until read a
// few blocks, not the file.
func TestBigLogReadsLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 200 MB")
	}
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		c := cfg("max-size=1g", "max-file=1", "compress=false")
		n := writeBigLog(t, c, 200<<20)
		r, read := countingReader(t, c)
		last := t0.Add(time.Duration(n-1) * bigStep)
		cases := []struct {
			name    string
			opts    ReadOptions
			want    int   // messages
			maxRead int64 // bytes
		}{
			{"tail 10", ReadOptions{Tail: 10}, 10, 1 << 20},
			{"since 1m", ReadOptions{Tail: -1, Since: last.Add(-time.Minute)}, 6001, 4 << 20},
			{"tail 10 since 1m", ReadOptions{Tail: 10, Since: last.Add(-time.Minute)}, 10, 1 << 20},
			{"until 1m", ReadOptions{Tail: -1, Until: t0.Add(time.Minute)}, 6001, 4 << 20},
		}
		for _, tc := range cases {
			read.Store(0)
			start := time.Now()
			got := collect(t, r, tc.opts)
			if len(got) != tc.want {
				t.Errorf("%s: %d messages, want %d", tc.name, len(got), tc.want)
			}
			if read.Load() > tc.maxRead {
				t.Errorf("%s: read %d bytes of a 200 MB log, want at most %d", tc.name, read.Load(), tc.maxRead)
			}
			t.Logf("%s: read %d KiB in %v", tc.name, read.Load()>>10, time.Since(start))
		}
		// and the last line is the last one written
		if got := collect(t, r, ReadOptions{Tail: 1}); string(got[0].Line[:9]) != fmt.Sprintf("%09d", n-1) {
			t.Errorf("last line %q, wrote %d", got[0].Line, n)
		}
	})
}

func BenchmarkWrite100MB(b *testing.B) {
	for _, driver := range []string{JSONFile, Local} {
		b.Run(driver, func(b *testing.B) {
			line := []byte("the quick brown fox jumps over the lazy dog, again and again and again and again, forever & ever\n")
			chunk := make([]byte, 0, 64<<10) // what the shim reads from the pipe at once
			for len(chunk)+len(line) <= cap(chunk) {
				chunk = append(chunk, line...)
			}
			const total = 100 << 20
			b.SetBytes(total)
			for b.Loop() {
				b.StopTimer()
				cfg := Config{Driver: driver, Path: b.TempDir() + "/c.log", Opts: map[string]string{"max-size": "1g", "max-file": "1", "compress": "false"}}
				w, err := OpenWriter(cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				lw := NewLineWriter(w, Stdout)
				b.StartTimer()
				for n := 0; n < total; n += len(chunk) {
					if _, err := lw.Write(chunk); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTail10Of200MB(b *testing.B) {
	for _, driver := range []string{JSONFile, Local} {
		b.Run(driver, func(b *testing.B) {
			cfg := Config{Driver: driver, Path: b.TempDir() + "/c.log", Opts: map[string]string{"max-size": "1g", "max-file": "1", "compress": "false"}}
			writeBigLog(b, cfg, 200<<20)
			r, read := countingReader(b, cfg)
			b.SetBytes(200 << 20) // the log's size: MB/s says how fast the whole log was "answered"
			read.Store(0)
			for b.Loop() {
				for _, err := range r.Read(context.Background(), ReadOptions{Tail: 10}) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(read.Load())/float64(b.N), "read-B/op")
		})
	}
}

func BenchmarkReadAll(b *testing.B) {
	for _, driver := range []string{JSONFile, Local} {
		b.Run(driver, func(b *testing.B) {
			cfg := Config{Driver: driver, Path: b.TempDir() + "/c.log", Opts: map[string]string{"max-size": "1g", "max-file": "1", "compress": "false"}}
			writeBigLog(b, cfg, 100<<20)
			fi, _ := os.Stat(cfg.Path)
			b.SetBytes(fi.Size())
			r, _ := NewReader(cfg)
			for b.Loop() {
				for _, err := range r.Read(context.Background(), ReadOptions{Tail: -1}) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
