package logs

import (
	"os"

	"golang.org/x/sys/unix"
)

// dirWatch wakes a follower when anything happens in the log's directory: a write
// (IN_MODIFY), a writer closing its file (IN_CLOSE_WRITE), a rotation (renames,
// creation, deletion). Events are only hints: the follower re-reads and re-checks.
type dirWatch struct {
	f  *os.File
	ch chan struct{}
}

const watchMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO

// newDirWatch returns nil when inotify is not available (no instances left:
// fs.inotify.max_user_instances); the follower then polls.
func newDirWatch(dir string) *dirWatch {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, dir, watchMask); err != nil {
		unix.Close(fd)
		return nil
	}
	// A non-blocking fd goes to Go's poller: Read parks the goroutine and Close
	// wakes it.
	w := &dirWatch{f: os.NewFile(uintptr(fd), "inotify"), ch: make(chan struct{}, 1)}
	go w.loop()
	return w
}

func (w *dirWatch) loop() {
	buf := make([]byte, 4096)
	for {
		if _, err := w.f.Read(buf); err != nil {
			return
		}
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

// C receives a value after events; nil (never ready) for a nil watch.
func (w *dirWatch) C() <-chan struct{} {
	if w == nil {
		return nil
	}
	return w.ch
}

func (w *dirWatch) Close() {
	if w != nil {
		w.f.Close()
	}
}
