package distribution

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MaxManifestSize bounds the manifests berth reads (4 MiB, as the distribution
// registry and dockerd do), so that a hostile registry cannot exhaust memory.
const MaxManifestSize = 4 << 20

// TagOrDigest returns the part of ref that selects a manifest: its digest when it has
// one (a tag beside a digest is ignored, as Docker does), else its tag, else "latest".
func TagOrDigest(ref reference.Named) string {
	if c, ok := ref.(reference.Canonical); ok {
		return c.Digest().String()
	}
	if t, ok := ref.(reference.Tagged); ok {
		return t.Tag()
	}
	return "latest"
}

// Resolve finds the manifest that tagOrDigest ("latest", "sha256:...") names and
// returns its descriptor: media type (an OCI or Docker index or manifest), digest and
// size. It asks with HEAD, as dockerd does (registries do not count HEADs against pull
// limits), and falls back to GET when the registry's answer lacks the digest or the
// type. A digest the registry reports must equal a requested digest. Schema 1 manifests
// are refused. Mirrors of docker.io are tried first.
//
// Errors read as dockerd's: "manifest for busybox:nosuch not found: manifest unknown:
// ..." and "pull access denied for nosuch, repository does not exist or may require
// 'docker login': ..." (both class NotFound).
func (r *Repository) Resolve(ctx context.Context, tagOrDigest string) (ocispec.Descriptor, error) {
	want, isDigest := parseDigest(tagOrDigest)
	var desc ocispec.Descriptor
	err := r.try(ctx, r.pull, &r.pullPref, func(ep endpoint) error {
		d, err := r.resolveAt(ctx, ep, tagOrDigest, want, isDigest)
		desc = d
		return err
	})
	if err != nil {
		return ocispec.Descriptor{}, r.pullError(tagOrDigest, err)
	}
	return desc, nil
}

func parseDigest(s string) (digest.Digest, bool) {
	d, err := digest.Parse(s)
	return d, err == nil
}

func (r *Repository) manifestPath(ref string) string {
	return "/v2/" + r.path + "/manifests/" + ref
}

func (r *Repository) resolveAt(ctx context.Context, ep endpoint, ref string, want digest.Digest, isDigest bool) (ocispec.Descriptor, error) {
	resp, err := r.send(ctx, ep, request{
		method:     http.MethodHead,
		path:       r.manifestPath(ref),
		header:     http.Header{"Accept": {manifestAccept}},
		scopes:     r.pullScope(),
		idempotent: true,
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented ||
		resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest:
		// No HEAD, or a refusal without a body to explain it: GET tells more.
		return r.getManifest(ctx, ep, ref, want, isDigest, -1, "")
	default:
		return ocispec.Descriptor{}, newError(resp)
	}
	mt := contentType(resp.Header.Get("Content-Type"))
	if isSchema1(mt) {
		return ocispec.Descriptor{}, errSchema1
	}
	var got digest.Digest
	if h := resp.Header.Get("Docker-Content-Digest"); h != "" {
		if got, err = digest.Parse(h); err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("registry sent a bad Docker-Content-Digest %q: %w", h, errdefs.ErrInvalidArgument)
		}
		if isDigest && got != want {
			return ocispec.Descriptor{}, &VerifyError{Digest: want, Actual: got, Size: -1}
		}
	}
	if isDigest {
		got = want
	}
	size := resp.ContentLength
	if got == "" || size < 0 || !(IsIndex(mt) || IsManifest(mt)) {
		return r.getManifest(ctx, ep, ref, want, isDigest, -1, "")
	}
	if size > MaxManifestSize {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s is %d bytes, more than the %d berth reads: %w", got, size, MaxManifestSize, errdefs.ErrInvalidArgument)
	}
	return ocispec.Descriptor{MediaType: mt, Digest: got, Size: size}, nil
}

// errSchema1 is wrapped with the reference by pullError.
var errSchema1 = errors.New("schema1")

// getManifest GETs a manifest, verifies it (against want when the reference is a
// digest, else against the registry's Docker-Content-Digest) and keeps its body so that
// FetchManifest does not fetch it again. size, when known, must match.
func (r *Repository) getManifest(ctx context.Context, ep endpoint, ref string, want digest.Digest, isDigest bool, size int64, wantType string) (ocispec.Descriptor, error) {
	accept := manifestAccept
	if wantType != "" && wantType != ocispec.MediaTypeImageIndex && wantType != ocispec.MediaTypeImageManifest &&
		wantType != MediaTypeDockerManifestList && wantType != MediaTypeDockerManifest {
		accept = wantType + ", " + accept
	}
	resp, err := r.send(ctx, ep, request{
		method:     http.MethodGet,
		path:       r.manifestPath(ref),
		header:     http.Header{"Accept": {accept}},
		scopes:     r.pullScope(),
		idempotent: true,
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return ocispec.Descriptor{}, newError(resp)
	}
	defer resp.Body.Close()
	limit := int64(MaxManifestSize)
	if size >= 0 && size < limit {
		limit = size
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("read manifest %s: %w", ref, err)
	}
	if int64(len(body)) > limit {
		if size >= 0 {
			return ocispec.Descriptor{}, &VerifyError{Digest: want, Size: size, GotSize: int64(len(body))}
		}
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s is more than the %d bytes berth reads: %w", ref, MaxManifestSize, errdefs.ErrInvalidArgument)
	}
	if size >= 0 && int64(len(body)) != size {
		return ocispec.Descriptor{}, &VerifyError{Digest: want, Size: size, GotSize: int64(len(body))}
	}
	mt := contentType(resp.Header.Get("Content-Type"))
	if genericType(mt) {
		mt = DetectManifestType(body)
	}
	if isSchema1(mt) || isSchema1(DetectManifestType(body)) {
		return ocispec.Descriptor{}, errSchema1
	}
	// The digest the content must have: the one asked for, else the registry's.
	check := want
	if !isDigest {
		if h := resp.Header.Get("Docker-Content-Digest"); h != "" {
			if check, err = digest.Parse(h); err != nil {
				return ocispec.Descriptor{}, fmt.Errorf("registry sent a bad Docker-Content-Digest %q: %w", h, errdefs.ErrInvalidArgument)
			}
		}
	}
	var got digest.Digest
	if check != "" {
		if !check.Algorithm().Available() {
			return ocispec.Descriptor{}, fmt.Errorf("digest %s: unsupported algorithm: %w", check, errdefs.ErrNotImplemented)
		}
		got = check.Algorithm().FromBytes(body)
		if got != check {
			return ocispec.Descriptor{}, &VerifyError{Digest: check, Actual: got, Size: int64(len(body)), GotSize: int64(len(body))}
		}
	} else {
		got = digest.FromBytes(body)
	}
	if !(IsIndex(mt) || IsManifest(mt)) && mt != wantType {
		return ocispec.Descriptor{}, fmt.Errorf("manifest %s has media type %q, which berth cannot use: %w", ref, mt, errdefs.ErrNotImplemented)
	}
	r.mu.Lock()
	if len(r.manifests) > 64 {
		clear(r.manifests)
	}
	r.manifests[got] = cachedManifest{mediaType: mt, content: body}
	r.mu.Unlock()
	return ocispec.Descriptor{MediaType: mt, Digest: got, Size: int64(len(body))}, nil
}

// FetchManifest returns the content of the manifest or index desc describes (from
// Resolve, or an entry of an index), verified against desc's digest and size.
func (r *Repository) FetchManifest(ctx context.Context, desc ocispec.Descriptor) ([]byte, error) {
	if err := desc.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("fetch manifest: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	r.mu.Lock()
	m, ok := r.manifests[desc.Digest]
	r.mu.Unlock()
	if ok && (desc.Size <= 0 || int64(len(m.content)) == desc.Size) {
		return m.content, nil
	}
	size := desc.Size
	if size <= 0 {
		size = -1
	}
	err := r.try(ctx, r.pull, &r.pullPref, func(ep endpoint) error {
		_, err := r.getManifest(ctx, ep, desc.Digest.String(), desc.Digest, true, size, desc.MediaType)
		return err
	})
	if err != nil {
		return nil, r.pullError(desc.Digest.String(), err)
	}
	r.mu.Lock()
	m = r.manifests[desc.Digest]
	r.mu.Unlock()
	return m.content, nil
}

// pullError words a failed manifest pull as dockerd does.
func (r *Repository) pullError(ref string, err error) error {
	familiar := reference.FamiliarName(r.name)
	if _, isDigest := parseDigest(ref); isDigest {
		familiar += "@" + ref
	} else {
		familiar += ":" + ref
	}
	if errors.Is(err, errSchema1) {
		return fmt.Errorf("%s is a schema1 manifest, which berth does not support; push it again with a newer docker: %w",
			familiar, errdefs.ErrNotImplemented)
	}
	var e *Error
	if errors.As(err, &e) {
		switch {
		case e.Has("MANIFEST_UNKNOWN") || e.Status == http.StatusNotFound && len(e.Errors) == 0:
			return fmt.Errorf("manifest for %s not found: %w", familiar, err)
		case e.Has("DENIED") || e.Has("NAME_UNKNOWN"):
			e.class = errdefs.ErrNotFound
			return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %w",
				reference.FamiliarName(r.name), err)
		case e.Status == http.StatusUnauthorized:
			return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login': %w",
				reference.FamiliarName(r.name), err)
		}
	}
	return fmt.Errorf("%s: %w", familiar, err)
}
