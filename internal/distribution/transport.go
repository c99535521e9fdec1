package distribution

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// hostTransport sends each request through an http.Transport made for the request's
// host: plain HTTP shares one; each HTTPS host gets its own TLS settings (system CAs
// plus the host's certs.d directory, or no verification for an insecure registry).
// Redirects to blob storage hosts go through it too.
type hostTransport struct {
	c     *Client
	plain *http.Transport
	// dial opens connections; tests point it at loopback servers.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)

	mu  sync.Mutex
	tls map[string]*http.Transport
}

func newHostTransport(c *Client) *hostTransport {
	t := &hostTransport{c: c, tls: map[string]*http.Transport{}}
	t.dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.plain = t.newTransport(nil)
	return t
}

// newTransport is tuned for bulk transfers: no transparent gzip (blobs are verified
// byte for byte), large buffers, and enough idle connections per host for parallel
// downloads. HTTP/2 stays off: several TCP connections move bulk data faster than
// streams multiplexed on one.
func (t *hostTransport) newTransport(tc *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return t.dial(ctx, network, addr)
		},
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   32,
		DisableCompression:    true,
		ReadBufferSize:        256 << 10,
		WriteBufferSize:       256 << 10,
	}
}

func (t *hostTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" {
		return t.plain.RoundTrip(req)
	}
	host := canonicalHostPort(req.URL.Host, "443")
	t.mu.Lock()
	tr, ok := t.tls[host]
	t.mu.Unlock()
	if !ok {
		tc, err := t.c.tlsConfig(req, host)
		if err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
		t.mu.Lock()
		if tr, ok = t.tls[host]; !ok {
			tr = t.newTransport(tc)
			t.tls[host] = tr
		}
		t.mu.Unlock()
	}
	return tr.RoundTrip(req)
}

func (t *hostTransport) closeIdle() {
	t.plain.CloseIdleConnections()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.tls {
		tr.CloseIdleConnections()
	}
}

// canonicalHostPort drops the scheme's default port, so "h:443" and "h" are one host.
func canonicalHostPort(host, defaultPort string) string {
	if h, p, err := net.SplitHostPort(host); err == nil && p == defaultPort {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return host
}

// tlsConfig builds the TLS settings for host: no verification for an insecure registry,
// otherwise the system's CAs plus <certsdir>/<host>/*.crt, and the client certificates
// <certsdir>/<host>/*.cert with their *.key.
func (c *Client) tlsConfig(req *http.Request, host string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.insecure(req.Context(), host) {
		tc.InsecureSkipVerify = true //nolint:gosec // the user declared this registry insecure
		return tc, nil
	}
	dir := filepath.Join(c.cfg.CertsDir, host)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return tc, nil
	}
	if err != nil {
		return nil, fmt.Errorf("certificates for %s: %w", host, err)
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".crt"):
			pem, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("certificates for %s: %w", host, err)
			}
			if tc.RootCAs == nil {
				if tc.RootCAs, err = x509.SystemCertPool(); err != nil || tc.RootCAs == nil {
					tc.RootCAs = x509.NewCertPool()
				}
			}
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("certificates for %s: %s holds no PEM certificate", host, path)
			}
		case strings.HasSuffix(name, ".cert"):
			key := strings.TrimSuffix(path, ".cert") + ".key"
			pair, err := tls.LoadX509KeyPair(path, key)
			if err != nil {
				return nil, fmt.Errorf("client certificate for %s: %s with %s: %w", host, path, filepath.Base(key), err)
			}
			tc.Certificates = append(tc.Certificates, pair)
		case strings.HasSuffix(name, ".key"):
			cert := strings.TrimSuffix(path, ".key") + ".cert"
			if _, err := os.Stat(cert); err != nil {
				return nil, fmt.Errorf("client certificate for %s: key %s has no matching %s", host, path, filepath.Base(cert))
			}
		}
	}
	return tc, nil
}
