// Package osthread runs code on an OS thread of its own that is thrown away
// afterwards: for changes to a thread's state (its namespaces, its working
// directory) that the rest of the process must never see.
package osthread

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// Discarded runs fn on a locked OS thread other than the process's main
// thread, and waits for it; the thread exits when fn returns. The main
// thread is avoided because Go never ends it: left in a namespace fn entered,
// it would stay there for the life of the process, and /proc/self (which is
// the main thread's view) with it.
func Discarded(fn func()) {
	done := make(chan struct{})
	go runLocked(fn, done)
	<-done
}

// runLocked locks the calling goroutine to its thread and runs fn there, or,
// on the main thread, on another thread while holding this one (so that the
// goroutine started for it cannot be scheduled here).
func runLocked(fn func(), done chan<- struct{}) {
	runtime.LockOSThread() // never unlocked on fn's thread: it exits with the goroutine
	if unix.Gettid() == unix.Getpid() {
		Discarded(fn)
		runtime.UnlockOSThread()
		close(done)
		return
	}
	defer close(done)
	fn()
}
