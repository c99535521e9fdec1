package e2e

// Interop with the tools a Docker user moves images between: Debian's dockerd
// (a private one per test, never the system's), podman and skopeo. An image
// berth saves must load in each of them with the same ID (the digest of its
// config), and what they write must load in berth. Each test skips, naming the
// Debian package, when its peer is not installed.

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// requireTool skips unless the peer tool is installed; pkg is its Debian package.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("needs %s (apt-get install %s)", name, pkg)
	}
	return p
}

// importTestImages imports two images into d that share nothing but a save
// file: a busybox root file system (tagged twice) and a one-file layer. It
// returns their references and the ID of each.
func importTestImages(t *testing.T, d *daemon) (refs []string, ids map[string]string) {
	t.Helper()
	ids = map[string]string{}
	bbox := strings.TrimSpace(d.mustDocker("import", "--change", `CMD ["sh"]`, "--change", "ENV GREETING=hi", rootfsTar(t), "berth-interop/bbox:latest"))
	d.mustDocker("tag", "berth-interop/bbox:latest", "berth-interop/bbox:alias")
	note := strings.TrimSpace(d.mustDocker("import", "--change", `CMD ["/greeting"]`, "--change", "LABEL purpose=interop", noteTar(t), "berth-interop/note:v1"))
	ids["berth-interop/bbox:latest"], ids["berth-interop/bbox:alias"], ids["berth-interop/note:v1"] = bbox, bbox, note
	return []string{"berth-interop/bbox:latest", "berth-interop/bbox:alias", "berth-interop/note:v1"}, ids
}

// tarDir packs members of dir into the tarball file with tar(1), as a user would.
func tarDir(t *testing.T, dir, file string, members ...string) {
	t.Helper()
	if out, err := exec.Command("tar", append([]string{"-C", dir, "-cf", file}, members...)...).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
}

// noteTar writes a layer of one small file, /greeting, and returns its path.
func noteTar(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "note.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	body := "hello from berth\n"
	hdr := &tar.Header{Name: "greeting", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// imageFacts is what a user compares between two engines holding the same
// image: its ID, its run configuration and its layers.
// (index, unlike .Config.Labels, is not an error where an engine's API omits
// an empty field.)
const imageFacts = `{{.Id}} {{json (index .Config "Cmd")}} {{json (index .Config "Env")}} {{json (index .Config "Labels")}} {{len .RootFS.Layers}} {{.Os}}/{{.Architecture}}`

// historyFacts is `docker history` without the times, which are rendered
// relative to now.
const historyFacts = `{{.CreatedBy}}|{{.Comment}}|{{.Size}}`

// loadedLines returns the "Loaded image: ..." and "Loaded image ID: ..."
// lines of a docker load, sorted.
func loadedLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Loaded image") {
			lines = append(lines, l)
		}
	}
	slices.Sort(lines)
	return lines
}

func loadedImages(refs ...string) []string {
	var lines []string
	for _, r := range refs {
		lines = append(lines, "Loaded image: "+r)
	}
	slices.Sort(lines)
	return lines
}

// peerDockerd is a private Debian dockerd: its own data root, exec root (and
// so its own containerd), socket, pidfile and daemon.json, with no bridge and
// no iptables rules. The docker CLI reaches it through cli.
type peerDockerd struct {
	t                  *testing.T
	dir                string // the short directory holding everything
	dataRoot, execRoot string
	cli                *daemon // the docker CLI runner pointed at this dockerd
	cmd                *exec.Cmd
	exited             chan struct{}
	exitErr            error
	containerd         int // the pid of its containerd child
}

// startDockerd starts a private dockerd and waits until it answers /_ping.
// Clean-up stops it and checks that it left no process or mount behind.
func startDockerd(t *testing.T) *peerDockerd {
	t.Helper()
	bin := "/usr/sbin/dockerd"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("needs dockerd (apt-get install docker.io): %v", err)
	}
	dir, err := os.MkdirTemp("/tmp", "berth-test-interop-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) }) // runs after the stop below
	p := &peerDockerd{t: t, dir: dir, dataRoot: filepath.Join(dir, "root"), execRoot: filepath.Join(dir, "exec")}
	p.cli = &daemon{t: t, Socket: filepath.Join(dir, "docker.sock"), DockerConfig: t.TempDir()}

	// dockerd 20.10 keeps a "trust key" in /etc/docker/key.json, creating it if
	// missing; point it into the private directory. A dockerd that no longer
	// knows the option refuses it at start-up: start it again without.
	keyConfig := fmt.Sprintf(`{"deprecated-key-path": %q}`, filepath.Join(dir, "key.json"))
	if !p.launch(bin, keyConfig, false) {
		p.launch(bin, "{}", true)
	}
	pid, err := os.ReadFile(filepath.Join(p.execRoot, "containerd", "containerd.pid"))
	if err != nil {
		t.Fatalf("dockerd started no containerd of its own: %v\n%s", err, p.cli.stderr.String())
	}
	p.containerd, _ = strconv.Atoi(strings.TrimSpace(string(pid)))
	if !p.isOurContainerd() {
		t.Fatalf("containerd.pid of dockerd names pid %q, not its containerd", pid)
	}
	t.Cleanup(p.stop)
	return p
}

// launch starts dockerd with config as its daemon.json and waits until it
// serves. When it exits first it fails the test, or, unless strict, returns
// false if it complained of the trust key option.
func (p *peerDockerd) launch(bin, config string, strict bool) bool {
	t := p.t
	t.Helper()
	cfg := filepath.Join(p.dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte(config+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin,
		"--data-root", p.dataRoot, "--exec-root", p.execRoot, "--pidfile", filepath.Join(p.dir, "dockerd.pid"),
		"-H", "unix://"+p.cli.Socket, "--config-file", cfg, "--log-level", "warn",
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false")
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan struct{})
	cmd, exited := p.cmd, p.exited
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.cli.stderr.WriteLine(sc.Text())
		}
		p.exitErr = cmd.Wait()
		close(exited)
	}()
	return p.waitReady(strict)
}

// waitReady polls /_ping until dockerd answers; see launch.
func (p *peerDockerd) waitReady(strict bool) bool {
	t := p.t
	t.Helper()
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", p.cli.Socket)
		},
	}}
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.exited:
			if !strict && strings.Contains(p.cli.stderr.String(), "deprecated-key-path") {
				return false
			}
			t.Fatalf("dockerd exited during start-up (%v):\n%s", p.exitErr, p.cli.stderr.String())
		default:
		}
		if resp, err := client.Get("http://dockerd/_ping"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer /_ping within %v:\n%s", startTimeout, p.cli.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends dockerd SIGTERM, waits for it, and fails the test if its
// containerd outlives it or a mount under its roots is left (which it then
// kills or unmounts, so nothing leaks into later tests).
func (p *peerDockerd) stop() {
	t := p.t
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(startTimeout):
			t.Errorf("dockerd did not exit within %v of SIGTERM:\n%s", startTimeout, p.cli.stderr.String())
			p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if p.exitErr != nil {
		t.Errorf("dockerd exited with %v after SIGTERM:\n%s", p.exitErr, p.cli.stderr.String())
	}

	// Its containerd is reaped by dockerd on the way out; check it is gone
	// (and that the pid still names that containerd, not a reused pid).
	if p.containerd > 0 {
		deadline := time.Now().Add(10 * time.Second)
		for p.isOurContainerd() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if p.isOurContainerd() {
			t.Errorf("dockerd's containerd (pid %d) outlived it; killing it", p.containerd)
			syscall.Kill(p.containerd, syscall.SIGKILL)
		}
	}

	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(p.dir))
	if err != nil {
		t.Errorf("read mountinfo: %v", err)
		return
	}
	// Deepest first, so that nested mounts come off before their parents.
	slices.SortFunc(mounts, func(a, b *mountinfo.Info) int { return len(b.Mountpoint) - len(a.Mountpoint) })
	for _, m := range mounts {
		t.Errorf("dockerd left %s mounted (%s); unmounting it", m.Mountpoint, m.FSType)
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", m.Mountpoint, err)
		}
	}
}

func (p *peerDockerd) isOurContainerd() bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p.containerd) + "/cmdline")
	if err != nil {
		return false
	}
	stat, _ := os.ReadFile("/proc/" + strconv.Itoa(p.containerd) + "/stat")
	if f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(f) > 0 && f[0] == "Z" {
		return false // exited, waiting to be reaped by init
	}
	return strings.Contains(string(cmdline), p.execRoot)
}

// TestInteropDockerd moves images between berthd and a private Debian dockerd
// through `docker save` and `docker load`, both ways, and checks that each
// side sees the same tags, IDs, configs and history.
func TestInteropDockerd(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	refs, ids := importTestImages(t, d)
	saved := filepath.Join(t.TempDir(), "berth.tar")
	d.mustDocker("save", "-o", saved, refs[0], refs[1], refs[2])

	p := startDockerd(t)
	peer := p.cli
	if got, want := loadedLines(peer.mustDocker("load", "-i", saved)), loadedImages(refs...); !slices.Equal(got, want) {
		t.Errorf("dockerd's docker load of berth's save printed %q, want %q", got, want)
	}
	// A save unpacked and packed again with `tar -C dir -c .` (members "./",
	// "./manifest.json", ...) loads in dockerd, and so must it in berthd.
	unpacked := t.TempDir()
	if out, err := exec.Command("tar", "-C", unpacked, "-xf", saved).CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v %s", err, out)
	}
	repacked := filepath.Join(t.TempDir(), "repacked.tar")
	tarDir(t, unpacked, repacked, ".")
	sides := []struct {
		name   string
		daemon *daemon
	}{{"dockerd", peer}, {"berthd", d}}
	for _, side := range sides {
		if out, errOut, code := side.daemon.docker("load", "-i", repacked); code != 0 || !slices.Equal(loadedLines(out), loadedImages(refs...)) {
			t.Errorf("%s: docker load of a save packed again with `tar -c .`: exit %d\n%s%s", side.name, code, out, errOut)
		}
	}
	listing := "{{.Repository}}:{{.Tag}} {{.ID}}"
	if b, k := d.mustDocker("images", "--format", listing), peer.mustDocker("images", "--format", listing); sortedLines(b) != sortedLines(k) {
		t.Errorf("docker images differ\nberthd:\n%s\ndockerd:\n%s", b, k)
	}
	for _, ref := range refs {
		b := d.mustDocker("image", "inspect", "--format", imageFacts, ref)
		if k := peer.mustDocker("image", "inspect", "--format", imageFacts, ref); b != k {
			t.Errorf("%s in berthd: %s         in dockerd: %s", ref, b, k)
		}
		if !strings.HasPrefix(b, ids[ref]+" ") {
			t.Errorf("%s in berthd: %s, want ID %s", ref, b, ids[ref])
		}
		hist := `{{.ID}}|` + historyFacts
		if b, k := d.mustDocker("history", "--no-trunc", "--format", hist, ref), peer.mustDocker("history", "--no-trunc", "--format", hist, ref); b != k {
			t.Errorf("docker history %s differs\nberthd:\n%s\ndockerd:\n%s", ref, b, k)
		}
	}

	// The other way: dockerd builds an image of three history entries and
	// two layers on berth's busybox, saves it with its base, and berth loads both.
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "hello"), []byte("hello from dockerd\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM berth-interop/bbox:latest\nCOPY hello /hello\nENV BUILT_BY=dockerd\n"), 0o644)
	if out, errOut, code := peer.runCLI(dockerCLI, []string{"DOCKER_HOST=unix://" + peer.Socket, "DOCKER_CONFIG=" + peer.DockerConfig, "DOCKER_BUILDKIT=0"},
		[]string{"build", "-q", "-t", "berth-interop/built:v1", ctx}); code != 0 {
		t.Fatalf("docker build in dockerd: exit %d\n%s\n%s\n%s", code, out, errOut, peer.stderr.String())
	}
	built := strings.TrimSpace(peer.mustDocker("image", "inspect", "--format", "{{.Id}}", "berth-interop/built:v1"))
	fromDockerd := filepath.Join(t.TempDir(), "dockerd.tar")
	peer.mustDocker("save", "-o", fromDockerd, "berth-interop/built:v1", "berth-interop/bbox:latest")
	d.mustDocker("rmi", refs[0], refs[1])
	if got, want := loadedLines(d.mustDocker("load", "-i", fromDockerd)), loadedImages("berth-interop/built:v1", "berth-interop/bbox:latest"); !slices.Equal(got, want) {
		t.Errorf("berthd's docker load of dockerd's save printed %q, want %q", got, want)
	}
	for _, ref := range []string{"berth-interop/built:v1", "berth-interop/bbox:latest"} {
		b := d.mustDocker("image", "inspect", "--format", imageFacts, ref)
		if k := peer.mustDocker("image", "inspect", "--format", imageFacts, ref); b != k {
			t.Errorf("%s in berthd: %s         in dockerd: %s", ref, b, k)
		}
		// dockerd's rows below the top are its own intermediate images, which
		// a save does not carry: compare the rows without their IDs.
		if b, k := d.mustDocker("history", "--no-trunc", "--format", historyFacts, ref), peer.mustDocker("history", "--no-trunc", "--format", historyFacts, ref); b != k {
			t.Errorf("docker history %s differs\nberthd:\n%s\ndockerd:\n%s", ref, b, k)
		}
	}
	// (dockerd's build adds a default PATH to an image without one.)
	if got := d.mustDocker("image", "inspect", "--format", "{{.Id}} {{len .RootFS.Layers}} {{.Config.Env}}", "berth-interop/built:v1"); !strings.HasPrefix(got, built+" 2 [GREETING=hi ") || !strings.HasSuffix(got, " BUILT_BY=dockerd]\n") {
		t.Errorf("dockerd's build loaded in berthd: %q, want ID %s, 2 layers and both ENVs", got, built)
	}
	if out := d.mustDocker("history", "--format", "{{.ID}}", "berth-interop/built:v1"); out != built[len("sha256:"):][:12]+"\n<missing>\n<missing>\n" {
		t.Errorf("docker history of the loaded build lists IDs %q, want its own and <missing> twice", out)
	}

	// And berth's save of dockerd's build goes back into dockerd unchanged.
	again := filepath.Join(t.TempDir(), "again.tar")
	d.mustDocker("save", "-o", again, "berth-interop/built:v1")
	peer.mustDocker("rmi", "berth-interop/built:v1")
	if got, want := loadedLines(peer.mustDocker("load", "-i", again)), loadedImages("berth-interop/built:v1"); !slices.Equal(got, want) {
		t.Errorf("dockerd's docker load of the round trip printed %q, want %q", got, want)
	}
	if got := peer.mustDocker("image", "inspect", "--format", "{{.Id}}", "berth-interop/built:v1"); got != built+"\n" {
		t.Errorf("round trip through berth: dockerd has ID %q, want %s", got, built)
	}

	// Saved by ID, an image has no name in the file: docker load of it reports
	// the ID, though the daemon holds the image under tags.
	note := ids["berth-interop/note:v1"]
	for _, byID := range []string{note, note[len("sha256:"):][:12]} {
		for _, side := range sides {
			file := filepath.Join(t.TempDir(), "by-id.tar")
			side.daemon.mustDocker("save", "-o", file, byID)
			if got := loadedLines(side.daemon.mustDocker("load", "-i", file)); !slices.Equal(got, []string{"Loaded image ID: " + note}) {
				t.Errorf("%s: docker save %s | docker load printed %q, want only the ID", side.name, byID, got)
			}
		}
	}
}

// podman runs podman with every path of its own under dir (storage, run
// state, events, networks): nothing of the host's podman is read or changed.
func podman(t *testing.T, dir string, args ...string) string {
	t.Helper()
	bin := requireTool(t, "podman", "podman")
	global := []string{
		"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--tmpdir", filepath.Join(dir, "tmp"),
		"--volumepath", filepath.Join(dir, "volumes"), "--network-config-dir", filepath.Join(dir, "networks"),
		"--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
	}
	return mustRun(t, bin, append(global, args...)...)
}

// mustRun runs a peer tool with its temporary files in the test's directory
// and returns its stdout, failing the test unless it exits 0.
func mustRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	var errOut strings.Builder
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, errOut.String())
	}
	return string(out)
}

// TestInteropPodman loads berth's save into podman, and podman's save into berth.
func TestInteropPodman(t *testing.T) {
	requireE2E(t)
	requireTool(t, "podman", "podman")
	d := newDaemon(t)
	d.start()
	refs, ids := importTestImages(t, d)
	saved := filepath.Join(t.TempDir(), "berth.tar")
	d.mustDocker(append([]string{"save", "-o", saved}, refs...)...)

	dir := t.TempDir()
	out := podman(t, dir, "load", "-i", saved)
	// podman names an image without a registry in its name as one of localhost.
	var want []string
	for _, r := range refs {
		want = append(want, "Loaded image: localhost/"+r)
	}
	slices.Sort(want)
	if got := loadedLines(out); !slices.Equal(got, want) {
		t.Errorf("podman load printed %q, want %q", got, want)
	}
	for _, ref := range refs {
		// podman's image ID is the config digest, as berth's is, without "sha256:".
		got := podman(t, dir, "image", "inspect", "--format", "{{.ID}} {{json .Config.Cmd}} {{json .Config.Env}}", ref)
		b := d.mustDocker("image", "inspect", "--format", `{{.Id}} {{json (index .Config "Cmd")}} {{json (index .Config "Env")}}`, ref)
		if "sha256:"+got != b || !strings.HasPrefix(b, ids[ref]+" ") {
			t.Errorf("%s in podman: %s         in berthd: %s", ref, got, b)
		}
	}

	// podman's docker-archive of one of them loads back into berth.
	fromPodman := filepath.Join(t.TempDir(), "podman.tar")
	podman(t, dir, "save", "--format", "docker-archive", "-o", fromPodman, "berth-interop/note:v1")
	// Its RepoTags carry podman's name, localhost/..., and so does the image in
	// berth, as in Docker, where localhost is a registry host like any other.
	// berthd still holds the image as berth-interop/note:v1: docker load names
	// only what the archive named, as Docker's does.
	if got := loadedLines(d.mustDocker("load", "-i", fromPodman)); !slices.Equal(got, loadedImages("localhost/berth-interop/note:v1")) {
		t.Errorf("berthd's docker load of podman's save printed %q, want only the archive's name", got)
	}
	if got := d.mustDocker("image", "inspect", "--format", "{{.Id}}", "localhost/berth-interop/note:v1"); got != ids["berth-interop/note:v1"]+"\n" {
		t.Errorf("podman's save loaded in berthd has ID %q, want %s", got, ids["berth-interop/note:v1"])
	}
}

// skopeoTool runs skopeo with a private trust policy that accepts anything,
// so that the host's /etc/containers/policy.json does not matter.
type skopeoTool struct {
	t           *testing.T
	bin, policy string
}

func newSkopeo(t *testing.T) *skopeoTool {
	t.Helper()
	bin := requireTool(t, "skopeo", "skopeo")
	policy := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &skopeoTool{t: t, bin: bin, policy: policy}
}

func (s *skopeoTool) run(args ...string) string {
	s.t.Helper()
	return mustRun(s.t, s.bin, append([]string{"--policy", s.policy}, args...)...)
}

// manifest reads the manifest of an image skopeo can reach and returns its
// config digest and number of layers.
func (s *skopeoTool) manifest(ref string, flags ...string) (config string, layers int) {
	s.t.Helper()
	raw := s.run(append(append([]string{"inspect", "--raw"}, flags...), ref)...)
	var m struct {
		Config struct{ Digest string }
		Layers []json.RawMessage
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		s.t.Fatalf("skopeo inspect --raw %s: %v\n%s", ref, err, raw)
	}
	// The config the manifest names is the one skopeo serves, byte for byte.
	cfg := s.run(append(append([]string{"inspect", "--config", "--raw"}, flags...), ref)...)
	if sum := sha256.Sum256([]byte(cfg)); "sha256:"+hex.EncodeToString(sum[:]) != m.Config.Digest {
		s.t.Errorf("skopeo inspect --config %s: the config's digest is not the manifest's %s", ref, m.Config.Digest)
	}
	return m.Config.Digest, len(m.Layers)
}

// skopeoSource imports the test images into a berthd, saves them to one
// file, and checks that skopeo reads each image in it by name as berth's
// image. It returns the daemon, the skopeo reference of berth-interop/bbox in
// the file, and the images' IDs.
func skopeoSource(t *testing.T, s *skopeoTool) (d *daemon, src string, ids map[string]string) {
	t.Helper()
	d = newDaemon(t)
	d.start()
	refs, ids := importTestImages(t, d)
	saved := filepath.Join(t.TempDir(), "berth.tar")
	d.mustDocker(append([]string{"save", "-o", saved}, refs...)...)
	for _, ref := range []string{"berth-interop/bbox:latest", "berth-interop/note:v1"} {
		if cfg, layers := s.manifest("docker-archive:" + saved + ":" + ref); cfg != ids[ref] || layers != 1 {
			t.Errorf("skopeo reads %s in berth's save as config %s with %d layers, want %s and 1", ref, cfg, layers, ids[ref])
		}
	}
	return d, "docker-archive:" + saved + ":berth-interop/bbox:latest", ids
}

// TestInteropSkopeoArchives copies berth's save with skopeo into a
// docker-archive, an OCI layout and an oci-archive, checks each copy is the
// same image, and loads each into a fresh berthd.
func TestInteropSkopeoArchives(t *testing.T) {
	requireE2E(t)
	s := newSkopeo(t)
	d, src, ids := skopeoSource(t, s)
	id := ids["berth-interop/bbox:latest"]
	want := d.mustDocker("image", "inspect", "--format", imageFacts, "berth-interop/bbox:latest")
	fresh := newDaemon(t)
	fresh.start()
	tmp := t.TempDir()

	// docker-archive, with a second tag.
	copied := filepath.Join(tmp, "copy.tar")
	s.run("copy", "--additional-tag", "berth-interop/copy:extra", src, "docker-archive:"+copied+":berth-interop/copy:v1")
	if cfg, layers := s.manifest("docker-archive:" + copied); cfg != id || layers != 1 {
		t.Errorf("skopeo's docker-archive copy: config %s with %d layers, want %s and 1", cfg, layers, id)
	}
	if got, want := loadedLines(fresh.mustDocker("load", "-i", copied)), loadedImages("berth-interop/copy:v1", "berth-interop/copy:extra"); !slices.Equal(got, want) {
		t.Errorf("docker load of skopeo's docker-archive printed %q, want %q", got, want)
	}
	for _, ref := range []string{"berth-interop/copy:v1", "berth-interop/copy:extra"} {
		if got := fresh.mustDocker("image", "inspect", "--format", imageFacts, ref); got != want {
			t.Errorf("%s loaded from skopeo's docker-archive: %s, want %s", ref, got, want)
		}
	}
	fresh.mustDocker("rmi", "berth-interop/copy:v1", "berth-interop/copy:extra")

	// An OCI layout, tarred as docker load takes it. Its one index entry is
	// named only "latest" (org.opencontainers.image.ref.name), a tag without a
	// repository, so the image loads untagged and docker load reports its ID,
	// as Docker does for an entry without a name. (Docker's containerd image
	// store would make "latest" a repository name; its classic store cannot
	// load a layout without a manifest.json at all.)
	layout := filepath.Join(tmp, "layout")
	s.run("copy", src, "oci:"+layout+":latest")
	if cfg, layers := s.manifest("oci:" + layout + ":latest"); cfg != id || layers != 1 {
		t.Errorf("skopeo's OCI layout: config %s with %d layers, want %s and 1", cfg, layers, id)
	}
	tarball := filepath.Join(tmp, "layout.tar")
	tarDir(t, layout, tarball, "oci-layout", "index.json", "blobs")
	if got := loadedLines(fresh.mustDocker("load", "-i", tarball)); !slices.Equal(got, []string{"Loaded image ID: " + id}) {
		t.Errorf("docker load of skopeo's OCI layout printed %q, want the ID %s", got, id)
	}
	if got := fresh.mustDocker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"); got != "<none>:<none> "+id[len("sha256:"):][:12]+"\n" {
		t.Errorf("docker images after loading skopeo's OCI layout:\n%s", got)
	}
	if got := fresh.mustDocker("image", "inspect", "--format", imageFacts, id); got != want {
		t.Errorf("image loaded from skopeo's OCI layout: %s, want %s", got, want)
	}
	// The same layout tarred the usual way, `tar -C layout -c .`: its members
	// are "./", "./index.json", ...
	fresh.mustDocker("rmi", id)
	dotted := filepath.Join(tmp, "layout-dot.tar")
	tarDir(t, layout, dotted, ".")
	if out, errOut, code := fresh.docker("load", "-i", dotted); code != 0 || !slices.Equal(loadedLines(out), []string{"Loaded image ID: " + id}) {
		t.Errorf("docker load of `tar -C layout -c .`: exit %d\n%s%s", code, out, errOut)
	}

	// An oci-archive whose entry is named with a full reference loads under it.
	archive := filepath.Join(tmp, "oci.tar")
	s.run("copy", src, "oci-archive:"+archive+":berth-interop/bbox:oci")
	if cfg, layers := s.manifest("oci-archive:" + archive + ":berth-interop/bbox:oci"); cfg != id || layers != 1 {
		t.Errorf("skopeo's oci-archive: config %s with %d layers, want %s and 1", cfg, layers, id)
	}
	if got, want := loadedLines(fresh.mustDocker("load", "-i", archive)), loadedImages("berth-interop/bbox:oci"); !slices.Equal(got, want) {
		t.Errorf("docker load of skopeo's oci-archive printed %q, want %q", got, want)
	}
	if got := fresh.mustDocker("image", "inspect", "--format", imageFacts, "berth-interop/bbox:oci"); got != want {
		t.Errorf("berth-interop/bbox:oci loaded from skopeo's oci-archive: %s, want %s", got, want)
	}
}

// TestInteropSkopeoRegistry copies berth's save with skopeo into a registry
// and pulls it into a fresh berthd; and copies out what berth pushed.
func TestInteropSkopeoRegistry(t *testing.T) {
	requireE2E(t)
	s := newSkopeo(t)
	reg := registry(t)
	d, src, ids := skopeoSource(t, s)
	id := ids["berth-interop/bbox:latest"]
	fresh := newDaemon(t)
	fresh.start()

	remote := reg + "/berth-interop/bbox:skopeo"
	s.run("copy", "--dest-tls-verify=false", src, "docker://"+remote)
	if cfg, layers := s.manifest("docker://"+remote, "--tls-verify=false"); cfg != id || layers != 1 {
		t.Errorf("skopeo's copy in the registry: config %s with %d layers, want %s and 1", cfg, layers, id)
	}
	if out := fresh.mustDocker("pull", remote); !strings.Contains(out, "Status: Downloaded newer image for "+remote) {
		t.Errorf("docker pull of skopeo's copy:\n%s", out)
	}
	want := d.mustDocker("image", "inspect", "--format", imageFacts, "berth-interop/bbox:latest")
	if got := fresh.mustDocker("image", "inspect", "--format", imageFacts, remote); got != want {
		t.Errorf("%s pulled into berthd: %s, want %s", remote, got, want)
	}

	// What berth pushes, skopeo reads and copies out.
	pushed := reg + "/berth-interop/note:pushed"
	d.mustDocker("tag", "berth-interop/note:v1", pushed)
	d.mustDocker("push", pushed)
	if cfg, layers := s.manifest("docker://"+pushed, "--tls-verify=false"); cfg != ids["berth-interop/note:v1"] || layers != 1 {
		t.Errorf("skopeo reads berth's push as config %s with %d layers, want %s and 1", cfg, layers, ids["berth-interop/note:v1"])
	}
	layout := filepath.Join(t.TempDir(), "pushed")
	s.run("copy", "--src-tls-verify=false", "docker://"+pushed, "oci:"+layout+":note")
	if cfg, _ := s.manifest("oci:" + layout + ":note"); cfg != ids["berth-interop/note:v1"] {
		t.Errorf("skopeo's copy of berth's push: config %s, want %s", cfg, ids["berth-interop/note:v1"])
	}
}
