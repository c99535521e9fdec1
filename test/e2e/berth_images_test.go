package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestImagesThroughBerth drives the image verbs of the berth CLI against a
// berthd, the same flow as TestImagesThroughTheDockerCLI, and checks at each
// step that berth prints what docker prints for the same daemon.
func TestImagesThroughBerth(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	tarball := rootfsTar(t)

	id := strings.TrimSpace(d.mustBerth("import", "-c", `CMD ["sh"]`, "--change", "ENV GREETING=hi", "-m", "from e2e", tarball, "bbox:latest"))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("berth import printed %q, want the image ID", id)
	}
	short := strings.TrimPrefix(id, "sha256:")[:12]
	d.mustBerth("tag", "bbox", "bbox:second")
	d.mustBerth("tag", "bbox", "other/bbox:v2")

	// The listing, in every layout, reads as docker's.
	sameAsDocker(t, d, "images")
	sameAsDocker(t, d, "image", "ls", "-a")
	sameAsDocker(t, d, "images", "-q")
	sameAsDocker(t, d, "images", "--digests")
	sameAsDocker(t, d, "images", "--no-trunc")
	sameAsDocker(t, d, "images", "bbox")
	sameAsDocker(t, d, "images", "--filter", "reference=other/*")
	sameAsDocker(t, d, "images", "--format", "json")
	sameAsDocker(t, d, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}} {{.Digest}}")
	sameAsDocker(t, d, "images", "--format", `table {{.ID}}\t{{.Repository}}\t{{.CreatedAt}}\t{{.Containers}}`)
	if out := d.mustBerth("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "other/bbox"); !strings.Contains(out, "other/bbox:v2 "+short+"\n") {
		t.Errorf("berth images other/bbox:\n%s", out)
	}

	sameAsDocker(t, d, "image", "inspect", "bbox")
	sameAsDocker(t, d, "inspect", "bbox", "bbox:second")
	sameAsDocker(t, d, "image", "inspect", "--format", "{{json .Config.Cmd}} {{.Config.Env}} {{len .RootFS.Layers}} {{.Os}} {{.Id}} {{.Comment}}", "bbox")
	if out := d.mustBerth("image", "inspect", "-f", "{{json .Config.Cmd}} {{.Config.Env}} {{.Id}}", "bbox"); out != `["sh"] [GREETING=hi] `+id+"\n" {
		t.Errorf("berth image inspect -f: %q", out)
	}
	sameAsDocker(t, d, "history", "bbox")
	sameAsDocker(t, d, "history", "--human=false", "--no-trunc", "bbox")
	sameAsDocker(t, d, "history", "-q", "bbox")
	sameAsDocker(t, d, "history", "--format", "json", "bbox")
	if out, errOut, code := d.berth("image", "inspect", "nosuch"); code != 1 || out != "[]\n" || !strings.Contains(errOut, "No such image") {
		t.Errorf("inspect of a missing image: exit %d %q %q", code, out, errOut)
	}

	// save | load round trip
	saved := filepath.Join(t.TempDir(), "saved.tar")
	d.mustBerth("save", "-o", saved, "bbox:latest")
	if out := d.mustBerth("rmi", "bbox:latest", "bbox:second", "other/bbox:v2"); out != "Untagged: bbox:latest\nUntagged: bbox:second\nUntagged: other/bbox:v2\nDeleted: "+id+"\n" {
		t.Errorf("berth rmi:\n%s", out)
	}
	if out := d.mustBerth("images", "-q"); out != "" {
		t.Fatalf("images left after rmi: %q", out)
	}
	if _, errOut, code := d.berth("rmi", "bbox"); code != 1 || !strings.Contains(errOut, "No such image") {
		t.Errorf("rmi of a missing image: exit %d %q", code, errOut)
	}
	if out, errOut, code := d.berth("rmi", "-f", "bbox"); code != 0 || out != "" || errOut != "" {
		t.Errorf("rmi -f of a missing image: exit %d %q %q", code, out, errOut)
	}
	if out := d.mustBerth("load", "-i", saved); out != "Loaded image: bbox:latest\n" {
		t.Errorf("berth load: %q", out)
	}
	if out := d.mustBerth("image", "inspect", "--format", "{{.Id}}", "bbox:latest"); strings.TrimSpace(out) != id {
		t.Errorf("loaded image ID %q, want %q", out, id)
	}

	// push to a registry, remove, pull back
	reg := registry(t)
	remote := reg + "/berth/bbox:v1"
	d.mustBerth("tag", "bbox", remote)
	if out := d.mustBerth("push", remote); !strings.Contains(out, "v1: digest: sha256:") {
		t.Errorf("berth push:\n%s", out)
	}
	if out := d.mustBerth("push", "-q", remote); out != remote+"\n" {
		t.Errorf("berth push -q: %q", out)
	}
	d.mustBerth("rmi", "bbox", remote)
	out := d.mustBerth("pull", remote)
	if !strings.Contains(out, "Status: Downloaded newer image for "+remote) || !strings.Contains(out, "Digest: sha256:") || !strings.HasSuffix(out, "\n"+remote+"\n") {
		t.Errorf("berth pull:\n%s", out)
	}
	if out := d.mustBerth("pull", "-q", remote); out != remote+"\n" {
		t.Errorf("berth pull -q: %q", out)
	}
	if out := d.mustBerth("image", "inspect", "--format", "{{.Id}} {{len .RepoDigests}}", remote); strings.TrimSpace(out) != id+" 1" {
		t.Errorf("pulled image: %q, want %s with a repo digest", out, id)
	}
	sameAsDocker(t, d, "images", "--digests")
	if _, errOut, code := d.berth("pull", reg+"/berth/nosuch:v1"); code != 1 || errOut == "" {
		t.Errorf("pull of a missing image: exit %d %q", code, errOut)
	}

	// prune: cancelled without a yes, then -a -f frees the disk
	d.mustBerth("tag", remote, "keep:me")
	if out, errOut, code := d.berth("image", "prune", "-a"); code != 1 || out != pruneAllQuestion || errOut != "image prune has been cancelled\n" {
		t.Errorf("prune without an answer: exit %d %q %q", code, out, errOut)
	}
	// Filters: images younger than until stay; a label not carried keeps them; an
	// unknown filter is refused rather than ignored.
	if out := d.mustBerth("image", "prune", "-a", "-f", "--filter", "until=1h"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("prune -a --filter until=1h removed a new image: %q", out)
	}
	if out := d.mustBerth("image", "prune", "-a", "-f", "--filter", "label=nosuch"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("prune -a --filter label=nosuch: %q", out)
	}
	if _, errOut, code := d.docker("image", "prune", "-a", "-f", "--filter", "bogus=1"); code == 0 || !strings.Contains(errOut, "invalid filter 'bogus'") {
		t.Errorf("prune with an unknown filter: exit %d %q", code, errOut)
	}
	out = d.mustBerth("image", "prune", "-a", "-f")
	if !strings.HasPrefix(out, "Deleted Images:\n") || !strings.Contains(out, "untagged: keep:me\n") || !strings.Contains(out, "deleted: "+id+"\n") || !strings.Contains(out, "\nTotal reclaimed space: ") {
		t.Errorf("prune -a -f:\n%s", out)
	}
	if out := d.mustBerth("images", "-q"); out != "" {
		t.Errorf("images left after prune -a: %q", out)
	}
	if out := d.mustBerth("image", "prune", "-f"); out != "Total reclaimed space: 0B\n" {
		t.Errorf("prune with nothing to prune: %q", out)
	}
	blobs, _ := filepath.Glob(filepath.Join(d.DataRoot, "content", "blobs", "sha256", "*"))
	if len(blobs) != 0 {
		t.Errorf("%d blobs left after prune -a", len(blobs))
	}
}

const pruneAllQuestion = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "

// TestBerthLogin logs in to a registry through berthd, checks the stored
// credentials are docker's config.json entry, and logs out.
func TestBerthLogin(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	reg := registry(t)
	config := t.TempDir()
	out, errOut, code := d.berth("--config", config, "login", "-u", "alice", "-p", "secret", reg)
	if strings.Contains(errOut, "does not serve POST /auth") {
		t.Skipf("berthd has no /auth route yet: %s", errOut)
	}
	if code != 0 || out != "Login Succeeded\n" || !strings.HasPrefix(errOut, "WARNING! Using --password via the CLI is insecure.") {
		t.Fatalf("berth login: exit %d\n%s\n%s", code, out, errOut)
	}
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	data, err := os.ReadFile(filepath.Join(config, "config.json"))
	if err != nil || json.Unmarshal(data, &cfg) != nil || cfg.Auths[reg].Auth != base64.StdEncoding.EncodeToString([]byte("alice:secret")) {
		t.Fatalf("config.json after login: %v\n%s", err, data)
	}
	if out := d.mustBerth("--config", config, "logout", reg); out != "Removing login credentials for "+reg+"\n" {
		t.Errorf("berth logout: %q", out)
	}
	data, _ = os.ReadFile(filepath.Join(config, "config.json"))
	if strings.Contains(string(data), reg) {
		t.Errorf("config.json after logout:\n%s", data)
	}
}

// sameAsDocker runs the same command with berth and with docker against d
// and fails unless both succeed and print the same lines. Lines are compared
// as a set: docker lists an image's repositories in no fixed order (berth
// sorts them). An image made seconds ago may be "Less than a second ago" for
// one and "1 second ago" for the other: when that is the only difference
// (the columns then differ in width too), the outputs are equal.
func sameAsDocker(t *testing.T, d *daemon, args ...string) {
	t.Helper()
	b, dk := d.mustBerth(args...), d.mustDocker(args...)
	if sortedLines(b) == sortedLines(dk) {
		return
	}
	if sortedLines(withoutSeconds(b)) != sortedLines(withoutSeconds(dk)) {
		t.Errorf("%s differs\nberth:\n%s\ndocker:\n%s", strings.Join(args, " "), b, dk)
	}
}

func sortedLines(out string) string {
	lines := strings.Split(out, "\n")
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

var (
	secondsAgo = regexp.MustCompile(`(Less than a second|[0-9]+ seconds?) ago`)
	spaces     = regexp.MustCompile(`   +`)
)

// withoutSeconds replaces "N seconds ago" by one word and column padding by
// a tab.
func withoutSeconds(out string) string {
	return spaces.ReplaceAllString(secondsAgo.ReplaceAllString(out, "RECENT"), "\t")
}
