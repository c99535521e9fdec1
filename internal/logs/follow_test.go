package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A helper process that writes a log, so followers are tested across processes
// as berthd follows what a shim writes: BERTH_LOGS_WRITER=driver:path. For each
// line "N" on stdin it logs N numbered lines, then prints "ok"; at EOF it closes
// the log and exits.
func TestMain(m *testing.M) {
	if spec := os.Getenv("BERTH_LOGS_WRITER"); spec != "" {
		os.Exit(writerProcess(spec))
	}
	os.Exit(m.Run())
}

func writerProcess(spec string) int {
	driver, path, _ := strings.Cut(spec, ":")
	w, err := OpenWriter(Config{Driver: driver, Path: path, Opts: map[string]string{"max-size": "1k", "max-file": "3", "compress": "false"}}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	next := 0
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, _ := strconv.Atoi(in.Text())
		for _, m := range numbered(next, n) {
			if err := w.Log(m); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		next += n
		fmt.Println("ok")
	}
	if err := w.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// follower runs a follow in the background and hands its messages over.
type follower struct {
	ch   chan Message
	done chan error
}

func startFollow(ctx context.Context, r *Reader, opts ReadOptions) *follower {
	f := &follower{ch: make(chan Message), done: make(chan error, 1)}
	go func() {
		defer close(f.ch)
		for m, err := range r.Read(ctx, opts) {
			if err != nil {
				f.done <- err
				return
			}
			select {
			case f.ch <- m:
			case <-ctx.Done():
			}
		}
		f.done <- nil
	}()
	return f
}

// expect receives lines from..to-1 in order.
func (f *follower) expect(t *testing.T, ctx context.Context, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		select {
		case m, ok := <-f.ch:
			if !ok {
				t.Fatalf("follow ended before line %d: %v", i, <-f.done)
			}
			if want := fmt.Sprintf("line %04d\n", i); string(m.Line) != want {
				t.Fatalf("followed %q, want %q", m.Line, want)
			}
		case <-ctx.Done():
			t.Fatalf("waiting for line %d: %v", i, ctx.Err())
		}
	}
}

// ends waits for the follow to end by itself.
func (f *follower) ends(t *testing.T, ctx context.Context) {
	t.Helper()
	select {
	case m, ok := <-f.ch:
		if ok {
			t.Fatalf("unexpected %q", m.Line)
		}
		if err := <-f.done; err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("follow did not end when the writer closed the log")
	}
}

// Follow returns lines as they are written, across rotations, and ends when the
// writer closes the log; with inotify and with polling.
func TestFollow(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(fmt.Sprintf("poll=%v", poll), func(t *testing.T) {
			eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				c := cfg("max-size=1k", "max-file=3", "compress=false")
				w, err := OpenWriter(c, nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range numbered(0, 10) {
					w.Log(m)
				}
				r, _ := NewReader(c)
				if poll {
					r.poll = 10 * time.Millisecond
				}
				f := startFollow(ctx, r, ReadOptions{Tail: 5, Follow: true})
				f.expect(t, ctx, 5, 10)
				// Bursts of about a rotation each, written while the follower
				// waits: it reads the rotated file to its end, then the new one.
				next := 10
				for _, n := range []int{1, 15, 15, 1, 15, 30} {
					for _, m := range numbered(next, n) {
						if err := w.Log(m); err != nil {
							t.Fatal(err)
						}
					}
					f.expect(t, ctx, next, next+n)
					next += n
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				f.ends(t, ctx)
			})
		})
	}
}

// The writer is another process, as the shim is: followed across rotations, and
// the follow ends when it exits — also when it is killed.
func TestFollowAcrossProcesses(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(fmt.Sprintf("kill=%v", kill), func(t *testing.T) {
			eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				c := cfg()
				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), "BERTH_LOGS_WRITER="+c.Driver+":"+c.Path)
				cmd.Stderr = os.Stderr
				stdin, _ := cmd.StdinPipe()
				stdout, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				acks := bufio.NewScanner(stdout)
				write := func(n int) {
					fmt.Fprintln(stdin, n)
					if !acks.Scan() {
						t.Fatal("writer process died")
					}
				}
				write(3)
				r, _ := NewReader(c)
				f := startFollow(ctx, r, ReadOptions{Tail: -1, Follow: true})
				f.expect(t, ctx, 0, 3)
				next := 3
				for _, n := range []int{1, 15, 15, 30} {
					write(n)
					f.expect(t, ctx, next, next+n)
					next += n
				}
				if kill {
					cmd.Process.Signal(syscall.SIGKILL)
				} else {
					stdin.Close()
				}
				f.ends(t, ctx)
				err := cmd.Wait()
				if !kill && err != nil {
					t.Errorf("writer process: %v", err)
				}
			})
		})
	}
}

func TestFollowStops(t *testing.T) {
	eachDriver(t, func(t *testing.T, cfg func(...string) Config) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c := cfg()
		// No writer: a follow is a plain read.
		writeAll(t, c, nil, numbered(0, 3)...)
		if got := readAll(t, c, ReadOptions{Tail: -1, Follow: true}); len(got) != 3 {
			t.Errorf("follow without a writer read %d lines", len(got))
		}
		w, err := OpenWriter(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		r, _ := NewReader(c)

		// Tail 0: only what comes next.
		cctx, ccancel := context.WithCancel(ctx)
		snapped := make(chan struct{})
		r.snapped = func() { close(snapped) }
		f := startFollow(cctx, r, ReadOptions{Tail: 0, Follow: true})
		<-snapped
		r.snapped = nil
		w.Log(numbered(3, 1)[0])
		f.expect(t, ctx, 3, 4)
		// Cancelling ends it.
		ccancel()
		for range f.ch {
		}
		if err := <-f.done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled follow ended with %v", err)
		}

		// Until ends it when that time comes, writer or not.
		f = startFollow(ctx, r, ReadOptions{Tail: 0, Follow: true, Until: time.Now().Add(200 * time.Millisecond)})
		f.ends(t, ctx)
		if got := readAll(t, c, ReadOptions{Tail: -1, Follow: true, Until: t0.Add(time.Second)}); len(got) != 2 {
			t.Errorf("follow with a past until read %d lines", len(got))
		}
	})
}
