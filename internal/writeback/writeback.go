// Package writeback starts the kernel writing a file's new data to disk while
// more is still being written, so that the fsync or syncfs that makes it
// durable at the end finds little left to do. Pulling an image writes its
// layers twice (the blob and the unpacked files) and must make both durable:
// issued as it goes, that disk work overlaps the download and the
// decompression instead of following them.
package writeback

// chunk is how much new data a Tracker lets pile up before it asks for it to
// be written: large enough for efficient I/O, small enough to start early.
const chunk = 8 << 20

// Tracker follows the data appended to one open file.
type Tracker struct {
	fd      int
	written int64 // bytes appended so far
	started int64 // bytes already handed to writeback
}

// New tracks the file open at fd, whose data so far (offset) needs no help.
func New(fd uintptr, offset int64) *Tracker {
	return &Tracker{fd: int(fd), written: offset, started: offset}
}

// Wrote records n more bytes appended, and starts writing back the oldest ones
// once a chunk has gathered. It never blocks on the disk and ignores failures:
// durability comes from the final sync, this only makes it cheaper.
func (t *Tracker) Wrote(n int) {
	if t == nil {
		return
	}
	t.written += int64(n)
	if t.written-t.started >= chunk {
		startWriteback(t.fd, t.started, t.written-t.started)
		t.started = t.written
	}
}
