package distribution

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/distribution/auth"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const dockerRegistryBin = "/usr/bin/docker-registry"

// dockerRegistry runs Debian's docker-registry (distribution 2.8) on a free 127.0.0.1
// port with its storage in a temporary directory. tlsCert/tlsKey (PEM) make it serve
// HTTPS; htpasswd (a file's content) makes it demand Basic auth.
func dockerRegistry(t *testing.T, tlsCert, tlsKey []byte, htpasswd string) string {
	t.Helper()
	if _, err := os.Stat(dockerRegistryBin); err != nil {
		t.Skipf("needs %s (apt-get install docker-registry): %v", dockerRegistryBin, err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)
	scheme := "http"
	var client *http.Client = http.DefaultClient
	if tlsCert != nil {
		writeFile(t, filepath.Join(dir, "cert.pem"), tlsCert)
		writeFile(t, filepath.Join(dir, "key.pem"), tlsKey)
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
		scheme = "https"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	if htpasswd != "" {
		writeFile(t, filepath.Join(dir, "htpasswd"), []byte(htpasswd))
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", filepath.Join(dir, "htpasswd"))
	}
	writeFile(t, filepath.Join(dir, "config.yml"), []byte(cfg))
	var logs bytes.Buffer
	cmd := exec.Command(dockerRegistryBin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// Wait until it answers /v2/ (401 counts: auth is on), or exits, or 20 s pass.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(scheme + "://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return addr
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("docker-registry exited: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not come up on %s: %v\n%s", addr, err, logs.String())
		}
	}
}

// exerciseRegistry runs the whole client against one registry.
func exerciseRegistry(t *testing.T, c *Client, host string) {
	ctx := context.Background()
	img := newImage(t, 3, 300<<10, nil)
	r := openRepo(t, c, host+"/berth/test")
	for i, x := range pushImage(t, r, img, "v1", PushOptions{}) {
		if x != Uploaded {
			t.Errorf("first push, blob %d: %v", i, x)
		}
	}
	pullImage(t, openRepo(t, c, host+"/berth/test"), "v1", img)
	for i, x := range pushImage(t, r, img, "v2", PushOptions{}) {
		if x != Existed {
			t.Errorf("second push, blob %d: %v, want exists", i, x)
		}
	}
	other := openRepo(t, c, host+"/berth/other")
	for i, x := range pushImage(t, other, img, "v1", PushOptions{MountFrom: []string{"berth/test"}}) {
		if x != Mounted {
			t.Errorf("push to another repository, blob %d: %v, want mounted", i, x)
		}
	}
	pullImage(t, openRepo(t, c, host+"/berth/other"), "v1", img)

	_, err := r.Resolve(ctx, "nosuch")
	if !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "manifest unknown") {
		t.Errorf("missing tag: %v", err)
	}
	_, err = r.Fetch(ctx, ocispec.Descriptor{Digest: digest.FromString("x"), Size: 1}, nil)
	if !errdefs.IsNotFound(err) {
		t.Errorf("missing blob: %v", err)
	}

	// The registry checks that a manifest's blobs exist.
	orphan := newImage(t, 1, 100, nil)
	err = r.PushManifest(ctx, "orphan", orphan.desc, orphan.manifest)
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "manifest blob unknown") {
		t.Errorf("manifest with missing blobs: %v, want FailedPrecondition", err)
	}

	// A two-platform index.
	arm := newImage(t, 1, 1000, &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})
	pushImage(t, r, arm, arm.desc.Digest.String(), PushOptions{})
	amd := img.desc
	amd.Platform = &ocispec.Platform{OS: "linux", Architecture: "amd64"}
	ib := mustJSON(t, ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{amd, arm.desc}})
	idesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: digest.FromBytes(ib), Size: int64(len(ib))}
	if err := r.PushManifest(ctx, "multi", idesc, ib); err != nil {
		t.Fatal(err)
	}
	got, err := openRepo(t, c, host+"/berth/test").Resolve(ctx, "multi")
	if err != nil || got.Digest != idesc.Digest || got.MediaType != ocispec.MediaTypeImageIndex {
		t.Fatalf("resolve the index: %+v, %v", got, err)
	}
}

func TestDockerRegistryPlain(t *testing.T) {
	addr := dockerRegistry(t, nil, nil, "")
	exerciseRegistry(t, newTestClient(t, Config{}, addr), addr)
}

func TestDockerRegistryChunked(t *testing.T) {
	addr := dockerRegistry(t, nil, nil, "")
	exerciseRegistry(t, newTestClient(t, Config{ChunkSize: 100 << 10}, addr), addr)
}

func TestDockerRegistryTLS(t *testing.T) {
	ca := newCA(t)
	cert, key := ca.issue(t, false, "127.0.0.1")
	addr := dockerRegistry(t, cert, key, "")
	certs := t.TempDir()
	writeFile(t, filepath.Join(certs, addr, "ca.crt"), ca.pem)
	exerciseRegistry(t, newTestClient(t, Config{CertsDir: certs}), addr)

	// Without the CA the registry is not trusted.
	c := newTestClient(t, Config{})
	_, err := openRepo(t, c, addr+"/berth/test").Resolve(context.Background(), "v1")
	var ue x509.UnknownAuthorityError
	var ve *tls.CertificateVerificationError
	if !(errors.As(err, &ue) || errors.As(err, &ve)) {
		t.Fatalf("untrusted registry: %v", err)
	}
}

func TestDockerRegistryHtpasswd(t *testing.T) {
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("needs htpasswd (apt-get install apache2-utils) to write the password file")
	}
	out, err := exec.Command(bin, "-Bbn", "dave", "pa55").Output()
	if err != nil {
		t.Fatal(err)
	}
	ca := newCA(t)
	cert, key := ca.issue(t, false, "127.0.0.1")
	addr := dockerRegistry(t, cert, key, string(out))
	certs := t.TempDir()
	writeFile(t, filepath.Join(certs, addr, "ca.crt"), ca.pem)
	exerciseRegistry(t, newTestClient(t, Config{CertsDir: certs, Credentials: auth.Static("dave", "pa55")}), addr)

	c := newTestClient(t, Config{CertsDir: certs})
	if _, err := c.Login(context.Background(), addr, auth.Static("dave", "wrong")); !errdefs.IsUnauthorized(err) {
		t.Fatalf("login with a wrong password: %v, want Unauthenticated", err)
	}
	if _, err := c.Login(context.Background(), addr, auth.Static("dave", "pa55")); err != nil {
		t.Fatalf("login: %v", err)
	}
	_, err = openRepo(t, c, addr+"/berth/test").Resolve(context.Background(), "v1")
	if !errdefs.IsUnauthorized(err) {
		t.Fatalf("anonymous pull: %v, want Unauthenticated", err)
	}
}
