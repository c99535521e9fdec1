package distribution

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// PushResult says how a blob came to be in the registry.
type PushResult int

const (
	// Uploaded: the content was sent.
	Uploaded PushResult = iota
	// Existed: the repository already had the blob; nothing was sent.
	Existed
	// Mounted: the registry linked the blob from another repository; nothing was sent.
	Mounted
)

func (p PushResult) String() string {
	switch p {
	case Uploaded:
		return "uploaded"
	case Existed:
		return "exists"
	case Mounted:
		return "mounted"
	}
	return "PushResult(" + strconv.Itoa(int(p)) + ")"
}

// PushOptions tune PushBlob.
type PushOptions struct {
	// MountFrom names repositories of the same registry ("library/alpine") known to
	// hold the blob, typically those it was pulled from. The registry is asked to
	// mount the blob from each in turn before any upload; refusals are not errors.
	MountFrom []string
	// Progress hears the bytes sent.
	Progress ProgressFunc
}

// PushBlob makes the blob desc describes present in the repository, reading it from
// content (desc.Size bytes from offset 0), in the cheapest way the registry allows:
//
//  1. HEAD: the repository has it already (Existed);
//  2. POST ?mount=<digest>&from=<repo> for each of opts.MountFrom (Mounted);
//  3. POST to start an upload, then one PUT ?digest=<digest> with the content, or, for
//     blobs larger than Config.ChunkSize, PATCH chunks with Content-Range and a final
//     empty PUT (Uploaded).
//
// A transfer that fails transiently starts again with a fresh upload (bounded retries).
// PushBlob holds one of the client's MaxConcurrentUploads slots while it works.
func (r *Repository) PushBlob(ctx context.Context, desc ocispec.Descriptor, content io.ReaderAt, opts PushOptions) (PushResult, error) {
	if err := desc.Digest.Validate(); err != nil {
		return 0, fmt.Errorf("push blob: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	if desc.Size < 0 {
		return 0, fmt.Errorf("push blob %s: unknown size: %w", desc.Digest, errdefs.ErrInvalidArgument)
	}
	if err := acquire(ctx, r.c.uploads); err != nil {
		return 0, err
	}
	defer func() { <-r.c.uploads }()
	var result PushResult
	err := r.try(ctx, r.push, &r.pushPref, func(ep endpoint) error {
		var err error
		result, err = r.pushBlobAt(ctx, ep, desc, content, opts)
		return err
	})
	if err != nil {
		return 0, r.errorf(err, "push blob %s", desc.Digest)
	}
	return result, nil
}

func (r *Repository) blobPath(d digest.Digest) string {
	return "/v2/" + r.path + "/blobs/" + d.String()
}
func (r *Repository) uploadPath() string { return "/v2/" + r.path + "/blobs/uploads/" }

func (r *Repository) pushBlobAt(ctx context.Context, ep endpoint, desc ocispec.Descriptor, content io.ReaderAt, opts PushOptions) (PushResult, error) {
	done := func() {
		if opts.Progress != nil {
			opts.Progress(desc.Size, desc.Size)
		}
	}
	resp, err := r.send(ctx, ep, request{
		method: http.MethodHead, path: r.blobPath(desc.Digest), scopes: r.pushScope(), idempotent: true,
	})
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		done()
		return Existed, nil
	case http.StatusNotFound:
	default:
		return 0, newError(resp)
	}

	var loc *url.URL
	var sources []string
	for _, from := range opts.MountFrom {
		if from != "" && from != r.path {
			sources = append(sources, from)
		}
	}
	for i, from := range sources {
		mounted, l, err := r.mount(ctx, ep, desc.Digest, from)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			continue // a refused mount is only a missed shortcut
		}
		if mounted {
			done()
			return Mounted, nil
		}
		// The registry started an upload instead: keep it after the last source, give
		// it up to try the next.
		if i == len(sources)-1 {
			loc = l
		} else {
			r.cancelUpload(ctx, ep, l)
		}
	}

	for attempt := 0; ; attempt++ {
		if loc == nil {
			if loc, err = r.startUpload(ctx, ep); err != nil {
				return 0, err
			}
		}
		err = r.upload(ctx, ep, loc, desc, content, opts.Progress)
		if err == nil {
			return Uploaded, nil
		}
		loc = nil
		var e *Error
		transient := errors.As(err, &e) && retryableStatus(e.Status) || !errors.As(err, &e) && retryableTransport(err)
		if ctx.Err() != nil || !transient || attempt >= r.c.cfg.MaxRetries {
			return 0, err
		}
		if werr := r.c.backoff(ctx, attempt+1, 0); werr != nil {
			return 0, werr
		}
	}
}

// mount asks the registry to link d from the repository from. It reports whether the
// blob is now present; if not, the registry may have started an upload instead (loc).
func (r *Repository) mount(ctx context.Context, ep endpoint, d digest.Digest, from string) (bool, *url.URL, error) {
	u := ep.base.JoinPath(r.uploadPath())
	u.RawQuery = url.Values{"mount": {d.String()}, "from": {from}}.Encode()
	resp, err := r.send(ctx, ep, request{
		method: http.MethodPost, url: u, body: emptyBody, length: 0,
		scopes: append(r.pushScope(), "repository:"+from+":pull"),
	})
	if err != nil {
		return false, nil, err
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		drain(resp)
		return true, nil, nil
	case http.StatusAccepted:
		drain(resp)
		loc, err := location(resp)
		return false, loc, err
	}
	return false, nil, newError(resp)
}

// cancelUpload abandons an upload session; failures are ignored (sessions expire).
func (r *Repository) cancelUpload(ctx context.Context, ep endpoint, loc *url.URL) {
	resp, err := r.send(ctx, ep, request{method: http.MethodDelete, url: loc, scopes: r.pushScope()})
	if err == nil {
		drain(resp)
	}
}

// emptyBody is the body of requests that carry none but must say Content-Length: 0.
func emptyBody() (io.ReadCloser, error) { return http.NoBody, nil }

// startUpload opens an upload session and returns where to send the content.
func (r *Repository) startUpload(ctx context.Context, ep endpoint) (*url.URL, error) {
	u := ep.base.JoinPath(r.uploadPath())
	resp, err := r.send(ctx, ep, request{
		method: http.MethodPost, url: u, body: emptyBody, length: 0, scopes: r.pushScope(),
	})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return nil, newError(resp)
	}
	drain(resp)
	return location(resp)
}

// location resolves a reply's Location header against the request's URL.
func location(resp *http.Response) (*url.URL, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return nil, fmt.Errorf("registry started an upload without a Location: %w", errdefs.ErrUnknown)
	}
	u, err := resp.Request.URL.Parse(l)
	if err != nil {
		return nil, fmt.Errorf("registry sent a bad upload Location %q: %w", l, errdefs.ErrUnknown)
	}
	return u, nil
}

// upload sends the content to an upload session and commits it under desc.Digest.
func (r *Repository) upload(ctx context.Context, ep endpoint, loc *url.URL, desc ocispec.Descriptor, content io.ReaderAt, progress ProgressFunc) error {
	section := func(off, n int64) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) {
			return io.NopCloser(&countingReader{r: io.NewSectionReader(content, off, n), base: off, total: desc.Size, progress: progress}), nil
		}
	}
	put := request{method: http.MethodPut, scopes: r.pushScope(), body: section(0, desc.Size), length: desc.Size,
		header: http.Header{"Content-Type": {"application/octet-stream"}}}
	if chunk := r.c.cfg.ChunkSize; chunk > 0 && desc.Size > chunk {
		for off := int64(0); off < desc.Size; off += chunk {
			n := min(chunk, desc.Size-off)
			resp, err := r.send(ctx, ep, request{
				method: http.MethodPatch, url: loc, scopes: r.pushScope(), body: section(off, n), length: n,
				header: http.Header{
					"Content-Type":  {"application/octet-stream"},
					"Content-Range": {fmt.Sprintf("%d-%d", off, off+n-1)},
				},
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
		}
		put.body, put.length = emptyBody, 0
	}
	put.url = withDigest(loc, desc.Digest)
	return r.commitUpload(ctx, ep, put, desc)
}

// withDigest is an upload location with the digest its content must have, for
// the PUT that ends the upload.
func withDigest(loc *url.URL, d digest.Digest) *url.URL {
	u := *loc
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	return &u
}

// commitUpload sends the PUT that ends an upload and checks that the registry
// stored the blob desc describes.
func (r *Repository) commitUpload(ctx context.Context, ep endpoint, put request, desc ocispec.Descriptor) error {
	resp, err := r.send(ctx, ep, put)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusNoContent {
		return newError(resp)
	}
	drain(resp)
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != desc.Digest.String() {
		return &VerifyError{Digest: desc.Digest, Actual: digest.Digest(h), Size: desc.Size, GotSize: desc.Size}
	}
	return nil
}

// countingReader reports the progress of an upload.
type countingReader struct {
	r        io.Reader
	base     int64
	n        int64
	total    int64
	progress ProgressFunc
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 && c.progress != nil {
		c.progress(c.base+c.n, c.total)
	}
	return n, err
}

// PushManifest stores content, the manifest or index desc describes, under ref: a tag
// ("v1") or its digest. It is sent with desc.MediaType as Content-Type, as registries
// require. Every blob and child manifest it names must be pushed first.
func (r *Repository) PushManifest(ctx context.Context, ref string, desc ocispec.Descriptor, content []byte) error {
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("push manifest: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	if got := desc.Digest.Algorithm().FromBytes(content); got != desc.Digest || int64(len(content)) != desc.Size {
		return r.errorf(&VerifyError{Digest: desc.Digest, Actual: got, Size: desc.Size, GotSize: int64(len(content))}, "push manifest")
	}
	if desc.MediaType == "" {
		return fmt.Errorf("push manifest %s: no media type: %w", desc.Digest, errdefs.ErrInvalidArgument)
	}
	err := r.try(ctx, r.push, &r.pushPref, func(ep endpoint) error {
		resp, err := r.send(ctx, ep, request{
			method: http.MethodPut,
			path:   r.manifestPath(ref),
			header: http.Header{"Content-Type": {desc.MediaType}},
			body: func() (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(content)), nil
			},
			length:     int64(len(content)),
			scopes:     r.pushScope(),
			idempotent: true, // the same PUT again stores the same manifest
		})
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
			return newError(resp)
		}
		drain(resp)
		if h := resp.Header.Get("Docker-Content-Digest"); h != "" && h != desc.Digest.String() {
			return &VerifyError{Digest: desc.Digest, Actual: digest.Digest(h), Size: desc.Size, GotSize: desc.Size}
		}
		return nil
	})
	if err != nil {
		return r.errorf(err, "push manifest %s as %s", desc.Digest, ref)
	}
	return nil
}
