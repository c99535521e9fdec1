package content

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// WriteBlob stores the bytes r yields as the blob desc, through the ingest ref.
// An ingest left by an earlier attempt is resumed when r can seek (r is read
// from the ingest's offset) and restarted otherwise. A blob already stored is
// success. On a failed copy the ingest is kept for the next attempt.
func WriteBlob(ctx context.Context, ing Ingester, ref string, r io.Reader, desc ocispec.Descriptor) error {
	w, err := ing.Writer(ctx, ref, desc)
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer w.Close()
	if off := w.Offset(); off > 0 {
		seeker, ok := r.(io.Seeker)
		if ok {
			_, err = seeker.Seek(off, io.SeekStart)
		}
		if !ok || err != nil {
			if err := w.Truncate(0); err != nil {
				return err
			}
		}
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("write blob %s: %w", desc.Digest, err)
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// ReadBlob reads the whole blob dgst; for manifests, indexes and configs.
func ReadBlob(ctx context.Context, p Provider, dgst digest.Digest) ([]byte, error) {
	ra, err := p.ReaderAt(ctx, dgst)
	if err != nil {
		return nil, err
	}
	defer ra.Close()
	b := make([]byte, ra.Size())
	if n, err := ra.ReadAt(b, 0); n != len(b) {
		return nil, fmt.Errorf("read content %s: %w", dgst, err)
	}
	return b, nil
}
