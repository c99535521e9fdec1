package osthread

import (
	"os"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// fromMain is the thread fn ran on when its goroutine was on the main thread
// (TestMain runs there: init locked it).
var fromMain, mainTID int

func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	mainTID = unix.Gettid()
	done := make(chan struct{})
	runLocked(func() { fromMain = unix.Gettid() }, done)
	<-done
	os.Exit(m.Run())
}

func TestDiscardedLeavesTheMainThread(t *testing.T) {
	if mainTID != unix.Getpid() {
		t.Fatalf("TestMain ran on thread %d, not the main thread %d", mainTID, unix.Getpid())
	}
	if fromMain == 0 || fromMain == mainTID {
		t.Errorf("called on the main thread, fn ran on thread %d (main: %d)", fromMain, mainTID)
	}
}

// Each call gets a thread no other call had (the thread ends with fn), never
// the main one.
func TestDiscardedThreadsServeOnce(t *testing.T) {
	seen := map[int]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Discarded(func() {
				tid := unix.Gettid()
				mu.Lock()
				defer mu.Unlock()
				if tid == unix.Getpid() {
					t.Errorf("fn ran on the main thread")
				}
				if seen[tid] {
					t.Errorf("thread %d served fn twice: it was not discarded", tid)
				}
				seen[tid] = true
			})
		}()
	}
	wg.Wait()
}
