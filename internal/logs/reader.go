package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// ReadOptions select what Read returns, as `docker logs` flags do.
type ReadOptions struct {
	// Tail is the number of lines to return from the end of the log; < 0 means
	// all (Docker's "all"), 0 none (with Follow: only what comes next). A line
	// stored as several partial entries counts once.
	Tail int
	// Since and Until bound the messages' times (inclusive); zero means unbounded.
	// As in Docker, Tail is taken from the end of the log and then filtered.
	Since, Until time.Time
	// Follow keeps returning messages as they are written, across rotations,
	// until ctx is cancelled, Until passes, or the writer closes the log for good.
	Follow bool
}

// Reader reads one container's log. It may run in another process than the
// writer (berthd reads what the shim writes) and several may read at once.
type Reader struct {
	c    codec
	path string
	// open opens a log file; tests count the bytes read through it.
	open func(name string) (file, error)
	// poll, when set, makes followers poll at this period instead of using
	// inotify (tests; in use, polling is the fallback when inotify is out).
	poll time.Duration
	// snapped is called once a read has its snapshot (tests).
	snapped func()
}

// file is what a Reader needs of an open log file (*os.File).
type file interface {
	io.Reader
	io.ReaderAt
	io.Closer
	Stat() (os.FileInfo, error)
	SyscallConn() (syscall.RawConn, error)
}

// NewReader returns a reader of cfg's log. The none driver gives
// ErrReadNotSupported.
func NewReader(cfg Config) (*Reader, error) {
	c, err := codecFor(cfg.Driver)
	if err != nil {
		return nil, err
	}
	return &Reader{c: c, path: cfg.Path, open: openOS}, nil
}

func openOS(name string) (file, error) { return os.Open(name) }

// Read returns the messages opts select, oldest first. An error ends the
// sequence (after being yielded once with a zero Message). A log that does not
// exist yet reads as empty.
//
// Without Follow the result is a snapshot: messages written after Read started
// are not included. Costs: Tail n reads about the size of the last n lines from
// the end of the newest file (crossing into older files only as needed); Since
// walks backwards from the end to the first message at or after it; Until stops
// reading at the first message after it. A compressed rotated file can only be
// read forwards: it is skipped whole when its last time (in its gzip header) is
// before Since, and decompressed otherwise.
func (r *Reader) Read(ctx context.Context, opts ReadOptions) iter.Seq2[Message, error] {
	return func(yield func(Message, error) bool) {
		stopped := false
		y := func(m Message) bool {
			if !yield(m, nil) {
				stopped = true
				return false
			}
			return true
		}
		if err := r.read(ctx, opts, y); err != nil && !stopped {
			yield(Message{}, fmt.Errorf("read log %s: %w", r.path, err))
		}
	}
}

// segment is one file of a snapshot.
type segment struct {
	f     file
	name  string
	id    fileID
	gz    bool
	size  int64             // file size (compressed size for gz)
	data  int64             // offset of the first entry (uncompressed files)
	end   int64             // boundary the snapshot ends at (uncompressed files)
	attrs map[string]string // from the header (local)
	start int64             // first entry to return (uncompressed files)
	skip  int               // entries to skip (gz)
	use   bool              // the plan returns something of this file
}

func (r *Reader) read(ctx context.Context, opts ReadOptions, yield func(Message) bool) error {
	var w *dirWatch
	if opts.Follow && r.poll == 0 {
		// Watch before the snapshot so no write after it goes unnoticed.
		w = newDirWatch(filepath.Dir(r.path))
		defer w.Close()
	}
	segs, err := r.snapshot(ctx)
	defer func() {
		for _, s := range segs {
			if s.f != nil {
				s.f.Close()
			}
		}
	}()
	if r.snapped != nil {
		r.snapped()
	}
	if err != nil || len(segs) == 0 {
		return err
	}
	more, err := r.history(ctx, segs, opts, yield)
	if err != nil || !more || !opts.Follow {
		return err
	}
	if !opts.Until.IsZero() && !time.Now().Before(opts.Until) {
		return nil
	}
	cur := *segs[0]
	segs[0].f = nil // follow owns it now
	return r.follow(ctx, &cur, opts, w, yield)
}

// snapshot opens the current file and the rotated ones, newest first. Rotation
// renames files upwards one at a time, so scanning upwards can see a file twice
// (deduplicated by inode) but never miss one, and at most one index is vacant
// mid-rotation (two vacant indexes end the scan). If the current file was
// replaced meanwhile, the scan starts again.
func (r *Reader) snapshot(ctx context.Context) ([]*segment, error) {
	// Back off between attempts: the writer may be descheduled mid-rotation.
	for wait := 100 * time.Microsecond; wait < 2*time.Second; wait *= 2 {
		segs, again, err := r.scanFiles(ctx)
		if err != nil || !again {
			return segs, err
		}
		for _, s := range segs {
			s.f.Close()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil, errors.New("log files kept rotating while being opened")
}

func (r *Reader) scanFiles(ctx context.Context) (segs []*segment, again bool, err error) {
	defer func() {
		if err != nil {
			for _, s := range segs {
				s.f.Close()
			}
			segs = nil
		}
	}()
	cur, err := r.segment(ctx, r.path, false, true)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	segs = append(segs, cur)
	seen := map[fileID]bool{cur.id: true}
	for k, misses := 1, 0; misses < 2 && k < 1<<16; k++ {
		name := r.path + "." + strconv.Itoa(k)
		s, err := r.segment(ctx, name, false, false)
		if errors.Is(err, os.ErrNotExist) {
			s, err = r.segment(ctx, name+".gz", true, false)
		}
		if errors.Is(err, os.ErrNotExist) {
			misses++
			continue
		}
		if err != nil {
			return segs, false, err
		}
		misses = 0
		if seen[s.id] {
			s.f.Close()
			continue
		}
		seen[s.id] = true
		segs = append(segs, s)
	}
	// Start again if a file moved meanwhile: a rotation ran during the scan, and
	// a file seen uncompressed may have been seen again compressed.
	for _, s := range segs {
		if s.gz {
			continue
		}
		if fi, err := os.Stat(s.name); err != nil || idOf(fi) != s.id {
			return segs, true, nil
		}
	}
	return segs, false, nil
}

// segment opens one file and finds where its entries start and end.
func (r *Reader) segment(ctx context.Context, name string, gz, current bool) (*segment, error) {
	f, err := r.open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &segment{f: f, name: name, id: idOf(fi), gz: gz, size: fi.Size()}
	if gz {
		return s, nil
	}
	if current && !r.c.selfSyncing() {
		if s.size, err = committedSize(ctx, f); err != nil {
			f.Close()
			return nil, err
		}
	}
	err = func() error {
		fr := newFwdReader(io.NewSectionReader(f, 0, s.size), 0)
		fr.block = 4096 // headers are small
		if s.attrs, err = fr.header(r.c); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		s.data = fr.off
		if s.end, err = boundaryEnd(r.c, f, s.data, s.size); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}()
	if err != nil {
		f.Close()
		return nil, err
	}
	s.start = s.end
	return s, nil
}

// tailState decides, walking backwards, which entries a read returns.
type tailState struct {
	need  int // lines wanted; < 0 all
	lines int
	any   bool
	since time.Time
}

// takeLine counts an entry; false once the entry belongs to a line beyond need.
// An entry ends a line when it is complete, or when it is the last of the log.
func (ts *tailState) takeLine(lineEnd bool) bool {
	if ts.need >= 0 && (lineEnd || !ts.any) {
		if ts.lines == ts.need {
			return false
		}
		ts.lines++
	}
	ts.any = true
	return true
}

func (ts *tailState) take(t time.Time, lineEnd bool) bool {
	if !ts.since.IsZero() && t.Before(ts.since) {
		return false
	}
	return ts.takeLine(lineEnd)
}

// history returns the snapshot's messages; false when the read is over (Until
// passed or the consumer stopped).
func (r *Reader) history(ctx context.Context, segs []*segment, opts ReadOptions, yield func(Message) bool) (bool, error) {
	ts := &tailState{need: opts.Tail, since: opts.Since}
	if opts.Tail != 0 {
		for _, s := range segs {
			stop, err := r.plan(ctx, s, ts)
			if err != nil {
				return false, err
			}
			if stop {
				break
			}
		}
	}
	for i := len(segs) - 1; i >= 0; i-- {
		if !segs[i].use {
			continue
		}
		if more, err := r.emit(ctx, segs[i], opts, yield); err != nil || !more {
			return more, err
		}
	}
	return true, nil
}

// plan decides what of s a read returns; stop says older files return nothing.
func (r *Reader) plan(ctx context.Context, s *segment, ts *tailState) (stop bool, err error) {
	all := ts.need < 0 && ts.since.IsZero()
	if s.gz {
		return r.planGzip(ctx, s, ts, all)
	}
	if all {
		s.start, s.use = s.data, true
		return false, nil
	}
	bs := newBackScanner(s.f, s.data, s.end)
	var m Message
	for i := 0; ; i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return false, ctx.Err()
		}
		e, start, err := bs.prev(r.c)
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", s.name, err)
		}
		if _, err := r.c.next(e, s.attrs, &m); err != nil {
			return false, fmt.Errorf("%s at %d: %w", s.name, start, err)
		}
		if !ts.take(m.Time, !m.Partial()) {
			return true, nil
		}
		s.start, s.use = start, true
	}
}

func (r *Reader) openGzip(s *segment) (*gzip.Reader, *fwdReader, error) {
	zr, err := gzip.NewReader(io.NewSectionReader(s.f, 0, s.size))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.name, err)
	}
	fr := newFwdReader(zr, 0)
	if s.attrs, err = fr.header(r.c); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", s.name, err)
	}
	return zr, fr, nil
}

func (r *Reader) planGzip(ctx context.Context, s *segment, ts *tailState, all bool) (bool, error) {
	zr, fr, err := r.openGzip(s)
	if err != nil {
		return false, err
	}
	if !ts.since.IsZero() {
		var meta gzipMeta
		if json.Unmarshal(zr.Header.Extra, &meta) == nil && !meta.LastTime.IsZero() && meta.LastTime.Before(ts.since) {
			return true, nil
		}
	}
	s.use = true
	if all {
		return false, nil
	}
	// Forwards only: note which entries end lines, then count lines backwards.
	var ends []bool
	var first time.Time
	var m Message
	for {
		if len(ends)%1024 == 0 && ctx.Err() != nil {
			return false, ctx.Err()
		}
		ok, err := fr.next(r.c, s.attrs, &m)
		if err != nil {
			return false, fmt.Errorf("%s: %w", s.name, err)
		}
		if !ok {
			break
		}
		if len(ends) == 0 {
			first = m.Time
			if ts.need < 0 {
				break // Since only: the first time tells whether older files count
			}
		}
		ends = append(ends, !m.Partial())
	}
	stop := !ts.since.IsZero() && first.Before(ts.since)
	if ts.need < 0 {
		return stop, nil
	}
	for i := len(ends) - 1; i >= 0; i-- {
		if !ts.takeLine(ends[i]) {
			s.skip = i + 1
			s.use = s.skip < len(ends)
			return true, nil
		}
	}
	return stop, nil
}

// emit yields the planned messages of s.
func (r *Reader) emit(ctx context.Context, s *segment, opts ReadOptions, yield func(Message) bool) (bool, error) {
	var fr *fwdReader
	if s.gz {
		var err error
		if _, fr, err = r.openGzip(s); err != nil {
			return false, err
		}
	} else {
		fr = newFwdReader(io.NewSectionReader(s.f, s.start, s.end-s.start), s.start)
	}
	var m Message
	for i := 0; ; i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return false, ctx.Err()
		}
		ok, err := fr.next(r.c, s.attrs, &m)
		if err != nil {
			return false, fmt.Errorf("%s: %w", s.name, err)
		}
		if !ok {
			return true, nil
		}
		if i < s.skip {
			continue
		}
		if more, ok := pass(&m, opts); !ok {
			if !more {
				return false, nil
			}
			continue
		}
		if !yield(m) {
			return false, nil
		}
	}
}

// pass applies Since and Until: ok says m is returned, more that later ones may be.
func pass(m *Message, opts ReadOptions) (more, ok bool) {
	if !opts.Until.IsZero() && m.Time.After(opts.Until) {
		return false, false
	}
	if !opts.Since.IsZero() && m.Time.Before(opts.Since) {
		return true, false
	}
	return true, true
}
