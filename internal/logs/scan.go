package logs

import (
	"errors"
	"fmt"
	"io"
)

const (
	scanBlock    = 64 << 10  // bytes read at a time when walking backwards
	readBlock    = 256 << 10 // bytes read at a time when reading forwards
	maxEntrySize = 8 << 20   // an entry larger than this is corruption
)

// backScanner walks a file's entries backwards from a boundary, reading blocks
// from the end, so a tail costs what it returns, not the size of the file.
type backScanner struct {
	r      io.ReaderAt
	lo     int64  // offset of the file's first entry
	end    int64  // the next entry returned ends here
	buf    []byte // file bytes [bufOff, end)
	bufOff int64
}

func newBackScanner(r io.ReaderAt, lo, end int64) *backScanner {
	return &backScanner{r: r, lo: lo, end: end, bufOff: end}
}

// load makes at least n bytes before end available (all of them down to lo if
// fewer remain).
func (s *backScanner) load(n int64) error {
	have := s.end - s.bufOff
	if have >= n || s.bufOff == s.lo {
		return nil
	}
	start := max(s.lo, s.end-max(n, have+scanBlock))
	nb := make([]byte, s.end-start)
	copy(nb[s.bufOff-start:], s.buf[:have])
	if _, err := s.r.ReadAt(nb[:s.bufOff-start], start); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read log at %d: %w", start, err)
	}
	s.buf, s.bufOff = nb, start
	return nil
}

// prev returns the entry that ends at the current boundary and its offset, and
// moves the boundary before it; io.EOF at the first entry. The entry's bytes stay
// valid after later calls.
func (s *backScanner) prev(c codec) ([]byte, int64, error) {
	if s.end <= s.lo {
		return nil, 0, io.EOF
	}
	need := int64(16)
	for {
		if err := s.load(need); err != nil {
			return nil, 0, err
		}
		win := s.buf[:s.end-s.bufOff]
		atStart := s.bufOff == s.lo
		n, err := c.lastLen(win, atStart)
		if err != nil {
			return nil, 0, fmt.Errorf("log entry ending at %d: %w", s.end, err)
		}
		if n >= 0 && n <= len(win) {
			s.end -= int64(n)
			return win[len(win)-n:], s.end, nil
		}
		if atStart || len(win) > maxEntrySize {
			return nil, 0, fmt.Errorf("log entry ending at %d: %w", s.end, errCorrupt)
		}
		need = max(int64(n), 2*int64(len(win)))
	}
}

// boundaryEnd returns the largest entry boundary at or before size: size itself
// unless the file ends in a torn write.
func boundaryEnd(c codec, r io.ReaderAt, lo, size int64) (int64, error) {
	if size <= lo {
		return lo, nil
	}
	s := newBackScanner(r, lo, size)
	if c.selfSyncing() {
		for need := int64(4096); ; need *= 2 {
			if err := s.load(need); err != nil {
				return 0, err
			}
			if n := c.lastBoundary(s.buf[:s.end-s.bufOff], s.bufOff == lo); n >= 0 {
				return s.bufOff + int64(n), nil
			}
		}
	}
	if _, _, err := s.prev(c); err == nil {
		return size, nil
	}
	// The last entry does not check out: find the end of the last whole entry
	// from the start (only after a writer crashed mid-write).
	fr := newFwdReader(io.NewSectionReader(r, lo, size-lo), lo)
	var m Message
	for {
		ok, err := fr.next(c, nil, &m)
		if err != nil || !ok {
			return fr.off, nil
		}
	}
}

// fwdReader decodes entries from a stream, keeping a torn tail buffered until the
// rest of it arrives (a follower reads a file while it grows).
type fwdReader struct {
	r          io.Reader
	off        int64 // stream offset of buf[start]
	buf        []byte
	start, end int
	eof        bool
	block      int // first read size
}

func newFwdReader(r io.Reader, off int64) *fwdReader {
	return &fwdReader{r: r, off: off, block: readBlock}
}

// fill reads more bytes; false when nothing more is available now.
func (fr *fwdReader) fill() (bool, error) {
	if fr.start > 0 {
		copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.end -= fr.start
		fr.start = 0
	}
	if fr.end == len(fr.buf) {
		if len(fr.buf) >= maxEntrySize {
			return false, fmt.Errorf("log entry at %d: longer than %d bytes: %w", fr.off, maxEntrySize, errCorrupt)
		}
		nb := make([]byte, max(fr.block, 2*len(fr.buf)))
		copy(nb, fr.buf[:fr.end])
		fr.buf = nb
	}
	n, err := fr.r.Read(fr.buf[fr.end:])
	fr.end += n
	fr.eof = errors.Is(err, io.EOF)
	if err != nil && !fr.eof {
		return false, fmt.Errorf("read log: %w", err)
	}
	return n > 0, nil
}

// header consumes the file header and returns its attrs.
func (fr *fwdReader) header(c codec) (map[string]string, error) {
	for {
		n, attrs, err := c.readHeader(fr.buf[fr.start:fr.end], fr.eof)
		if err != nil {
			return nil, err
		}
		if n >= 0 {
			fr.start += n
			fr.off += int64(n)
			return attrs, nil
		}
		more, err := fr.fill()
		if err != nil {
			return nil, err
		}
		if !more && !fr.eof {
			return nil, fmt.Errorf("log header: %w", io.ErrUnexpectedEOF)
		}
	}
}

// next decodes the next whole entry into m. ok is false when no whole entry is
// available now.
func (fr *fwdReader) next(c codec, attrs map[string]string, m *Message) (ok bool, err error) {
	for {
		if fr.end > fr.start {
			n, err := c.next(fr.buf[fr.start:fr.end], attrs, m)
			if err != nil {
				return false, fmt.Errorf("log entry at %d: %w", fr.off, err)
			}
			if n > 0 {
				fr.start += n
				fr.off += int64(n)
				return true, nil
			}
		}
		more, err := fr.fill()
		if err != nil || !more {
			return false, err
		}
	}
}

// offsetReader reads a file from an offset with ReadAt, so a follower can keep
// reading after EOF once the file grows.
type offsetReader struct {
	r   io.ReaderAt
	off int64
}

func (o *offsetReader) Read(p []byte) (int, error) {
	n, err := o.r.ReadAt(p, o.off)
	o.off += int64(n)
	if n > 0 && errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}
