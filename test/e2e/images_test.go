package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/testutil"
)

// rootfsTar writes a busybox root file system as a tarball and returns its path.
func rootfsTar(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	testutil.BusyboxRootfs(t, dir)
	p := filepath.Join(t.TempDir(), "rootfs.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := archive.Tar(context.Background(), dir, f); err != nil {
		t.Fatal(err)
	}
	return p
}

// registry runs Debian's docker-registry on a free loopback port, or skips.
func registry(t *testing.T) string {
	t.Helper()
	return registryWith(t, "")
}

// registryWith runs it with htpasswd basic auth when htpasswd (a file's content) is given.
func registryWith(t *testing.T, htpasswd string) string {
	t.Helper()
	const bin = "/usr/bin/docker-registry"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("needs %s (apt-get install docker-registry)", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", dir, addr)
	if htpasswd != "" {
		os.WriteFile(filepath.Join(dir, "htpasswd"), []byte(htpasswd), 0o644)
		cfg += fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", filepath.Join(dir, "htpasswd"))
	}
	os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr
		}
	}
	t.Fatalf("docker-registry did not come up on %s:\n%s", addr, logs.String())
	return ""
}

func TestImagesThroughTheDockerCLI(t *testing.T) {
	d := newDaemon(t)
	d.start()
	tarball := rootfsTar(t)

	id := strings.TrimSpace(d.mustDocker("import", "--change", `CMD ["sh"]`, "--change", "ENV GREETING=hi", tarball, "bbox:latest"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("docker import printed %q, want the image ID", id)
	}
	if out := d.mustDocker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); !strings.Contains(out, "bbox:latest "+strings.TrimPrefix(id, "sha256:")[:12]) {
		t.Errorf("docker images:\n%s", out)
	}
	if out := d.mustDocker("image", "inspect", "--format", "{{json .Config.Cmd}} {{.Config.Env}} {{len .RootFS.Layers}} {{.Os}}", "bbox"); strings.TrimSpace(out) != `["sh"] [GREETING=hi] 1 linux` {
		t.Errorf("docker image inspect: %q", out)
	}
	if out := d.mustDocker("history", "bbox"); !strings.Contains(out, "IMAGE") || !strings.Contains(out, strings.TrimPrefix(id, "sha256:")[:12]) {
		t.Errorf("docker history:\n%s", out)
	}
	// As in Docker: a layer's size in history is its unpacked size, which
	// for a one-layer image is the image's own; an import with a name is a
	// tag, so LastTagTime is set.
	size := strings.TrimSpace(d.mustDocker("image", "inspect", "--format", "{{.Size}}", "bbox"))
	if out := d.mustDocker("history", "--human=false", "--format", "{{.Size}}", "bbox"); !strings.Contains(out, "\n"+size+"\n") && !strings.HasSuffix(out, size+"\n") {
		t.Errorf("docker history sizes %q, want the layer's %s bytes among them", out, size)
	}
	if out := d.mustDocker("image", "inspect", "--format", "{{.Metadata.LastTagTime.IsZero}}", "bbox"); strings.TrimSpace(out) != "false" {
		t.Errorf("LastTagTime after a named import is zero")
	}
	d.mustDocker("tag", "bbox", "bbox:second")
	d.mustDocker("tag", "bbox", "other/bbox:v1")
	if out := d.mustDocker("images", "--format", "{{.Repository}}:{{.Tag}}", "other/bbox"); strings.TrimSpace(out) != "other/bbox:v1" {
		t.Errorf("docker images other/bbox lists %q, want only the matching tag", out)
	}
	d.mustDocker("rmi", "other/bbox:v1")
	if out := d.mustDocker("system", "df", "--format", "{{.Type}} {{.TotalCount}}"); !strings.Contains(out, "Images 1") {
		t.Errorf("docker system df:\n%s", out)
	}
	if _, errOut, code := d.docker("image", "inspect", "nosuch"); code == 0 || !strings.Contains(errOut, "No such image") {
		t.Errorf("inspect of a missing image: exit %d %q", code, errOut)
	}

	// save | load round trip
	saved := filepath.Join(t.TempDir(), "saved.tar")
	d.mustDocker("save", "-o", saved, "bbox:latest")
	d.mustDocker("rmi", "bbox:latest", "bbox:second")
	if out := d.mustDocker("images", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("images left after rmi: %q", out)
	}
	if out := d.mustDocker("load", "-i", saved); !strings.Contains(out, "Loaded image: bbox:latest") {
		t.Errorf("docker load: %q", out)
	}
	if out := d.mustDocker("image", "inspect", "--format", "{{.Id}}", "bbox:latest"); strings.TrimSpace(out) != id {
		t.Errorf("loaded image ID %q, want %q", out, id)
	}

	// push to a registry, remove, pull back
	reg := registry(t)
	remote := reg + "/berth/bbox:v1"
	d.mustDocker("tag", "bbox", remote)
	if out := d.mustDocker("push", remote); !strings.Contains(out, "v1: digest: sha256:") {
		t.Errorf("docker push:\n%s", out)
	}
	// As docker push does, the imported (uncompressed) layer went out gzip-compressed.
	req, _ := http.NewRequest("GET", "http://"+reg+"/v2/berth/bbox/manifests/v1", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("manifest from the registry: %v", err)
	} else {
		var m struct{ Layers []struct{ MediaType string } }
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if len(m.Layers) != 1 || !strings.HasSuffix(m.Layers[0].MediaType, "gzip") {
			t.Errorf("pushed layers %+v, want one gzip layer", m.Layers)
		}
	}
	d.mustDocker("rmi", "bbox", remote)
	out := d.mustDocker("pull", remote)
	if !strings.Contains(out, "Status: Downloaded newer image for "+remote) || !strings.Contains(out, "Digest: sha256:") {
		t.Errorf("docker pull:\n%s", out)
	}
	if out := d.mustDocker("pull", remote); !strings.Contains(out, "Status: Image is up to date for "+remote) {
		t.Errorf("second docker pull:\n%s", out)
	}
	if out := d.mustDocker("image", "inspect", "--format", "{{.Id}} {{len .RepoDigests}}", remote); strings.TrimSpace(out) != id+" 1" {
		t.Errorf("pulled image: %q, want %s with a repo digest", out, id)
	}
	if _, errOut, code := d.docker("pull", reg+"/berth/nosuch:v1"); code == 0 || errOut == "" {
		t.Errorf("pull of a missing image: exit %d %q", code, errOut)
	}

	// prune -a frees the disk
	d.mustDocker("image", "prune", "-a", "-f")
	if out := d.mustDocker("images", "-q"); strings.TrimSpace(out) != "" {
		t.Errorf("images left after prune -a: %q", out)
	}
	blobs, _ := filepath.Glob(filepath.Join(d.DataRoot, "content", "blobs", "sha256", "*"))
	if len(blobs) != 0 {
		t.Errorf("%d blobs left after prune -a", len(blobs))
	}
}

func TestLoginAndAuthenticatedPush(t *testing.T) {
	d := newDaemon(t)
	d.start()
	htpasswd, err := exec.Command("htpasswd", "-Bbn", "berth", "s3cret").Output()
	if err != nil {
		t.Skipf("needs htpasswd (apt-get install apache2-utils): %v", err)
	}
	reg := registryWith(t, string(htpasswd))
	d.mustDocker("import", rootfsTar(t), reg+"/private/bbox:v1")
	if _, errOut, code := d.docker("push", reg+"/private/bbox:v1"); code == 0 || !strings.Contains(strings.ToLower(errOut), "auth") {
		t.Errorf("push without login: exit %d %q", code, errOut)
	}
	if _, errOut, code := d.docker("login", "-u", "berth", "-p", "wrong", reg); code == 0 || errOut == "" {
		t.Errorf("login with a wrong password: exit %d %q", code, errOut)
	}
	if out := d.mustDocker("login", "-u", "berth", "-p", "s3cret", reg); !strings.Contains(out, "Login Succeeded") {
		t.Errorf("docker login: %q", out)
	}
	if out := d.mustDocker("push", reg+"/private/bbox:v1"); !strings.Contains(out, "digest: sha256:") {
		t.Errorf("push after login:\n%s", out)
	}
}
