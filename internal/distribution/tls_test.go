package distribution

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/registry"
)

// testCA issues certificates for test servers and clients.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial atomic.Int64

func newCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: "berth test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate and key (PEM) for hosts (names or IPs), for a server or,
// with client, for a client.
func (ca *testCA) issue(t testing.TB, client bool, hosts ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: "berth test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// startTLSRegistry serves the in-memory registry over TLS with a certificate from ca
// for hosts; configure may adjust the server's TLS settings.
func startTLSRegistry(t testing.TB, ca *testCA, configure func(*tls.Config), wrap func(http.Handler) http.Handler, hosts ...string) *httptest.Server {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	certPEM, keyPEM := ca.issue(t, false, hosts...)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	if configure != nil {
		configure(srv.TLS)
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestTLSTrustFromCertsDir(t *testing.T) {
	ca := newCA(t)
	srv := startTLSRegistry(t, ca, nil, nil, "127.0.0.1")
	host := hostOf(srv)
	img := newImage(t, 1, 1000, nil)

	certs := t.TempDir()
	c := newTestClient(t, Config{CertsDir: certs})
	start := time.Now()
	_, err := openRepo(t, c, host+"/app").Resolve(context.Background(), "v1")
	var ue x509.UnknownAuthorityError
	var ve *tls.CertificateVerificationError
	if err == nil || !(errors.As(err, &ue) || errors.As(err, &ve)) {
		t.Fatalf("unknown CA: %v, want a certificate verification error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a certificate failure took %v: it must not be retried", d)
	}

	writeFile(t, filepath.Join(certs, host, "ca.crt"), ca.pem)
	c = newTestClient(t, Config{CertsDir: certs})
	r := openRepo(t, c, host+"/app")
	pushImage(t, r, img, "v1", PushOptions{})
	pullImage(t, r, "v1", img)
}

func TestTLSClientCertificate(t *testing.T) {
	ca := newCA(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := startTLSRegistry(t, ca, func(tc *tls.Config) {
		tc.ClientAuth = tls.RequireAndVerifyClientCert
		tc.ClientCAs = pool
	}, nil, "127.0.0.1")
	host := hostOf(srv)
	certs := t.TempDir()
	writeFile(t, filepath.Join(certs, host, "ca.crt"), ca.pem)

	c := newTestClient(t, Config{CertsDir: certs})
	if _, err := openRepo(t, c, host+"/app").Resolve(context.Background(), "v1"); err == nil || errdefs.IsNotFound(err) {
		t.Fatalf("without a client certificate: %v, want a TLS failure", err)
	}

	certPEM, keyPEM := ca.issue(t, true, "client")
	writeFile(t, filepath.Join(certs, host, "client.key"), keyPEM)
	c = newTestClient(t, Config{CertsDir: certs})
	_, err := openRepo(t, c, host+"/app").Resolve(context.Background(), "v1")
	if err == nil || !strings.Contains(err.Error(), "client.key has no matching client.cert") {
		t.Fatalf("a key without its certificate: %v", err)
	}

	writeFile(t, filepath.Join(certs, host, "client.cert"), certPEM)
	c = newTestClient(t, Config{CertsDir: certs})
	r := openRepo(t, c, host+"/app")
	img := newImage(t, 1, 1000, nil)
	pushImage(t, r, img, "v1", PushOptions{})
	pullImage(t, r, "v1", img)
}

func TestInsecureRegistry(t *testing.T) {
	ca := newCA(t) // never trusted by the client
	var overTLS atomic.Int32
	srv := startTLSRegistry(t, ca, nil, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.TLS != nil {
				overTLS.Add(1)
			}
			h.ServeHTTP(w, req)
		})
	}, "127.0.0.1")

	// Insecure by CIDR: HTTPS without verification, not a downgrade to plain HTTP.
	c := newTestClient(t, Config{InsecureRegistries: DefaultInsecureCIDRs})
	r := openRepo(t, c, hostOf(srv)+"/app")
	img := newImage(t, 1, 1000, nil)
	pushImage(t, r, img, "v1", PushOptions{})
	pullImage(t, r, "v1", img)
	if overTLS.Load() == 0 {
		t.Error("no request came over TLS")
	}

	// A plain-HTTP registry that is not declared insecure is not silently downgraded to.
	plain := startRegistry(t, nil)
	c = newTestClient(t, Config{})
	_, err := openRepo(t, c, hostOf(plain)+"/app").Resolve(context.Background(), "v1")
	if err == nil || !strings.Contains(err.Error(), "https://") {
		t.Fatalf("plain HTTP registry not declared insecure: %v, want an HTTPS failure", err)
	}
}

// fakeHub serves docker.io: connections to registry-1.docker.io:443 reach a local TLS
// registry whose certificate (for that name) the client trusts through certs.d.
func fakeHub(t *testing.T, c *Client, certs string, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	ca := newCA(t)
	hub := startTLSRegistry(t, ca, nil, wrap, "registry-1.docker.io")
	writeFile(t, filepath.Join(certs, "registry-1.docker.io", "ca.crt"), ca.pem)
	dial := c.transport.dial
	c.transport.dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "registry-1.docker.io:443" {
			addr = hub.Listener.Addr().String()
		}
		return dial(ctx, network, addr)
	}
	return hub
}

func TestMirrors(t *testing.T) {
	mirrorRec, hubRec := &recorder{}, &recorder{}
	mirror := startRegistry(t, mirrorRec.wrap)
	certs := t.TempDir()
	c := newTestClient(t, Config{CertsDir: certs, Mirrors: []string{"http://" + hostOf(mirror)}})
	fakeHub(t, c, certs, hubRec.wrap)
	direct := newTestClient(t, Config{}, hostOf(mirror))

	alpine := newImage(t, 2, 1000, nil)
	busybox := newImage(t, 2, 1000, nil)
	partial := newImage(t, 2, 1000, nil)
	// Pushes go to Docker Hub itself, never to a mirror.
	pushImage(t, openRepo(t, c, "alpine"), alpine, "v1", PushOptions{})
	pushImage(t, openRepo(t, c, "busybox"), busybox, "v1", PushOptions{})
	pushImage(t, openRepo(t, c, "partial"), partial, "v1", PushOptions{})
	if n := mirrorRec.count("PUT", ""); n != 0 {
		t.Fatalf("%d PUTs reached the mirror", n)
	}
	// The mirror holds alpine, and partial's manifest and config without its layers.
	pushImage(t, openRepo(t, direct, hostOf(mirror)+"/library/alpine"), alpine, "v1", PushOptions{})
	mr := openRepo(t, direct, hostOf(mirror)+"/library/partial")
	if _, err := mr.PushBlob(context.Background(), partial.configDesc, strings.NewReader(string(partial.config)), PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := mr.PushManifest(context.Background(), "v1", partial.desc, partial.manifest); err != nil {
		t.Fatal(err)
	}
	hubRec.reset()
	mirrorRec.reset()

	pullImage(t, openRepo(t, c, "alpine"), "v1", alpine)
	if n := len(hubRec.reqs); n != 0 {
		t.Errorf("alpine: %d requests reached Docker Hub, want 0 (the mirror has it): %v", n, hubRec.reqs)
	}
	if n := mirrorRec.count("GET", "/v2/library/alpine/blobs/"); n != 3 {
		t.Errorf("alpine: %d blob GETs on the mirror, want 3", n)
	}

	hubRec.reset()
	pullImage(t, openRepo(t, c, "busybox"), "v1", busybox)
	if n := mirrorRec.count("HEAD", "/v2/library/busybox/manifests/v1"); n != 1 {
		t.Errorf("busybox: the mirror was asked %d times, want 1", n)
	}
	if n := hubRec.count("GET", "/v2/library/busybox/blobs/"); n != 3 {
		t.Errorf("busybox: %d blob GETs on Docker Hub, want 3", n)
	}

	hubRec.reset()
	pullImage(t, openRepo(t, c, "partial"), "v1", partial)
	// Each layer the mirror lacks comes from Docker Hub, once. (The config may come
	// from either: the endpoint that answered last is tried first, and the layers'
	// fetches run beside the config's.)
	for _, l := range partial.layerDescs {
		if n := hubRec.count("GET", "/v2/library/partial/blobs/"+l.Digest.String()); n != 1 {
			t.Errorf("partial: layer %s fetched %d times from Docker Hub, want 1", l.Digest, n)
		}
	}
	if n := hubRec.count("GET", "/v2/library/partial/blobs/"); n > 3 {
		t.Errorf("partial: %d blob GETs on Docker Hub, want at most 3", n)
	}

	mirror.Close()
	hubRec.reset()
	pullImage(t, openRepo(t, c, "alpine"), "v1", alpine)
	if n := hubRec.count("GET", "/v2/library/alpine/blobs/"); n != 3 {
		t.Errorf("mirror down: %d blob GETs on Docker Hub, want 3", n)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Mirrors: []string{"mirror.example"}}, "unsupported scheme"},
		{Config{Mirrors: []string{"https://mirror.example/v2/"}}, "no path"},
		{Config{Mirrors: []string{"ftp://mirror.example"}}, "unsupported scheme"},
		{Config{InsecureRegistries: []string{"http://myreg:5000"}}, "want a registry name"},
	} {
		_, err := NewClient(tc.cfg)
		if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want InvalidArgument containing %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := NewClient(Config{Mirrors: []string{"https://mirror.example/"}, InsecureRegistries: []string{"myreg:5000", "10.0.0.0/8"}}); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}
