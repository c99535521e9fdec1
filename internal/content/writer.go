package content

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-engine/berth/internal/atomicfile"
	"github.com/berth-engine/berth/internal/writeback"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ingestRecord is ref.json in an ingest directory.
type ingestRecord struct {
	Ref      string        `json:"ref"`
	Expected digest.Digest `json:"expected,omitempty"`
	Size     int64         `json:"size,omitempty"`
	Started  time.Time     `json:"started"`
}

const (
	recordFile = "ref.json"
	dataFile   = "data"
)

func (s *Store) ingestDir(ref string) string {
	return filepath.Join(s.root, "ingest", digest.FromString(ref).Encoded())
}

// Writer opens the ingest ref, resuming the bytes an earlier Writer with the
// same expectations left there.
func (s *Store) Writer(ctx context.Context, ref string, expected ocispec.Descriptor) (Writer, error) {
	if ref == "" {
		return nil, fmt.Errorf("content writer: empty ref: %w", errdefs.ErrInvalidArgument)
	}
	alg := digest.Canonical
	if expected.Digest != "" {
		p, err := s.blobPath(expected.Digest)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("content %s: %w", expected.Digest, errdefs.ErrAlreadyExists)
		}
		alg = expected.Digest.Algorithm()
	}
	size := max(expected.Size, 0)
	dir := s.ingestDir(ref)
	lock, err := lockIngest(dir, true)
	if err != nil {
		return nil, fmt.Errorf("content writer %q: %w", ref, err)
	}
	w := &writer{
		s:    s,
		dir:  dir,
		lock: lock,
		rec:  ingestRecord{Ref: ref, Expected: expected.Digest, Size: size, Started: time.Now().UTC()},
		alg:  alg,
	}
	if err := w.open(); err != nil {
		w.closeFiles()
		return nil, fmt.Errorf("content writer %q: %w", ref, err)
	}
	return w, nil
}

type writer struct {
	s    *Store
	dir  string
	lock *os.File // the ingest directory, flocked
	data *os.File
	rec  ingestRecord
	alg  digest.Algorithm
	dg   digest.Digester
	off  int64
	done bool
	// wb starts the disk writing what Write appended, so Commit's fsync is short.
	wb *writeback.Tracker
}

// open resumes the ingest's data if it was written with the same
// expectations, or starts it afresh.
func (w *writer) open() error {
	dataPath := filepath.Join(w.dir, dataFile)
	var old ingestRecord
	if b, err := os.ReadFile(filepath.Join(w.dir, recordFile)); err == nil && json.Unmarshal(b, &old) == nil &&
		old.Ref == w.rec.Ref && old.Expected == w.rec.Expected && old.Size == w.rec.Size {
		f, err := os.OpenFile(dataPath, os.O_RDWR, 0)
		if err == nil {
			w.data = f
			dg, n, err := hashFile(f, w.alg, -1)
			if err != nil {
				return err
			}
			if w.rec.Size == 0 || n <= w.rec.Size {
				w.rec.Started = old.Started
				w.dg, w.off = dg, n
				_, err = f.Seek(n, io.SeekStart)
				return err
			}
			// More bytes than expected: this data cannot become the blob.
			f.Close()
			w.data = nil
		}
	}
	b, err := json.Marshal(w.rec)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteVolatile(filepath.Join(w.dir, recordFile), b, 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(dataPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w.data = f
	w.dg = w.alg.Digester()
	return nil
}

// hashFile digests the first n bytes of f (all of it if n < 0) with alg and
// returns the digester and the number of bytes read.
func hashFile(f *os.File, alg digest.Algorithm, n int64) (digest.Digester, int64, error) {
	dg := alg.Digester()
	var r io.Reader = io.NewSectionReader(f, 0, 1<<62)
	if n >= 0 {
		r = io.NewSectionReader(f, 0, n)
	}
	got, err := io.Copy(dg.Hash(), r)
	if err != nil {
		return nil, 0, fmt.Errorf("read ingest data: %w", err)
	}
	if n >= 0 && got != n {
		return nil, 0, fmt.Errorf("read ingest data: %d bytes, expected %d", got, n)
	}
	return dg, got, nil
}

var errWriterDone = fmt.Errorf("content writer already committed or closed: %w", errdefs.ErrFailedPrecondition)

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, errWriterDone
	}
	if w.rec.Size > 0 && w.off+int64(len(p)) > w.rec.Size {
		return 0, fmt.Errorf("content writer %q: more than the expected %d bytes: %w",
			w.rec.Ref, w.rec.Size, errdefs.ErrFailedPrecondition)
	}
	if w.wb == nil {
		w.wb = writeback.New(w.data.Fd(), w.off)
	}
	n, err := w.data.Write(p)
	w.dg.Hash().Write(p[:n])
	w.off += int64(n)
	w.wb.Wrote(n)
	return n, err
}

func (w *writer) Digest() digest.Digest { return w.dg.Digest() }

func (w *writer) Offset() int64 { return w.off }

func (w *writer) Truncate(size int64) error {
	if w.done {
		return errWriterDone
	}
	if size < 0 || size > w.off {
		return fmt.Errorf("truncate content writer %q to %d of %d bytes: %w",
			w.rec.Ref, size, w.off, errdefs.ErrInvalidArgument)
	}
	if err := w.data.Truncate(size); err != nil {
		return err
	}
	if _, err := w.data.Seek(size, io.SeekStart); err != nil {
		return err
	}
	dg, _, err := hashFile(w.data, w.alg, size)
	if err != nil {
		return err
	}
	w.dg, w.off, w.wb = dg, size, nil
	return nil
}

func (w *writer) Commit(ctx context.Context, size int64, expected digest.Digest) error {
	if w.done {
		return errWriterDone
	}
	if size <= 0 {
		size = w.rec.Size
	}
	if expected == "" {
		expected = w.rec.Expected
	}
	if expected != "" {
		if err := validate(expected); err != nil {
			return fmt.Errorf("commit %q: %w", w.rec.Ref, err)
		}
	}
	if size > 0 && size != w.off {
		w.discard()
		return fmt.Errorf("commit %q: size mismatch: expected %d bytes, got %d: %w",
			w.rec.Ref, size, w.off, errdefs.ErrFailedPrecondition)
	}
	actual := w.dg.Digest()
	if expected != "" && expected.Algorithm() != w.alg {
		dg, _, err := hashFile(w.data, expected.Algorithm(), w.off)
		if err != nil {
			return fmt.Errorf("commit %q: %w", w.rec.Ref, err)
		}
		actual = dg.Digest()
	}
	if expected != "" && actual != expected {
		w.discard()
		return fmt.Errorf("commit %q: digest mismatch: expected %s, got %s: %w",
			w.rec.Ref, expected, actual, errdefs.ErrFailedPrecondition)
	}
	target, err := w.s.blobPath(actual)
	if err != nil {
		return err
	}
	if err := w.data.Chmod(0o444); err != nil {
		return fmt.Errorf("commit %q: %w", w.rec.Ref, err)
	}
	if err := w.data.Sync(); err != nil {
		return fmt.Errorf("commit %q: %w", w.rec.Ref, err)
	}
	blobDir := filepath.Dir(target)
	if err := os.MkdirAll(blobDir, 0o700); err != nil {
		return fmt.Errorf("commit %q: %w", w.rec.Ref, err)
	}
	err = renameNoReplace(filepath.Join(w.dir, dataFile), target)
	if errors.Is(err, fs.ErrExist) {
		w.discard()
		return fmt.Errorf("content %s: %w", actual, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return fmt.Errorf("commit %q: %w", w.rec.Ref, err)
	}
	if err := syncDir(blobDir); err != nil {
		return fmt.Errorf("commit %q: %w", w.rec.Ref, err)
	}
	w.discard()
	return nil
}

func (w *writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	return w.closeFiles()
}

func (w *writer) closeFiles() error {
	var err error
	if w.data != nil {
		err = w.data.Close()
	}
	return errors.Join(err, w.lock.Close())
}

// discard removes the ingest (while still holding its lock) and ends the writer.
func (w *writer) discard() {
	w.done = true
	if w.data != nil {
		w.data.Close()
		w.data = nil
	}
	os.RemoveAll(w.dir)
	w.lock.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ListIngests describes every ingest in the store, held by a Writer or not.
func (s *Store) ListIngests(ctx context.Context) ([]Status, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "ingest"))
	if err != nil {
		return nil, fmt.Errorf("list ingests: %w", err)
	}
	var out []Status
	for _, e := range entries {
		st, ok := readStatus(filepath.Join(s.root, "ingest", e.Name()))
		if ok {
			out = append(out, st)
		}
	}
	return out, nil
}

// readStatus reads the status of the ingest in dir; false if dir holds no
// readable record (an ingest being created or removed).
func readStatus(dir string) (Status, bool) {
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return Status{}, false
	}
	var rec ingestRecord
	if json.Unmarshal(b, &rec) != nil {
		return Status{}, false
	}
	st := Status{Ref: rec.Ref, Total: rec.Size, Expected: rec.Expected, StartedAt: rec.Started, UpdatedAt: rec.Started}
	if fi, err := os.Stat(filepath.Join(dir, dataFile)); err == nil {
		st.Offset, st.UpdatedAt = fi.Size(), fi.ModTime()
	}
	return st, true
}

// Abort removes the ingest ref.
func (s *Store) Abort(ctx context.Context, ref string) error {
	dir := s.ingestDir(ref)
	lock, err := lockIngest(dir, false)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ingest %q: %w", ref, errdefs.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("abort ingest %q: %w", ref, err)
	}
	defer lock.Close()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("abort ingest %q: %w", ref, err)
	}
	return nil
}
