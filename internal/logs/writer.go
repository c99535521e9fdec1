package logs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Writer stores a container's log messages. Implementations are safe for
// concurrent use (stdout and stderr are fed from two goroutines).
type Writer interface {
	// Log stores one message. A Line without a trailing "\n" is partial and the
	// next message of the stream continues it; a Line longer than MaxLineSize is
	// stored as several entries, as Docker splits it. An empty Line is ignored.
	// A zero Time means now; times are made non-decreasing (a message older than
	// the previous one gets the previous one's time), so readers can search by time.
	Log(m Message) error
	// Close flushes, waits for a background compression and releases the file;
	// followers then stop at the end of the log.
	Close() error
}

// BatchWriter is the optional ability to store several messages with one write(2).
// LineWriter uses it when its Writer has it.
type BatchWriter interface {
	LogBatch(msgs []Message) error
}

// EntryWriter is the optional ability to take entries one at a time and store
// them when told: WriteLog encodes an entry into the pending batch (line is not
// kept after the call; partial unless it ends in "\n"), Flush stores the batch
// with one write(2). A caller that reads the program's output in chunks (the
// shim) calls Flush after each chunk. Close flushes.
type EntryWriter interface {
	WriteLog(stream string, line []byte, t time.Time) error
	Flush() error
}

// OpenWriter opens cfg's log for appending, creating it and its directory if
// needed. attrs are recorded with every message (logattrs.Attrs computes them
// from the log options); nil for none. One writer at a time: a second OpenWriter of the same
// file fails while the first is open (in any process).
//
// Opening repairs what a crash of a previous writer can leave: a torn last entry
// is cut off, and a rotation interrupted between its two renames is completed.
func OpenWriter(cfg Config, attrs map[string]string) (Writer, error) {
	o, err := ParseOptions(cfg.Driver, cfg.Opts)
	if err != nil {
		return nil, err
	}
	if cfg.Driver == None {
		return nopWriter{}, nil
	}
	c, err := codecFor(cfg.Driver)
	if err != nil {
		return nil, err
	}
	return openFileWriter(cfg.Path, c, o, attrs)
}

type nopWriter struct{}

func (nopWriter) Log(Message) error                        { return nil }
func (nopWriter) LogBatch([]Message) error                 { return nil }
func (nopWriter) WriteLog(string, []byte, time.Time) error { return nil }
func (nopWriter) Flush() error                             { return nil }
func (nopWriter) Close() error                             { return nil }

// fileWriter appends entries to path and rotates it:
//
//	path.tmp  <- new empty file, header written, live-locked
//	path.N-1  removed; path.k -> path.k+1 for k = N-2..1 (and the .gz names)
//	path      hard-linked as path.1          (path still names the old file)
//	path.tmp  renamed over path              (atomic: path always names a file)
//	old file  closed (its live lock goes with it); path.1 compressed in background
//
// so a reader never finds the current name missing, and one holding the old file
// reads it to its end and then moves to the new one.
type fileWriter struct {
	mu     sync.Mutex
	path   string
	c      codec
	o      Options
	hdr    []byte
	enc    entryEncoder
	f      *os.File
	size   int64 // bytes in f, a boundary
	last   time.Time
	buf    []byte
	closed bool

	compressing chan struct{} // closed when the background compression ends
	compressErr error
}

const flushAt = 1 << 20 // a batch is written out once it holds this many bytes

func openFileWriter(path string, c codec, o Options, attrs map[string]string) (*fileWriter, error) {
	hdr, enc, err := c.encoder(attrs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	w := &fileWriter{path: path, c: c, o: o, hdr: hdr, enc: enc}
	for range 3 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
		if err == nil {
			if err := lockLive(f); err != nil {
				f.Close()
				return nil, err
			}
			w.f = f
			if err := w.recover(); err != nil {
				w.f.Close()
				return nil, fmt.Errorf("log %s: %w", path, err)
			}
			return w, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open log: %w", err)
		}
		// A new log appears with its header already written, so readers never
		// see a file without one. Link fails if another writer was quicker.
		tmp, err := w.newFile()
		if err != nil {
			return nil, err
		}
		err = os.Link(tmp.Name(), path)
		os.Remove(tmp.Name())
		if err == nil {
			w.f = tmp
			return w, nil
		}
		tmp.Close()
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create log: %w", err)
		}
	}
	return nil, fmt.Errorf("log %s: created and removed concurrently", path)
}

// newFile creates path.tmp, live-locked, with the header written.
func (w *fileWriter) newFile() (*os.File, error) {
	tmp := w.path + ".tmp"
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	if err := lockLive(nf); err != nil {
		nf.Close()
		return nil, err
	}
	if err := w.writeHeader(nf); err != nil {
		nf.Close()
		os.Remove(tmp)
		return nil, err
	}
	return nf, nil
}

// recover brings the files to a state a rotation leaves, after any crash.
func (w *fileWriter) recover() error {
	os.Remove(w.path + ".tmp")
	fi, err := w.f.Stat()
	if err != nil {
		return err
	}
	if fi1, err := os.Stat(w.path + ".1"); err == nil && idOf(fi1) == idOf(fi) {
		// Crashed between link and rename: finish the rotation.
		if err := w.replaceCurrent(); err != nil {
			return err
		}
	} else if err := w.repairTail(fi.Size()); err != nil {
		return err
	}
	if w.o.Compress && w.o.MaxFiles >= 2 {
		os.Remove(w.path + ".1.gz.tmp")
		if _, err := os.Stat(w.path + ".1"); err == nil {
			w.startCompress(w.last)
		}
	}
	return nil
}

// repairTail checks the header, cuts a torn last entry off and learns the last
// entry's time.
func (w *fileWriter) repairTail(size int64) error {
	if size == 0 {
		if len(w.hdr) > 0 {
			return w.replaceCurrent()
		}
		return nil
	}
	head := make([]byte, min(size, localMaxHeader))
	if _, err := w.f.ReadAt(head, 0); err != nil {
		return err
	}
	hl, _, err := w.c.readHeader(head, true)
	if err != nil {
		if size < int64(len(w.hdr)) && bytes.HasPrefix(w.hdr, head) {
			// A header cut short by a crash: start over.
			return w.replaceCurrent()
		}
		return err
	}
	end, err := boundaryEnd(w.c, w.f, int64(hl), size)
	if err != nil {
		return err
	}
	if end < size {
		if err := w.f.Truncate(end); err != nil {
			return fmt.Errorf("cut torn entry: %w", err)
		}
	}
	w.size = end
	// The last entry's time keeps times non-decreasing across writers.
	bs := newBackScanner(w.f, int64(hl), end)
	if e, _, err := bs.prev(w.c); err == nil {
		var m Message
		if _, err := w.c.next(e, nil, &m); err == nil {
			w.last = m.Time
		}
	} else if err != io.EOF {
		return err
	}
	return nil
}

func (w *fileWriter) writeHeader(f *os.File) error {
	if len(w.hdr) > 0 {
		if _, err := f.Write(w.hdr); err != nil {
			return fmt.Errorf("write log header: %w", err)
		}
	}
	w.size = int64(len(w.hdr))
	return nil
}

func (w *fileWriter) Log(m Message) error {
	return w.LogBatch([]Message{m})
}

func (w *fileWriter) LogBatch(msgs []Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("log writer is closed")
	}
	for i := range msgs {
		if err := w.add(&msgs[i]); err != nil {
			return errors.Join(err, w.flush()) // keep the messages before it
		}
	}
	return w.flush()
}

func (w *fileWriter) WriteLog(stream string, line []byte, t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("log writer is closed")
	}
	return w.add(&Message{Stream: stream, Line: line, Time: t})
}

func (w *fileWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flush()
}

func (w *fileWriter) add(m *Message) error {
	if len(m.Line) == 0 {
		return nil
	}
	if m.Stream != Stdout && m.Stream != Stderr {
		return fmt.Errorf("log stream %q: want %s or %s", m.Stream, Stdout, Stderr)
	}
	t := m.Time
	if t.IsZero() {
		t = time.Now()
	}
	if t.Before(w.last) {
		t = w.last
	}
	w.last = t
	content, partial := m.Line, true
	if content[len(content)-1] == '\n' {
		content, partial = content[:len(content)-1], false
	}
	for len(content) > MaxLineSize {
		if err := w.entry(m.Stream, content[:MaxLineSize], true, t); err != nil {
			return err
		}
		content = content[MaxLineSize:]
	}
	return w.entry(m.Stream, content, partial, t)
}

func (w *fileWriter) entry(stream string, line []byte, partial bool, t time.Time) error {
	pending := w.size + int64(len(w.buf))
	if w.o.MaxSize > 0 && pending >= w.o.MaxSize && pending > int64(len(w.hdr)) {
		if err := w.flush(); err != nil {
			return err
		}
		if err := w.rotate(); err != nil {
			return fmt.Errorf("rotate log %s: %w", w.path, err)
		}
	}
	var err error
	if w.buf, err = w.enc(w.buf, stream, line, partial, t); err != nil {
		return err
	}
	if len(w.buf) >= flushAt {
		return w.flush()
	}
	return nil
}

// flush writes the batch with one write(2) (O_APPEND: whole entries, never
// interleaved with another write). A failed write is cut off again so the file
// ends on a boundary.
func (w *fileWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if !w.c.selfSyncing() {
		if err := lockCommit(w.f); err != nil {
			return fmt.Errorf("lock log %s: %w", w.path, err)
		}
		defer unlockCommit(w.f)
	}
	n, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		if n > 0 {
			w.f.Truncate(w.size)
		}
		return fmt.Errorf("write log %s: %w", w.path, err)
	}
	w.size += int64(n)
	return nil
}

func (w *fileWriter) rotate() error {
	if w.compressing != nil {
		<-w.compressing // one compression at a time, as Docker
		w.compressing = nil
	}
	if w.o.MaxFiles >= 2 {
		if err := w.shift(); err != nil {
			return err
		}
		if err := os.Link(w.path, w.path+".1"); err != nil {
			return fmt.Errorf("keep rotated log: %w", err)
		}
	}
	if err := w.replaceCurrent(); err != nil {
		if w.o.MaxFiles >= 2 {
			os.Remove(w.path + ".1") // keep writing to the old file
		}
		return err
	}
	if w.o.Compress && w.o.MaxFiles >= 2 {
		w.startCompress(w.last)
	}
	return nil
}

// shift makes room for path.1: the oldest file goes, the others move up one.
func (w *fileWriter) shift() error {
	n := w.o.MaxFiles
	for _, ext := range []string{"", ".gz"} {
		if err := os.Remove(w.rotated(n-1) + ext); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove oldest log: %w", err)
		}
	}
	for k := n - 2; k >= 1; k-- {
		for _, ext := range []string{"", ".gz"} {
			err := os.Rename(w.rotated(k)+ext, w.rotated(k+1)+ext)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("shift rotated log: %w", err)
			}
		}
	}
	// A crash may have left both names of one index.
	if err := os.Remove(w.path + ".1"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (w *fileWriter) rotated(k int) string { return w.path + "." + strconv.Itoa(k) }

// replaceCurrent puts a new empty file (header written, live-locked) at path and
// closes the old one.
func (w *fileWriter) replaceCurrent() error {
	nf, err := w.newFile()
	if err != nil {
		return err
	}
	if err := os.Rename(nf.Name(), w.path); err != nil {
		nf.Close()
		os.Remove(nf.Name())
		return fmt.Errorf("replace log: %w", err)
	}
	old := w.f
	w.f = nf
	return old.Close()
}

// gzipMeta is the JSON Docker puts in a compressed log's gzip header (Extra):
// the time of its last entry, so a reader with --since can skip the file.
type gzipMeta struct {
	LastTime time.Time `json:"lastTime,omitempty"`
}

func (w *fileWriter) startCompress(last time.Time) {
	done := make(chan struct{})
	w.compressing = done
	src := w.path + ".1"
	go func() {
		defer close(done)
		if err := compressFile(src, last); err != nil {
			w.compressErr = errors.Join(w.compressErr, err)
		}
	}()
}

// compressFile writes src.gz (fsync'ed, renamed into place) and then removes src,
// so a reader always finds one complete copy: it opens src first.
func compressFile(src string, last time.Time) (err error) {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compress log: %w", err)
	}
	defer in.Close()
	tmp := src + ".gz.tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("compress log: %w", err)
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
			err = fmt.Errorf("compress log %s: %w", src, err)
		}
	}()
	zw := gzip.NewWriter(out)
	if zw.Header.Extra, err = json.Marshal(gzipMeta{LastTime: last}); err != nil {
		return err
	}
	if _, err = io.Copy(zw, in); err != nil {
		return err
	}
	if err = zw.Close(); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, src+".gz"); err != nil {
		return err
	}
	return os.Remove(src)
}

func (w *fileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	ferr := w.flush()
	if w.compressing != nil {
		<-w.compressing
	}
	return errors.Join(ferr, w.f.Close(), w.compressErr)
}
