package imagearchive

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/berth-engine/berth/internal/content"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Source reads blobs by digest; content.Store is one.
type Source interface {
	ReaderAt(ctx context.Context, dgst digest.Digest) (content.ReaderAt, error)
}

// Sink receives the blobs of an archive being read, and gives them back to be
// parsed once the whole archive has arrived.
type Sink interface {
	// Ingest stores the desc.Size bytes r yields as a blob and returns its
	// digest. When desc.Digest is set the bytes must match it, and a mismatch
	// fails with an error wrapping errdefs.ErrFailedPrecondition; when it is
	// empty the blob is stored under the sha256 of its bytes. A blob already
	// stored is success.
	Ingest(ctx context.Context, desc ocispec.Descriptor, r io.Reader) (digest.Digest, error)
	// Info tells whether (err == nil) the blob dgst is stored, and its size.
	Info(ctx context.Context, dgst digest.Digest) (content.Info, error)
	Source
}

// Image is one image found in an archive.
type Image struct {
	// Names are the image's references, normalized and fully qualified
	// ("docker.io/library/busybox:latest"); none for an unnamed image.
	Names []string
	// Target is what the names point at: a manifest, or an index of
	// manifests for several platforms. It is stored in the Sink.
	Target ocispec.Descriptor
	// Manifests are the manifests below Target that the archive holds:
	// Target itself when it is a manifest.
	Manifests []Manifest
}

// Manifest is one single-platform image manifest, with every blob it names
// stored in the Sink.
type Manifest struct {
	Descriptor ocispec.Descriptor // Platform is set (from the config when the index did not say)
	Config     ocispec.Descriptor
	Layers     []ocispec.Descriptor
}

// Named is an image to write: its names (references as a user types them or
// fully qualified) and its manifest (or, for WriteOCI, its index).
type Named struct {
	Names  []string
	Target ocispec.Descriptor
}

// Media types of Docker's image manifest schema 2, which registries and
// archives still carry beside OCI's.
const (
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	MediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
	MediaTypeDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	MediaTypeDockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

	mediaTypeSchema1       = "application/vnd.docker.distribution.manifest.v1+json"
	mediaTypeSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

	// AnnotationContainerdImageName names an index.json entry with a full
	// reference; containerd and Docker 25+ write it beside ref.name.
	AnnotationContainerdImageName = "io.containerd.image.name"
)

// formatError is a malformed archive: its message is the whole story, and it
// is an errdefs.ErrInvalidArgument.
type formatError struct{ msg string }

func (e *formatError) Error() string { return e.msg }
func (e *formatError) Unwrap() error { return errdefs.ErrInvalidArgument }

func invalid(format string, args ...any) error {
	return &formatError{msg: fmt.Sprintf(format, args...)}
}

// ContentStore is what NewContentSink needs of internal/content's Store.
type ContentStore interface {
	content.Ingester
	Info(ctx context.Context, dgst digest.Digest) (content.Info, error)
	ReaderAt(ctx context.Context, dgst digest.Digest) (content.ReaderAt, error)
}

// NewContentSink makes a Sink of a content store. Ingests of known digests use
// the ref "<prefix><digest>" (so a repeated load resumes nothing but races
// safely with a pull of the same blob); ingests of unknown digests use a
// random ref and are aborted when they fail.
func NewContentSink(cs ContentStore, prefix string) Sink {
	return &contentSink{cs: cs, prefix: prefix}
}

type contentSink struct {
	cs     ContentStore
	prefix string
}

func (s *contentSink) Info(ctx context.Context, dgst digest.Digest) (content.Info, error) {
	return s.cs.Info(ctx, dgst)
}

func (s *contentSink) ReaderAt(ctx context.Context, dgst digest.Digest) (content.ReaderAt, error) {
	return s.cs.ReaderAt(ctx, dgst)
}

func (s *contentSink) Ingest(ctx context.Context, desc ocispec.Descriptor, r io.Reader) (digest.Digest, error) {
	if desc.Digest != "" {
		return desc.Digest, content.WriteBlob(ctx, s.cs, s.prefix+desc.Digest.String(), r, desc)
	}
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	ref := s.prefix + "unknown-" + hex.EncodeToString(b[:])
	w, err := s.cs.Writer(ctx, ref, ocispec.Descriptor{Size: desc.Size})
	if err != nil {
		return "", err
	}
	dgst, err := s.write(ctx, w, r, desc.Size)
	if err != nil {
		w.Close()
		if m, ok := s.cs.(content.IngestManager); ok {
			_ = m.Abort(ctx, ref)
		}
		return "", err
	}
	return dgst, w.Close()
}

func (s *contentSink) write(ctx context.Context, w content.Writer, r io.Reader, size int64) (digest.Digest, error) {
	if _, err := io.Copy(w, r); err != nil {
		return "", err
	}
	dgst := w.Digest()
	if err := w.Commit(ctx, size, dgst); err != nil && !errors.Is(err, errdefs.ErrAlreadyExists) {
		return "", err
	}
	return dgst, nil
}
