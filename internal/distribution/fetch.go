package distribution

import (
	"context"
	_ "crypto/sha256" // the digest algorithms blobs are verified with
	_ "crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ProgressFunc hears how far a blob transfer has got: done bytes of total (-1 when
// unknown). It is called from the goroutine that reads or writes the blob, often (once
// per buffer), so it must be cheap; throttle rendering in the caller.
type ProgressFunc func(done, total int64)

// Fetch opens the blob desc describes for streaming: the caller can decompress a layer
// into a snapshot while it downloads.
//
// The returned reader verifies as it goes. It fails as soon as the blob runs longer
// than desc.Size, and at the end, instead of io.EOF, it returns a *VerifyError (class
// DataLoss) when the size or the digest is wrong: a caller that reads to io.EOF has
// read exactly the blob, and one that sees an error must discard what it wrote.
//
// A connection that drops mid-blob is resumed with an HTTP Range request from the byte
// where it stopped (bounded retries with backoff); a registry that ignores Range is
// read again from the start, skipping what was already delivered. Redirects to blob
// storage are followed.
//
// Fetch holds one of the client's MaxConcurrentDownloads slots from the moment the
// download starts until the reader reaches its end or is closed; it waits for a free
// slot (or ctx). To download several blobs at once, call Fetch from several goroutines;
// a goroutine must not hold one unread reader while it opens another.
func (r *Repository) Fetch(ctx context.Context, desc ocispec.Descriptor, progress ProgressFunc) (io.ReadCloser, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("fetch blob: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	if !desc.Digest.Algorithm().Available() {
		return nil, fmt.Errorf("fetch blob %s: unsupported digest algorithm: %w", desc.Digest, errdefs.ErrNotImplemented)
	}
	if err := acquire(ctx, r.c.downloads); err != nil {
		return nil, err
	}
	br := &blobReader{
		ctx:      ctx,
		r:        r,
		desc:     desc,
		size:     desc.Size,
		hash:     desc.Digest.Algorithm().Hash(),
		progress: progress,
	}
	br.releaseSlot = sync.OnceFunc(func() { <-r.c.downloads })
	err := r.try(ctx, r.pull, &r.pullPref, func(ep endpoint) error {
		body, err := br.open(ep, 0)
		if err != nil {
			return err
		}
		br.ep, br.body = ep, body
		return nil
	})
	if err != nil {
		br.releaseSlot()
		return nil, r.errorf(err, "fetch blob %s", desc.Digest)
	}
	return br, nil
}

// blobReader streams one blob, resuming and verifying (see Fetch).
type blobReader struct {
	ctx         context.Context
	r           *Repository
	desc        ocispec.Descriptor
	size        int64 // expected; negative when unknown
	ep          endpoint
	body        io.ReadCloser
	offset      int64 // bytes delivered and hashed
	hash        hash.Hash
	progress    ProgressFunc
	failures    int   // consecutive failed transfers
	sinceFail   int64 // bytes delivered since the last failure
	err         error // sticky: once failed or finished, always
	releaseSlot func()
}

// resetAfter is how much progress forgives earlier failures: a connection that keeps
// dropping still gets MaxRetries attempts per this many bytes, never endless ones.
const resetAfter = 1 << 20

func (b *blobReader) Read(p []byte) (int, error) {
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.body == nil {
			body, err := b.open(b.ep, b.offset)
			if err != nil {
				if b.retryable(err) {
					continue
				}
				return 0, b.fail(b.r.errorf(err, "fetch blob %s", b.desc.Digest))
			}
			b.body = body
		}
		n, err := b.body.Read(p)
		if n > 0 {
			if b.size >= 0 && b.offset+int64(n) > b.size {
				return 0, b.fail(b.r.errorf(&VerifyError{Digest: b.desc.Digest, Size: b.size, GotSize: b.offset + int64(n)}, "fetch blob"))
			}
			b.hash.Write(p[:n])
			b.offset += int64(n)
			b.sinceFail += int64(n)
			if b.progress != nil {
				b.progress(b.offset, b.size)
			}
		}
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && (b.size < 0 || b.offset == b.size):
			b.body.Close()
			b.body = nil
			if verr := b.verify(); verr != nil {
				return n, b.fail(b.r.errorf(verr, "fetch blob"))
			}
			b.finish(io.EOF)
			return n, io.EOF
		default:
			// A short body (io.EOF before size) or a broken connection: resume.
			b.body.Close()
			b.body = nil
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			if !b.retryable(err) {
				return n, b.fail(b.r.errorf(err, "fetch blob %s at byte %d", b.desc.Digest, b.offset))
			}
			if n > 0 {
				return n, nil
			}
		}
	}
}

// retryable counts a failure and waits before the next attempt; it reports false when
// the attempts are used up or the failure is not transient.
func (b *blobReader) retryable(err error) bool {
	if b.ctx.Err() != nil {
		return false
	}
	// A registry's reply (send has already retried 5xx and 429) and a verification
	// failure are final; a dropped or refused connection is worth another try.
	var ve *VerifyError
	var re *Error
	if errors.As(err, &ve) || errors.As(err, &re) {
		return false
	}
	if b.sinceFail >= resetAfter {
		b.failures = 0
	}
	b.sinceFail = 0
	b.failures++
	if b.failures > b.r.c.cfg.MaxRetries {
		return false
	}
	return b.r.c.backoff(b.ctx, b.failures, 0) == nil
}

// open GETs the blob from offset on.
func (b *blobReader) open(ep endpoint, offset int64) (io.ReadCloser, error) {
	h := http.Header{}
	if offset > 0 {
		if b.size >= 0 {
			h.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, b.size-1))
		} else {
			h.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		}
	}
	resp, err := b.r.send(b.ctx, ep, request{
		method:     http.MethodGet,
		path:       "/v2/" + b.r.path + "/blobs/" + b.desc.Digest.String(),
		header:     h,
		scopes:     b.r.pullScope(),
		idempotent: true,
	})
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if b.size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != b.size {
			resp.Body.Close()
			return nil, &VerifyError{Digest: b.desc.Digest, Size: b.size, GotSize: resp.ContentLength}
		}
		if offset > 0 {
			// The server ignored Range: skip what was already delivered.
			if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
				resp.Body.Close()
				return nil, err
			}
		}
		return resp.Body, nil
	case http.StatusPartialContent:
		if offset == 0 {
			return resp.Body, nil
		}
		start, ok := rangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			resp.Body.Close()
			return nil, fmt.Errorf("registry answered Range %d- with Content-Range %q: %w",
				offset, resp.Header.Get("Content-Range"), errdefs.ErrInvalidArgument)
		}
		return resp.Body, nil
	}
	return nil, newError(resp)
}

// rangeStart reads the first byte of a Content-Range header ("bytes 100-199/200").
func rangeStart(h string) (int64, bool) {
	s, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	s, _, ok = strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func (b *blobReader) verify() error {
	if b.size >= 0 && b.offset != b.size {
		return &VerifyError{Digest: b.desc.Digest, Size: b.size, GotSize: b.offset}
	}
	got := digest.NewDigestFromBytes(b.desc.Digest.Algorithm(), b.hash.Sum(nil))
	if got != b.desc.Digest {
		return &VerifyError{Digest: b.desc.Digest, Actual: got, Size: b.size, GotSize: b.offset}
	}
	return nil
}

// fail records err as the reader's final answer and frees the download slot.
func (b *blobReader) fail(err error) error {
	b.finish(err)
	return err
}

func (b *blobReader) finish(err error) {
	b.err = err
	if b.body != nil {
		b.body.Close()
		b.body = nil
	}
	b.releaseSlot()
}

// Close stops the download and frees its slot.
func (b *blobReader) Close() error {
	if b.err == nil {
		b.finish(errors.New("read after close"))
	}
	return nil
}
