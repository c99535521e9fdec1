package distribution

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// errStreamConsumed ends a second attempt to send a stream that can be read only
// once.
var errStreamConsumed = errors.New("the blob stream was already sent once and cannot be read again")

// PushBlobStream uploads a blob whose digest and size are known only at its end,
// such as a layer compressed while it is sent: one upload session, the whole
// content in one streamed PATCH, then a PUT naming the digest computed on the way.
// It returns the blob's descriptor (without media type).
//
// content is read once, so nothing is retried: on any failure the caller, which
// can produce the blob again, falls back to PushBlob. There is no existence check
// either: the digest is not known until the content has been sent. PushBlobStream
// holds one of the client's MaxConcurrentUploads slots while it works.
func (r *Repository) PushBlobStream(ctx context.Context, content io.Reader) (ocispec.Descriptor, error) {
	if err := acquire(ctx, r.c.uploads); err != nil {
		return ocispec.Descriptor{}, err
	}
	defer func() { <-r.c.uploads }()
	s := &hashingStream{r: content, h: digest.Canonical.Digester()}
	var desc ocispec.Descriptor
	err := r.try(ctx, r.push, &r.pushPref, func(ep endpoint) error {
		loc, err := r.startUpload(ctx, ep)
		if err != nil {
			return err
		}
		resp, err := r.send(ctx, ep, request{
			method: http.MethodPatch, url: loc, scopes: r.pushScope(), body: s.open, length: -1,
			header: http.Header{"Content-Type": {"application/octet-stream"}},
		})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
			return newError(resp)
		}
		drain(resp)
		if loc, err = location(resp); err != nil {
			return err
		}
		desc = ocispec.Descriptor{Digest: s.h.Digest(), Size: s.n}
		return r.commitUpload(ctx, ep, request{method: http.MethodPut, url: withDigest(loc, desc.Digest), body: emptyBody, length: 0, scopes: r.pushScope()}, desc)
	})
	if err != nil {
		return ocispec.Descriptor{}, r.errorf(err, "push blob stream")
	}
	return desc, nil
}

// hashingStream is a request body that can be opened once; it digests and counts
// what is read through it.
type hashingStream struct {
	mu     sync.Mutex
	opened bool
	r      io.Reader
	h      digest.Digester
	n      int64
}

func (s *hashingStream) open() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opened {
		return nil, fmt.Errorf("push blob: %w", errStreamConsumed)
	}
	s.opened = true
	return io.NopCloser(s), nil
}

func (s *hashingStream) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.h.Hash().Write(p[:n])
		s.n += int64(n)
	}
	return n, err
}
