package content

import (
	"context"
	_ "crypto/sha256" // register the digest algorithms go-digest names
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// DefaultIngestExpiry is how long an ingest may sit untouched before Prune
// removes it.
const DefaultIngestExpiry = 24 * time.Hour

// algorithms are the digest algorithms the store accepts, each with its
// directory under blobs/.
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512}

// Store is the blob store in a directory. It implements Provider, Ingester,
// Manager and IngestManager; several Stores (in one process or several) may
// share a directory.
type Store struct {
	root         string
	ingestExpiry time.Duration
}

// Option configures a Store.
type Option func(*Store)

// WithIngestExpiry sets how long an ingest may sit untouched before Prune
// removes it (DefaultIngestExpiry if not set).
func WithIngestExpiry(d time.Duration) Option {
	return func(s *Store) { s.ingestExpiry = d }
}

// Open opens the store in root, creating its directories if needed.
func Open(root string, opts ...Option) (*Store, error) {
	s := &Store{root: root, ingestExpiry: DefaultIngestExpiry}
	for _, o := range opts {
		o(s)
	}
	for _, dir := range []string{filepath.Join(root, "blobs"), filepath.Join(root, "ingest")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("content store: %w", err)
		}
	}
	return s, nil
}

var (
	_ Provider      = (*Store)(nil)
	_ Ingester      = (*Store)(nil)
	_ Manager       = (*Store)(nil)
	_ IngestManager = (*Store)(nil)
)

// blobPath returns where the blob dgst lives, after checking that dgst is
// well formed (so it cannot name a path outside the store).
func (s *Store) blobPath(dgst digest.Digest) (string, error) {
	if err := validate(dgst); err != nil {
		return "", err
	}
	return filepath.Join(s.root, "blobs", string(dgst.Algorithm()), dgst.Encoded()), nil
}

func validate(dgst digest.Digest) error {
	if err := dgst.Validate(); err != nil {
		return fmt.Errorf("digest %q: %v: %w", dgst, err, errdefs.ErrInvalidArgument)
	}
	for _, a := range algorithms {
		if dgst.Algorithm() == a {
			return nil
		}
	}
	return fmt.Errorf("digest %q: unsupported algorithm: %w", dgst, errdefs.ErrInvalidArgument)
}

func notFound(dgst digest.Digest, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("content %s: %w", dgst, errdefs.ErrNotFound)
	}
	return fmt.Errorf("content %s: %w", dgst, err)
}

// Info describes the blob dgst.
func (s *Store) Info(ctx context.Context, dgst digest.Digest) (Info, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return Info{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, notFound(dgst, err)
	}
	return Info{Digest: dgst, Size: st.Size(), CreatedAt: st.ModTime()}, nil
}

type fileReaderAt struct {
	*os.File
	size int64
}

func (r fileReaderAt) Size() int64 { return r.size }

// ReaderAt opens the blob dgst for random access.
func (s *Store) ReaderAt(ctx context.Context, dgst digest.Digest) (ReaderAt, error) {
	f, err := s.open(dgst)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("content %s: %w", dgst, err)
	}
	return fileReaderAt{File: f, size: st.Size()}, nil
}

// Reader opens the blob dgst for reading; the result is an *os.File.
func (s *Store) Reader(ctx context.Context, dgst digest.Digest) (io.ReadCloser, error) {
	return s.open(dgst)
}

func (s *Store) open(dgst digest.Digest) (*os.File, error) {
	p, err := s.blobPath(dgst)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(dgst, err)
	}
	return f, nil
}

// Delete removes the blob dgst. Readers that have it open keep reading it.
func (s *Store) Delete(ctx context.Context, dgst digest.Digest) error {
	p, err := s.blobPath(dgst)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return notFound(dgst, err)
	}
	return nil
}

// Walk calls fn for every committed blob.
func (s *Store) Walk(ctx context.Context, fn func(Info) error) error {
	for _, alg := range algorithms {
		dir := filepath.Join(s.root, "blobs", string(alg))
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("walk content: %w", err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			dgst := digest.NewDigestFromEncoded(alg, e.Name())
			if dgst.Validate() != nil || !e.Type().IsRegular() {
				continue // not a blob: leave it alone
			}
			st, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted while walking
			}
			if err != nil {
				return fmt.Errorf("walk content: %w", err)
			}
			if err := fn(Info{Digest: dgst, Size: st.Size(), CreatedAt: st.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}
