package distribution

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berth-engine/berth/internal/distribution/auth"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
)

// Repository is one repository of one registry ("docker.io/library/busybox"), opened
// with one login. Its methods pull and push manifests and blobs.
type Repository struct {
	c      *Client
	name   reference.Named // normalised, without tag or digest
	domain string          // "docker.io"
	path   string          // "library/busybox"
	creds  auth.Credentials

	pull     []endpoint   // mirrors first, then the registry
	push     []endpoint   // the registry only
	pullPref atomic.Int32 // index in pull of the endpoint that served last
	pushPref atomic.Int32 // index in push of the endpoint that served last

	mu        sync.Mutex
	manifests map[digest.Digest]cachedManifest // bodies read by Resolve's GET
}

type cachedManifest struct {
	mediaType string
	content   []byte
}

// endpoint is one base URL that serves a repository.
type endpoint struct {
	base *url.URL // scheme://host
	// mirror: when an operation fails here for any reason, the next endpoint is tried.
	// Otherwise only a failure to talk HTTP at all moves on (HTTPS to plain HTTP for an
	// insecure registry).
	mirror bool
}

// Repository opens the repository name (normalised, as reference.ParseNormalizedNamed
// returns it; a tag or digest on it is ignored) with creds, or with the Client's
// Credentials when creds is nil.
func (c *Client) Repository(ctx context.Context, name reference.Named, creds auth.Credentials) (*Repository, error) {
	if name == nil {
		return nil, errors.New("repository: no name")
	}
	if creds == nil {
		creds = c.cfg.Credentials
	}
	name = reference.TrimNamed(name)
	r := &Repository{
		c:         c,
		name:      name,
		domain:    reference.Domain(name),
		path:      reference.Path(name),
		creds:     creds,
		manifests: map[digest.Digest]cachedManifest{},
	}
	r.push = c.registryEndpoints(ctx, r.domain)
	if r.domain == "docker.io" {
		for _, m := range c.mirrors {
			r.pull = append(r.pull, endpoint{base: m, mirror: true})
		}
	}
	r.pull = append(r.pull, r.push...)
	return r, nil
}

// Name returns the repository's normalised name.
func (r *Repository) Name() reference.Named { return r.name }

// registryEndpoints lists where the registry domain answers: HTTPS, and for an insecure
// registry plain HTTP after it.
func (c *Client) registryEndpoints(ctx context.Context, domain string) []endpoint {
	host := domain
	if domain == "docker.io" || domain == "index.docker.io" {
		host = "registry-1.docker.io"
	}
	eps := []endpoint{{base: &url.URL{Scheme: "https", Host: host}}}
	if c.insecure(ctx, domain) {
		eps = append(eps, endpoint{base: &url.URL{Scheme: "http", Host: host}})
	}
	return eps
}

// pullScope and pushScope are the token scopes of the repository.
func (r *Repository) pullScope() []string { return []string{"repository:" + r.path + ":pull"} }
func (r *Repository) pushScope() []string { return []string{"repository:" + r.path + ":pull,push"} }

// access describes the login and scopes a request needs.
func (r *Repository) access(scopes []string) auth.Access {
	return auth.Access{Registry: r.domain, Credentials: r.creds, Scopes: scopes}
}

// try runs op against eps in order until one succeeds, starting with the endpoint that
// served last (*pref, updated on success). An endpoint's failure moves on to the next only
// as its kind allows (see endpoint); the last error is returned.
func (r *Repository) try(ctx context.Context, eps []endpoint, pref *atomic.Int32, op func(endpoint) error) error {
	order := make([]int, 0, len(eps))
	p := int(pref.Load())
	if p >= 0 && p < len(eps) {
		order = append(order, p)
	}
	for i := range eps {
		if i != p {
			order = append(order, i)
		}
	}
	var err error
	for _, i := range order {
		if err = op(eps[i]); err == nil {
			pref.Store(int32(i))
			return nil
		}
		if ctx.Err() != nil || !eps[i].mirror && !isTransportError(err) {
			return err
		}
	}
	return err
}

// isTransportError reports whether err is a failure to exchange HTTP at all (refused
// connection, TLS failure, a plain-HTTP answer to HTTPS) rather than a registry's reply.
func isTransportError(err error) bool {
	var ue *url.Error
	var ne net.Error
	var e *Error
	if errors.As(err, &e) {
		return false
	}
	return errors.As(err, &ue) || errors.As(err, &ne)
}

// request is one HTTP request to a repository's endpoint.
type request struct {
	method string
	path   string   // under the endpoint: "/v2/<name>/manifests/<ref>"
	url    *url.URL // or an absolute URL (upload locations); overrides path
	header http.Header
	// body opens the request body, once per attempt; nil for no body.
	body   func() (io.ReadCloser, error)
	length int64 // of body; -1 unknown
	scopes []string
	// idempotent requests are sent again after a transport failure or a 429/5xx reply.
	idempotent bool
}

// send sends rq to ep, answering an authentication challenge once and retrying
// transient failures of idempotent requests with backoff. It returns the response
// whatever its status; the caller checks it.
func (r *Repository) send(ctx context.Context, ep endpoint, rq request) (*http.Response, error) {
	u := rq.url
	if u == nil {
		u = ep.base.JoinPath(rq.path)
	}
	acc := r.access(rq.scopes)
	authRetried := false
	for attempt := 0; ; {
		req, err := http.NewRequestWithContext(ctx, rq.method, u.String(), nil)
		if err != nil {
			return nil, err
		}
		for k, v := range rq.header {
			req.Header[k] = v
		}
		req.Header.Set("User-Agent", r.c.cfg.UserAgent)
		if rq.body != nil {
			body, err := rq.body()
			if err != nil {
				return nil, err
			}
			req.Body = body
			req.GetBody = rq.body
			req.ContentLength = rq.length
			if rq.length == 0 {
				req.Body.Close()
				req.Body = http.NoBody
			}
		}
		if err := r.c.authz.Authorize(ctx, req, acc); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		sent := req.Header.Get("Authorization")
		resp, err := r.c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if rq.idempotent && attempt < r.c.cfg.MaxRetries && retryableTransport(err) {
				attempt++
				if werr := r.c.backoff(ctx, attempt, 0); werr != nil {
					return nil, werr
				}
				continue
			}
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && !authRetried &&
			r.c.authz.Challenged(req.URL.Host, resp, sent, acc) {
			drain(resp)
			authRetried = true
			continue
		}
		if rq.idempotent && attempt < r.c.cfg.MaxRetries && retryableStatus(resp.StatusCode) {
			after := retryAfter(resp)
			drain(resp)
			attempt++
			if werr := r.c.backoff(ctx, attempt, after); werr != nil {
				return nil, werr
			}
			continue
		}
		return resp, nil
	}
}

// drain reads a little of an unwanted body so the connection can be reused, and
// closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func retryableStatus(s int) bool {
	return s == http.StatusTooManyRequests || s == http.StatusBadGateway ||
		s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout ||
		s == http.StatusInternalServerError
}

// retryableTransport reports whether a failed exchange may succeed when tried again:
// a connection that dropped or timed out. Refused connections, DNS and TLS failures are
// not retried here; they move on to the next endpoint instead.
func retryableTransport(err error) bool {
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &ne) && ne.Timeout()
}

// retryAfter reads a Retry-After header in seconds.
func retryAfter(resp *http.Response) time.Duration {
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return 0
}

// maxBackoff caps the wait between attempts.
const maxBackoff = 10 * time.Second

// backoff waits before attempt number n (1-based): RetryBackoff doubled per attempt,
// or what the server asked, capped at maxBackoff.
func (c *Client) backoff(ctx context.Context, n int, asked time.Duration) error {
	d := c.cfg.RetryBackoff << (n - 1)
	if asked > d {
		d = asked
	}
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// errorf wraps err with the repository and what was being done.
func (r *Repository) errorf(err error, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", reference.FamiliarName(r.name), fmt.Sprintf(format, args...), err)
}
