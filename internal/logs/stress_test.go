package logs

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// stressLine is line i of the stress log: "<i>:" then a letter repeated, sizes
// from 0 to 40 KiB (so some lines are stored in pieces).
func stressLine(i int, rng *rand.Rand) []byte {
	size := rng.IntN(200)
	if rng.IntN(20) == 0 {
		size = rng.IntN(40 << 10)
	}
	b := strconv.AppendInt(nil, int64(i), 10)
	b = append(b, ':')
	b = append(b, bytes.Repeat([]byte{byte('a' + i%26)}, size)...)
	return append(b, '\n')
}

// checkStream verifies that messages are whole pieces of stress lines, in
// order: each line is "<i>:" and its letter, pieces of one line follow each
// other, and i increases by one from line to line (when gapless).
func checkStream(t *testing.T, who string, ms []Message, gapless bool) {
	t.Helper()
	prev := -1
	var cur []byte
	for k, m := range ms {
		cur = append(cur, m.Line...)
		if m.Partial() {
			continue
		}
		line := cur
		cur = nil
		num, rest, ok := bytes.Cut(line, []byte(":"))
		i, err := strconv.Atoi(string(num))
		if !ok || err != nil {
			if k == 0 || prev == -1 {
				continue // the end of a line whose start is not in this read
			}
			var nums []string
			for _, m := range ms[max(0, k-5):min(len(ms), k+3)] {
				nums = append(nums, fmt.Sprintf("%.8q/%d/%v", m.Line, len(m.Line), m.Partial()))
			}
			t.Fatalf("%s: message %d: torn or mixed line %.40q (len %d); around: %v", who, k, line, len(line), nums)
		}
		if want := bytes.Repeat([]byte{byte('a' + i%26)}, len(rest)-1); !bytes.Equal(rest[:len(rest)-1], want) || rest[len(rest)-1] != '\n' {
			t.Fatalf("%s: line %d is damaged: %.40q", who, i, line)
		}
		if prev >= 0 && (i <= prev || gapless && i != prev+1) {
			t.Fatalf("%s: line %d after line %d", who, i, prev)
		}
		prev = i
	}
}

// One writer rotating fast, readers reading tails and whole logs meanwhile, and
// a follower: nobody sees a torn, mixed or reordered line, and the follower
// misses none.
func TestConcurrentReaders(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		for _, compress := range []string{"false", "true"} {
			t.Run("compress="+compress, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				// Nothing is deleted without compression, so the follower can
				// never fall behind what is kept.
				c := cfg("max-size=64k", "max-file=200", "compress="+compress)
				if compress == "true" {
					c = cfg("max-size=64k", "max-file=4", "compress=true")
				}
				w, err := OpenWriter(c, nil)
				if err != nil {
					t.Fatal(err)
				}
				const total = 3000
				rng := rand.New(rand.NewPCG(1, 2))
				w.Log(Message{Stream: Stdout, Line: stressLine(0, rng)})

				r, _ := NewReader(c)
				var followed []Message
				followDone := make(chan error, 1)
				go func() {
					for m, err := range r.Read(ctx, ReadOptions{Tail: -1, Follow: true}) {
						if err != nil {
							followDone <- err
							return
						}
						followed = append(followed, m)
					}
					followDone <- nil
				}()

				stop := make(chan struct{})
				var wg sync.WaitGroup
				for k := range 3 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r, _ := NewReader(c)
						for n := 0; ; n++ {
							select {
							case <-stop:
								return
							default:
							}
							opts := ReadOptions{Tail: []int{5, 50, -1}[(n+k)%3]}
							var ms []Message
							for m, err := range r.Read(ctx, opts) {
								if err != nil {
									t.Errorf("reader %d: %v", k, err)
									return
								}
								ms = append(ms, m)
							}
							checkStream(t, fmt.Sprintf("reader %d tail %d", k, opts.Tail), ms, compress == "false")
						}
					}()
				}
				for i := 1; i < total; i++ {
					if err := w.Log(Message{Stream: Stdout, Line: stressLine(i, rng)}); err != nil {
						t.Fatal(err)
					}
				}
				close(stop)
				wg.Wait()
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if err := <-followDone; err != nil {
					t.Fatal(err)
				}
				// With compression and 4 files, a follower more than a rotation
				// behind skips to the current file, as Docker's does.
				if compress == "false" {
					checkStream(t, "follower", followed, true)
					var n int
					for _, m := range followed {
						if !m.Partial() {
							n++
						}
					}
					if n != total {
						t.Errorf("follower saw %d lines of %d", n, total)
					}
				}
			})
		}
	})
}
