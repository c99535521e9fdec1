package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDockerVersion(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	out := d.mustDocker("version")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^Server: berth$`),
		regexp.MustCompile(`(?m)^ Engine:$`),
		regexp.MustCompile(`(?m)^  API version:\s+1\.50 \(minimum version 1\.24\)$`),
		regexp.MustCompile(`(?m)^  OS/Arch:\s+linux/` + runtime.GOARCH + `$`),
	} {
		if !want.MatchString(out) {
			t.Errorf("docker version lacks %s:\n%s", want, out)
		}
	}
	if v := strings.TrimSpace(d.mustDocker("version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}")); v != "1.50 linux" {
		t.Errorf("server API version and OS: %q", v)
	}
}

func TestDockerInfo(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	out, errOut, code := d.docker("info")
	if code != 0 || strings.Contains(strings.ToLower(out+errOut), "error") {
		t.Fatalf("docker info: exit %d\n%s\nstderr:\n%s", code, out, errOut)
	}
	cgroup := "1"
	var st syscall.Statfs_t
	if syscall.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
		cgroup = "2"
	}
	for _, want := range []string{
		"\n Storage Driver: overlay2\n",
		"\n Cgroup Version: " + cgroup + "\n",
		"\n Cgroup Driver: cgroupfs\n",
		"\n Docker Root Dir: " + d.DataRoot + "\n",
		"\n CPUs: " + strconv.Itoa(runtime.NumCPU()) + "\n",
		"\n Swarm: inactive\n",
		"\n Images: 0\n",
		"\n Containers: 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("docker info lacks %q:\n%s", strings.TrimSpace(want), out)
		}
	}

	var info struct {
		ID, Name, OSType, KernelVersion string
		MemTotal                        int64
		RegistryConfig                  struct{ Mirrors []string }
	}
	js := d.mustDocker("info", "--format", "{{json .}}")
	if err := json.Unmarshal([]byte(js), &info); err != nil {
		t.Fatalf("docker info --format json: %v\n%s", err, js)
	}
	host, _ := os.Hostname()
	if info.Name != host || info.OSType != "linux" || info.MemTotal <= 0 || info.KernelVersion == "" || info.ID == "" {
		t.Errorf("docker info figures: %+v", info)
	}
}

func TestDockerInfoShowsRegistryConfig(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	config := `{"registry-mirrors": ["https://mirror.example.com"], "insecure-registries": ["reg.example.com:5000"], "labels": ["zone=e2e"]}`
	if err := os.WriteFile(d.ConfigFile, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	out := d.mustDocker("info")
	for _, want := range []string{"\n Insecure Registries:\n  reg.example.com:5000\n", "\n Registry Mirrors:\n  https://mirror.example.com/\n",
		"\n Labels:\n  zone=e2e\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("docker info lacks %q:\n%s", want, out)
		}
	}
}

func TestDockerSystemDF(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	out := d.mustDocker("system", "df")
	for _, want := range []string{"TYPE", "Images ", "Containers ", "Local Volumes ", "Build Cache "} {
		if !strings.Contains(out, want) {
			t.Errorf("docker system df lacks %q:\n%s", want, out)
		}
	}
}

// system df counts containers (running ones active) and the images they use.
func TestDockerSystemDFCountsContainers(t *testing.T) {
	d := withImage(t)
	d.mustDocker("run", "-d", "--name", "up", "bbox", "sleep", "60")
	d.mustDocker("run", "--name", "done", "bbox", "sh", "-c", "head -c 300000 /dev/zero > /blob")
	out := d.mustDocker("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}} {{.Size}}")
	for _, want := range []string{"Images 1 1 ", "Containers 2 1 3"} { // the exited one's 300 kB layer
		if !strings.Contains(out, want) {
			t.Errorf("docker system df lacks %q:\n%s", want, out)
		}
	}
	if out := d.mustDocker("system", "df", "-v", "--format", "{{range .Images}}{{.Containers}}{{end}}"); strings.TrimSpace(out) != "2" {
		t.Errorf("system df -v: the image's containers %q, want 2", out)
	}
	// A layer's size is its files' bytes, as Docker counts them: nothing written, 0B.
	sizes := d.mustDocker("ps", "-a", "-s", "--format", "{{.Names}} {{.Size}}")
	if !strings.Contains(sizes, "done 300kB (virtual ") || !strings.Contains(sizes, "up 0B (virtual ") {
		t.Errorf("ps -s:\n%s", sizes)
	}
	d.mustDocker("rm", "-f", "up", "done")
}

func TestUnknownEndpoint(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	// berth serves no plugins: the CLI reports the daemon's 404 cleanly.
	out, errOut, code := d.docker("plugin", "ls")
	if code == 0 || strings.TrimSpace(errOut) != "Error response from daemon: page not found" {
		t.Errorf("docker plugin ls: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	for _, c := range []struct {
		path    string
		status  int
		message string
	}{
		{"/v1.50/no/such/thing", 404, "page not found"},
		{"/v1.99/_ping", 400, "client version 1.99 is too new. Maximum supported API version is 1.50"},
		{"/v1.12/version", 400, "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your client to a newer version"},
	} {
		resp, err := d.client().Get("http://berth" + c.path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Message string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != c.status || body.Message != c.message {
			t.Errorf("GET %s: %d %q (%v), want %d %q", c.path, resp.StatusCode, body.Message, err, c.status, c.message)
		}
	}
}

func TestDockerEventsWindow(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	// A window entirely in the past: the CLI prints what it holds and returns.
	since := time.Now().Add(-time.Minute).Unix()
	out, errOut, code := d.docker("events", "--since", strconv.FormatInt(since, 10), "--until", "1s")
	if code != 0 || out != "" {
		t.Fatalf("docker events: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if _, errOut, code := d.docker("events", "--filter", "colour=red", "--until", "1s"); code == 0 ||
		!strings.Contains(errOut, "invalid filter 'colour'") {
		t.Fatalf("bad filter: exit %d, %s", code, errOut)
	}
}

func TestSocketModeAndGroup(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	st, err := os.Stat(d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	wantGid := 0
	if g, err := user.LookupGroup("docker"); err == nil {
		wantGid, _ = strconv.Atoi(g.Gid)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o660 || int(sys.Gid) != wantGid || sys.Uid != 0 {
		t.Fatalf("socket mode %v uid %d gid %d, want 0660 root:%d", st.Mode(), sys.Uid, sys.Gid, wantGid)
	}
	for _, dir := range []string{d.DataRoot, d.ExecRoot} {
		st, err := os.Stat(dir)
		if err != nil || st.Mode().Perm() != 0o711 {
			t.Errorf("%s: %v %v, want mode 0711", dir, st.Mode(), err)
		}
	}
}

// oneLineError checks that a failed berthd said exactly one thing, on one line,
// starting "berthd: " and containing want.
func oneLineError(t *testing.T, d *daemon, want string) {
	t.Helper()
	lines := d.stderr.Lines()
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "berthd: ") || !strings.Contains(lines[0], want) {
		t.Fatalf("stderr %q, want one line containing %q", lines, want)
	}
}

func TestSecondDaemonOnSameRootRefuses(t *testing.T) {
	requireE2E(t)
	first := newDaemon(t)
	first.start()

	second := newDaemon(t)
	second.DataRoot = first.DataRoot
	second.launch()
	if code := second.wait(); code == 0 {
		t.Fatal("second berthd on the same data root exited 0")
	}
	oneLineError(t, second, fmt.Sprintf("data root %s is in use by another berthd (pid %d)", first.DataRoot, first.cmd.Process.Pid))
	for _, p := range []string{second.Socket, second.Pidfile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("the refused daemon left %s (%v)", p, err)
		}
	}
	first.mustDocker("version") // the first one is untouched
	if pid, _ := os.ReadFile(first.Pidfile); strings.TrimSpace(string(pid)) != strconv.Itoa(first.cmd.Process.Pid) {
		t.Errorf("first pidfile holds %q", pid)
	}
}

func TestSecondDaemonOnSameSocketRefuses(t *testing.T) {
	requireE2E(t)
	first := newDaemon(t)
	first.start()

	second := newDaemon(t)
	second.Socket = first.Socket
	second.launch()
	if code := second.wait(); code == 0 {
		t.Fatal("second berthd on the same socket exited 0")
	}
	oneLineError(t, second, "another daemon is listening there")
	if _, err := os.Stat(second.Pidfile); !os.IsNotExist(err) {
		t.Errorf("the refused daemon left its pidfile (%v)", err)
	}
	first.mustDocker("version")
}

func TestSIGTERMShutsDownCleanly(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	id := strings.TrimSpace(d.mustDocker("info", "--format", "{{.ID}}"))

	// An event stream in flight must not hold the shutdown up.
	resp, err := d.client().Get("http://berth/v1.50/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if pid, err := os.ReadFile(d.Pidfile); err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(d.cmd.Process.Pid) {
		t.Fatalf("pidfile: %q %v", pid, err)
	}

	start := time.Now()
	if code := d.stop(); code != 0 {
		t.Fatalf("berthd exited %d after SIGTERM:\n%s", code, d.stderr.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("shutdown took %v: the event stream held it up", took)
	}
	if rest, err := io.ReadAll(bufio.NewReader(resp.Body)); err != nil || len(rest) != 0 {
		t.Errorf("event stream after shutdown: %q %v", rest, err)
	}
	for _, p := range []string{d.Socket, d.Pidfile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s left after shutdown (%v)", p, err)
		}
	}

	// The lock went with it: a new daemon takes the same root and keeps its ID.
	d.start()
	if id2 := strings.TrimSpace(d.mustDocker("info", "--format", "{{.ID}}")); id2 != id || id == "" {
		t.Errorf("engine ID %q after restart, was %q", id2, id)
	}
}

func TestDaemonJSONUnknownKey(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	if err := os.WriteFile(d.ConfigFile, []byte(`{"debug": true, "foo": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d.launch()
	if code := d.wait(); code == 0 {
		t.Fatal("berthd started with an unknown key in daemon.json")
	}
	oneLineError(t, d, fmt.Sprintf(`unknown key in %s: "foo"`, d.ConfigFile))
	if _, err := os.Stat(d.DataRoot); !os.IsNotExist(err) {
		t.Errorf("berthd created its data root before refusing the configuration (%v)", err)
	}
}

func TestFlagAndFileConflict(t *testing.T) {
	requireE2E(t)
	d := newDaemon(t)
	if err := os.WriteFile(d.ConfigFile, []byte(`{"hosts": ["unix:///tmp/berth-test-e2e-other.sock"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d.launch()
	if code := d.wait(); code == 0 {
		t.Fatal("berthd started with hosts given twice")
	}
	oneLineError(t, d, "the following directives are specified both as a flag and in the configuration file: hosts: (from flag: ["+
		d.Host()+"], from file: [unix:///tmp/berth-test-e2e-other.sock])")
}
