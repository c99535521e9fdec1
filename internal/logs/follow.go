package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// Poll periods of a follower: without inotify, and as a safety net with it.
const (
	pollPeriod  = 200 * time.Millisecond
	checkPeriod = 2 * time.Second
)

// follow reads s from its snapshot end on, as it grows. At the end of what is
// there it checks, in this order:
//
//   - the current name now names another file: the writer rotated (it renames
//     the new file in before it closes the old one, so everything it wrote to
//     ours is there): read ours to its end and go on with its successor;
//   - no writer holds the file's live lock (and it is still current): the
//     writer closed it for good: read what is left and stop;
//   - otherwise wait for inotify (or a poll) and read again.
func (r *Reader) follow(ctx context.Context, s *segment, opts ReadOptions, w *dirWatch, yield func(Message) bool) error {
	f, id, attrs := s.f, s.id, s.attrs
	defer func() { f.Close() }()
	fr := newFwdReader(&offsetReader{r: f, off: s.end}, s.end)

	period := checkPeriod
	if r.poll > 0 {
		period = r.poll
	} else if w == nil {
		period = pollPeriod
	}
	tick := time.NewTicker(period)
	defer tick.Stop()
	var until <-chan time.Time
	if !opts.Until.IsZero() {
		t := time.NewTimer(time.Until(opts.Until))
		defer t.Stop()
		until = t.C
	}

	// wait returns true when there may be something new, false when the follow
	// is over (ctx is done: err says so; or Until passed).
	wait := func() (bool, error) {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-until:
			return false, nil
		case <-w.C():
		case <-tick.C:
		}
		return true, nil
	}
	var m Message
	// drain yields what is there now; false when the read is over.
	drain := func() (bool, error) {
		for i := 0; ; i++ {
			if i%256 == 0 && ctx.Err() != nil {
				return false, ctx.Err()
			}
			ok, err := fr.next(r.c, attrs, &m)
			if err != nil || !ok {
				return err == nil, err
			}
			more, ok := pass(&m, opts)
			if !more {
				return false, nil
			}
			if ok && !yield(m) {
				return false, nil
			}
		}
	}
	for {
		if more, err := drain(); err != nil || !more {
			return err
		}
		rotated, err := r.replaced(id)
		if err != nil {
			return err
		}
		if rotated {
			if more, err := drain(); err != nil || !more {
				return err
			}
			nf, nid, err := r.successor(id)
			if errors.Is(err, errMidRotation) {
				if more, err := wait(); !more {
					return err
				}
				continue
			}
			if err != nil || nf == nil {
				return err
			}
			f.Close()
			f, id = nf, nid
			fr = newFwdReader(&offsetReader{r: f}, 0)
			if attrs, err = fr.header(r.c); err != nil {
				return err
			}
			continue
		}
		if !writerAlive(f) {
			if rotated, err := r.replaced(id); err != nil || rotated {
				if err != nil {
					return err
				}
				continue
			}
			_, err := drain()
			return err
		}
		if more, err := wait(); !more {
			return err
		}
	}
}

// replaced reports whether the current name no longer names file id.
func (r *Reader) replaced(id fileID) (bool, error) {
	fi, err := os.Stat(r.path)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return idOf(fi) != id, nil
}

// successor opens the file written after file id: the one a rotation index
// below it, or the current one. If id is no longer found uncompressed (the
// reader fell more than a rotation behind and it was compressed, or max-file is
// 1), the current file is next, as in Docker. nil if there is no log any more.
func (r *Reader) successor(id fileID) (file, fileID, error) {
	for range 3 {
		found := 0 // id's index, 0 if not found
		for k, misses := 1, 0; misses < 2 && k < 1<<16; k++ {
			fi, err := os.Stat(r.rotated(k))
			if err != nil {
				misses++
				continue
			}
			misses = 0
			if idOf(fi) == id {
				found = k
				break
			}
		}
		next := r.path
		if found > 1 {
			next = r.rotated(found - 1)
		}
		f, err := r.open(next)
		if errors.Is(err, os.ErrNotExist) {
			if found == 0 {
				return nil, fileID{}, nil
			}
			continue // moved by a rotation meanwhile
		}
		if err != nil {
			return nil, fileID{}, fmt.Errorf("open next log file: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fileID{}, err
		}
		// Rotation moves higher indexes first: if our file is still where it was
		// found, the one below it had not moved yet when it was opened.
		if found == 0 {
			return f, idOf(fi), nil
		}
		if fi2, err := os.Stat(r.rotated(found)); err == nil && idOf(fi2) == id {
			return f, idOf(fi), nil
		}
		f.Close()
	}
	return nil, fileID{}, errMidRotation
}

// errMidRotation: the files are being renamed (the writer may be descheduled in
// the middle of a rotation); wait for the next event and look again.
var errMidRotation = errors.New("log files are being rotated")

func (r *Reader) rotated(k int) string { return r.path + "." + strconv.Itoa(k) }

var _ io.Reader = (*offsetReader)(nil)
