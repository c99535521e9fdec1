// Package content is berth's content-addressed blob store: manifests, image
// configs and compressed layers, each stored once under its digest.
//
// # The model
//
// A blob is named by the digest of its bytes, so a name can never point at the
// wrong content and a blob, once stored, never changes. Bytes arrive through an
// ingest: a caller picks a ref (any string that names the download, such as
// "pull-<digest>"), opens a Writer for it with the descriptor it expects, writes,
// and commits. Commit checks the size and the digest of what was written against
// what was expected; only then does the blob appear under its digest, all at
// once, by an atomic rename. A reader therefore sees a blob whole or not at all.
//
// An ingest outlives its Writer: closing a Writer (or the process dying) keeps
// the bytes written so far, and the next Writer opened with the same ref and the
// same expected descriptor continues after them — Offset tells where — so an
// interrupted pull resumes instead of starting over. One ref has at most one
// Writer at a time; two downloads of the same blob under different refs may race
// and the second commit reports errdefs.ErrAlreadyExists, which callers treat as
// success.
//
// # On disk
//
//	<root>/
//	  blobs/
//	    sha256/<hex>          committed blob, mode 0444, never rewritten
//	    sha512/<hex>          (sha384 likewise)
//	  ingest/
//	    <sha256 of ref>/      one in-progress write; flock(2) on this directory
//	      ref.json            {"ref", "expected", "size", "started"}
//	      data                the bytes written so far
//
// The lock on an ingest directory is held by the open Writer's file descriptor,
// so the kernel drops it when the process dies and a restarted daemon can resume
// or remove the ingest. Prune removes blobs nobody keeps and ingests left alone
// for longer than the store's expiry.
//
// # Errors
//
// Errors carry containerd/errdefs classes, wrapped with the digest or ref:
// ErrNotFound (no such blob or ingest), ErrAlreadyExists (the blob is already
// stored), ErrFailedPrecondition (size or digest differ from what was expected),
// ErrUnavailable (the ref is being written by another Writer) and
// ErrInvalidArgument (a malformed digest or an empty ref).
package content

import (
	"context"
	"io"
	"time"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Info describes a committed blob.
type Info struct {
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time // when the blob was committed
}

// ReaderAt reads a committed blob at any offset.
type ReaderAt interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Provider reads committed blobs.
type Provider interface {
	// Info describes the blob dgst.
	Info(ctx context.Context, dgst digest.Digest) (Info, error)
	// ReaderAt opens the blob dgst for random access.
	ReaderAt(ctx context.Context, dgst digest.Digest) (ReaderAt, error)
	// Reader opens the blob dgst for reading from the start. Store returns an
	// *os.File, so copying it to a socket can use sendfile(2).
	Reader(ctx context.Context, dgst digest.Digest) (io.ReadCloser, error)
}

// Ingester starts or resumes writing a blob.
type Ingester interface {
	// Writer opens the ingest ref. expected.Digest and expected.Size, when set
	// (Size > 0), are what Commit will check; an empty digest means the caller
	// learns it only at Commit. If expected.Digest is already stored, Writer
	// returns ErrAlreadyExists. If the ref holds bytes from an earlier Writer
	// with the same expectations, the new Writer continues after them.
	Writer(ctx context.Context, ref string, expected ocispec.Descriptor) (Writer, error)
}

// Writer writes one blob. It is not safe for concurrent use.
type Writer interface {
	// Write appends to the blob. Writing past the expected size fails with
	// ErrFailedPrecondition.
	io.Writer
	// Close releases the ref and keeps the bytes written for a later Writer.
	// After Commit it does nothing.
	io.Closer
	// Digest is the digest of the bytes written so far.
	Digest() digest.Digest
	// Offset is the number of bytes written so far, including those a resumed
	// ingest started with.
	Offset() int64
	// Truncate discards the bytes after size (0 to start over).
	Truncate(size int64) error
	// Commit verifies the blob and moves it into the store. size (when > 0) and
	// expected (when not empty) override what was given to Ingester.Writer. On
	// a mismatch the ingest is removed and the error wraps
	// ErrFailedPrecondition; if the blob is already stored the error wraps
	// ErrAlreadyExists and the ingest is removed too.
	Commit(ctx context.Context, size int64, expected digest.Digest) error
}

// Manager inspects and removes committed blobs.
type Manager interface {
	Info(ctx context.Context, dgst digest.Digest) (Info, error)
	// Delete removes the blob dgst; ErrNotFound if it is not stored.
	Delete(ctx context.Context, dgst digest.Digest) error
	// Walk calls fn for every committed blob, in no particular order, and stops
	// at the first error fn returns, which Walk returns.
	Walk(ctx context.Context, fn func(Info) error) error
}

// Status describes an ingest in progress (or abandoned).
type Status struct {
	Ref       string
	Offset    int64         // bytes written so far
	Total     int64         // the expected size, 0 if unknown
	Expected  digest.Digest // the expected digest, empty if unknown
	StartedAt time.Time
	UpdatedAt time.Time // the last write
}

// IngestManager lists and removes ingests.
type IngestManager interface {
	ListIngests(ctx context.Context) ([]Status, error)
	// Abort removes the ingest ref and its bytes; ErrNotFound if there is none,
	// ErrUnavailable if a Writer holds it.
	Abort(ctx context.Context, ref string) error
}
