// Package idletrim gives a long-lived Go process's spare memory back to the system
// once a burst of work is over.
//
// The Go collector does not run before the heap reaches its goal (at least 4 MB),
// and the scavenger keeps roughly what the heap once held: after a burst of requests
// a daemon or a shim holds on to the garbage of that burst while it idles, which on a
// machine running hundreds of containers is memory nobody uses. A Trimmer is touched
// on each piece of work; once none has come for its delay it forces collections and
// returns the free pages (debug.FreeOSMemory). A busy process never pays for it; an
// idle one pays once per burst, a millisecond or two of CPU.
package idletrim

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// Trimmer runs a trim once Touch has not been called for its delay.
type Trimmer struct {
	delay time.Duration
	trim  func()

	mu sync.Mutex
	t  *time.Timer
}

// New returns a Trimmer that frees memory delay after the last Touch.
func New(delay time.Duration) *Trimmer {
	return &Trimmer{delay: delay, trim: trim}
}

// trim collects twice, then returns the free pages: what sync.Pools hold survives one
// collection in their victim caches (the buffers of a pull or an import, megabytes),
// and only the second frees it.
func trim() {
	runtime.GC()
	debug.FreeOSMemory()
}

// Touch records work: the trim waits for delay from now.
func (t *Trimmer) Touch() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t == nil {
		t.t = time.AfterFunc(t.delay, t.trim)
		return
	}
	t.t.Reset(t.delay)
}

// Stop cancels a pending trim.
func (t *Trimmer) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t != nil {
		t.t.Stop()
	}
}
