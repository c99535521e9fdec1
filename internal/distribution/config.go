package distribution

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/berth-engine/berth/internal/distribution/auth"
	"github.com/containerd/errdefs"
)

// DefaultCertsDir is where per-registry certificates live:
// <certsdir>/<host:port>/{ca.crt,client.cert,client.key}.
const DefaultCertsDir = "/etc/berth/certs.d"

// DefaultInsecureCIDRs are the networks Docker always treats as insecure registries
// (loopback), whatever the configuration says. The daemon appends them to the user's
// insecure-registries; they are not added implicitly so that tests can check TLS on
// 127.0.0.1.
var DefaultInsecureCIDRs = []string{"127.0.0.0/8", "::1/128"}

// Config is the registry part of the daemon's configuration (daemon.json's
// registry-mirrors, insecure-registries, max-concurrent-downloads/uploads).
type Config struct {
	// Mirrors are pull-through mirrors of docker.io, as URLs ("https://mirror.example",
	// "http://10.0.0.5:5000"), tried in order before registry-1.docker.io. They serve
	// pulls only; pushes go to Docker Hub itself.
	Mirrors []string
	// InsecureRegistries are registries reached without TLS verification: each entry is
	// a registry name ("myreg:5000", matched exactly against a reference's domain) or a
	// CIDR ("10.0.0.0/8", matched against the registry host's addresses). Such a
	// registry is tried over HTTPS without verifying its certificate, then over plain
	// HTTP.
	InsecureRegistries []string
	// CertsDir holds extra trust per registry host: <CertsDir>/<host[:port]>/*.crt are CA
	// certificates added to the system's, and each *.cert with its *.key is a client
	// certificate. Empty means DefaultCertsDir.
	CertsDir string
	// Credentials are used when a Repository is opened without its own. Nil means
	// anonymous.
	Credentials auth.Credentials
	// MaxConcurrentDownloads bounds the blobs downloaded at once by the whole client
	// (default 3, as dockerd).
	MaxConcurrentDownloads int
	// MaxConcurrentUploads bounds the blobs uploaded at once (default 5, as dockerd).
	MaxConcurrentUploads int
	// ChunkSize, when positive, makes blobs larger than it upload in PATCH chunks of this
	// size; otherwise every blob goes in one PUT.
	ChunkSize int64
	// MaxRetries bounds the attempts after a transient failure (a dropped connection, a
	// 5xx or 429 reply) of one request or one blob transfer (default 5).
	MaxRetries int
	// RetryBackoff is the first wait before a retry; it doubles per attempt up to 10 s
	// (default 250 ms).
	RetryBackoff time.Duration
	// UserAgent is sent with every request (default "berth").
	UserAgent string
}

// Client talks to registries. It holds the connection pools, the authentication state
// (challenges, cached tokens) and the download and upload slots shared by every
// Repository it opens. It is safe for concurrent use.
type Client struct {
	cfg           Config
	mirrors       []*url.URL
	insecureNets  []*net.IPNet
	insecureNames map[string]bool

	transport *hostTransport
	http      *http.Client
	authz     *auth.Authorizer

	downloads chan struct{}
	uploads   chan struct{}

	insecureMu    sync.Mutex
	insecureCache map[string]bool
}

// NewClient checks cfg and returns a client. A mirror with a path, or an insecure
// registry entry that is neither a name nor a CIDR, is an InvalidArgument error.
func NewClient(cfg Config) (*Client, error) {
	if cfg.CertsDir == "" {
		cfg.CertsDir = DefaultCertsDir
	}
	if cfg.MaxConcurrentDownloads <= 0 {
		cfg.MaxConcurrentDownloads = 3
	}
	if cfg.MaxConcurrentUploads <= 0 {
		cfg.MaxConcurrentUploads = 5
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 5
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 250 * time.Millisecond
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "berth"
	}
	c := &Client{
		cfg:           cfg,
		insecureNames: map[string]bool{},
		insecureCache: map[string]bool{},
		downloads:     make(chan struct{}, cfg.MaxConcurrentDownloads),
		uploads:       make(chan struct{}, cfg.MaxConcurrentUploads),
	}
	for _, m := range cfg.Mirrors {
		u, err := ParseMirror(m)
		if err != nil {
			return nil, err
		}
		c.mirrors = append(c.mirrors, u)
	}
	for _, e := range cfg.InsecureRegistries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if _, n, err := net.ParseCIDR(e); err == nil {
			c.insecureNets = append(c.insecureNets, n)
			continue
		}
		if strings.Contains(e, "://") || strings.ContainsAny(e, "/ ") {
			return nil, fmt.Errorf("insecure registry %q: want a registry name (host[:port]) or a CIDR: %w", e, errdefs.ErrInvalidArgument)
		}
		c.insecureNames[strings.ToLower(e)] = true
	}
	c.transport = newHostTransport(c)
	c.http = &http.Client{Transport: c.transport, CheckRedirect: checkRedirect}
	c.authz = auth.NewAuthorizer(c.http, cfg.UserAgent)
	return c, nil
}

// checkRedirect follows up to 10 redirects and keeps the registry's credentials from
// other hosts: blob storage (S3, a CDN) authorises by signed URL and refuses a request
// that carries a second Authorization.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return fmt.Errorf("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		req.Header.Del("Authorization")
	}
	return nil
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.transport.closeIdle()
	return nil
}

// ParseMirror checks a registry-mirrors entry as dockerd does: an http or https URL with
// no path, query or fragment (a trailing slash is allowed).
func ParseMirror(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("invalid mirror %q: %w", s, errdefs.ErrInvalidArgument)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid mirror %q: unsupported scheme %q (want http or https): %w", s, u.Scheme, errdefs.ErrInvalidArgument)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("invalid mirror %q: want scheme://host[:port] with no path, query or fragment: %w", s, errdefs.ErrInvalidArgument)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// insecure reports whether the registry at host (host[:port]) is reached without TLS
// verification: named in InsecureRegistries, or with an address in one of its CIDRs.
// A host name is resolved (once per client) when CIDRs are configured, as dockerd does.
func (c *Client) insecure(ctx context.Context, host string) bool {
	host = strings.ToLower(host)
	if c.insecureNames[host] {
		return true
	}
	switch host {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return false // Docker Hub is always verified, as in dockerd
	}
	if len(c.insecureNets) == 0 {
		return false
	}
	c.insecureMu.Lock()
	v, ok := c.insecureCache[host]
	c.insecureMu.Unlock()
	if ok {
		return v
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	var ips []net.IP
	if ip := net.ParseIP(name); ip != nil {
		ips = []net.IP{ip}
	} else {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := net.DefaultResolver.LookupIPAddr(lctx, name)
		cancel()
		if err != nil && ctx.Err() != nil {
			return false // cancelled: decide again next time
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	v = false
	for _, ip := range ips {
		for _, n := range c.insecureNets {
			if n.Contains(ip) {
				v = true
			}
		}
	}
	c.insecureMu.Lock()
	c.insecureCache[host] = v
	c.insecureMu.Unlock()
	return v
}

// acquire takes a slot of sem, waiting for one or for ctx.
func acquire(ctx context.Context, sem chan struct{}) error {
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
