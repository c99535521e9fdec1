package daemon

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/daemon/config"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataRoot = filepath.Join(dir, "data", "root")
	cfg.ExecRoot = filepath.Join(dir, "exec")
	cfg.Pidfile = filepath.Join(dir, "exec", "berthd.pid")
	cfg.Hosts = []string{"unix://" + filepath.Join(dir, "b.sock")}
	// The containers' cgroups under a parent of the test's own, removed with it.
	cfg.CgroupParent = "/berth-test-daemon-" + filepath.Base(dir)
	t.Cleanup(func() { removeCgroupParent(cfg.CgroupParent) })
	// No networking: these tests make no bridge or firewall table on the host (the
	// e2e tests give each daemon private ones).
	cfg.Bridge = "none"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return &cfg
}

// removeCgroupParent removes the (empty) cgroup parent from every hierarchy.
func removeCgroupParent(parent string) {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + parent)
	for _, h := range dirs {
		var all []string
		filepath.WalkDir(h, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			os.Remove(all[i])
		}
	}
}

func newDaemon(t *testing.T, cfg *config.Config) *Daemon {
	t.Helper()
	d, err := New(Options{Config: cfg, Build: BuildInfo{Version: "9.9.9-test", GitCommit: "abc123"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestNewMakesRootsAndLocks(t *testing.T) {
	cfg := testConfig(t)
	d := newDaemon(t, cfg)
	for _, dir := range []string{cfg.DataRoot, cfg.ExecRoot} {
		st, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o711 {
			t.Errorf("%s has mode %o, want 711", dir, st.Mode().Perm())
		}
	}
	pid, err := os.ReadFile(filepath.Join(cfg.DataRoot, "berthd.lock"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q, %v", pid, err)
	}

	// flock locks belong to the open file, so a second open conflicts even here.
	_, err = New(Options{Config: cfg})
	want := "data root " + cfg.DataRoot + " is in use by another berthd (pid " + strconv.Itoa(os.Getpid()) + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("second New: got %v, want %q", err, want)
	}

	d.Close()
	d2 := newDaemon(t, cfg)
	if d2.ID() != d.ID() {
		t.Fatalf("engine ID changed across restarts: %s then %s", d.ID(), d2.ID())
	}
}

func TestIDIsUUIDAndRemadeWhenCorrupt(t *testing.T) {
	cfg := testConfig(t)
	d := newDaemon(t, cfg)
	if !uuidPattern.MatchString(d.ID()) || d.ID()[14] != '4' {
		t.Fatalf("ID %q is not a version 4 UUID", d.ID())
	}
	d.Close()
	if err := os.WriteFile(filepath.Join(cfg.DataRoot, "engine-id"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	d2 := newDaemon(t, cfg)
	if !uuidPattern.MatchString(d2.ID()) || d2.ID() == d.ID() {
		t.Fatalf("ID after corruption: %q", d2.ID())
	}
}

func TestNewRefusesFileAsRoot(t *testing.T) {
	cfg := testConfig(t)
	if err := os.MkdirAll(filepath.Dir(cfg.DataRoot), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DataRoot, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Config: cfg}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("got %v", err)
	}
}

func TestSystemInfo(t *testing.T) {
	cfg := testConfig(t)
	cfg.InsecureRegistries = []string{"reg.local:5000", "10.0.0.0/8"}
	cfg.RegistryMirrors = []string{"https://mirror.example.com/"}
	cfg.Labels = []string{"zone=a"}
	d := newDaemon(t, cfg)
	_, sub := d.Events().Subscribe(time.Time{}, nil)
	defer sub.Close()

	info, err := d.SystemInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if info.ID != d.ID() || info.DockerRootDir != cfg.DataRoot || info.Name != host || info.ServerVersion != "9.9.9-test" {
		t.Errorf("identity: ID %q root %q name %q version %q", info.ID, info.DockerRootDir, info.Name, info.ServerVersion)
	}
	if info.NCPU != runtime.NumCPU() || info.MemTotal <= 0 || info.KernelVersion == "" || info.OperatingSystem == "" {
		t.Errorf("host figures: NCPU %d MemTotal %d kernel %q OS %q", info.NCPU, info.MemTotal, info.KernelVersion, info.OperatingSystem)
	}
	if info.Driver != "overlay2" || info.CgroupDriver != "cgroupfs" || (info.CgroupVersion != "1" && info.CgroupVersion != "2") {
		t.Errorf("driver %q cgroup driver %q version %q", info.Driver, info.CgroupDriver, info.CgroupVersion)
	}
	if info.NEventsListener != 1 {
		t.Errorf("NEventsListener = %d, want 1", info.NEventsListener)
	}
	if !slices.Contains(info.SecurityOptions, "name=seccomp,profile=builtin") {
		t.Errorf("SecurityOptions = %q", info.SecurityOptions)
	}
	rc := info.RegistryConfig
	if hub := rc.IndexConfigs["docker.io"]; hub == nil || !hub.Secure || !hub.Official || !slices.Equal(hub.Mirrors, cfg.RegistryMirrors) {
		t.Errorf("docker.io index config: %+v", hub)
	}
	if reg := rc.IndexConfigs["reg.local:5000"]; reg == nil || reg.Secure {
		t.Errorf("insecure registry index config: %+v", reg)
	}
	var cidrs []string
	for _, p := range rc.InsecureRegistryCIDRs {
		cidrs = append(cidrs, p.String())
	}
	if !slices.Equal(cidrs, []string{"10.0.0.0/8", "::1/128", "127.0.0.0/8"}) {
		t.Errorf("insecure CIDRs %q", cidrs)
	}
	if !slices.Equal(info.Labels, []string{"zone=a"}) || info.Swarm.LocalNodeState != "inactive" {
		t.Errorf("labels %q swarm %q", info.Labels, info.Swarm.LocalNodeState)
	}

	cfg.NoNewPrivileges = true
	info, _ = d.SystemInfo(context.Background())
	if !slices.Contains(info.SecurityOptions, "name=no-new-privileges") {
		t.Errorf("security %q", info.SecurityOptions)
	}

	// The driver is the snapshotter opened at start: "native" is vfs's other name.
	vfs := testConfig(t)
	vfs.StorageDriver = "native"
	info, _ = newDaemon(t, vfs).SystemInfo(context.Background())
	if info.Driver != "vfs" {
		t.Errorf("driver %q with storage-driver native, want vfs", info.Driver)
	}
}

func TestSystemDiskUsageOnlyWhatIsAsked(t *testing.T) {
	d := newDaemon(t, testConfig(t))
	du, err := d.SystemDiskUsage(context.Background(), DiskUsageOptions{Images: true, Volumes: true})
	if err != nil {
		t.Fatal(err)
	}
	if du.Images == nil || du.Volumes == nil || du.Containers != nil || du.BuildCache != nil || du.LayersSize != 0 {
		t.Fatalf("got %+v", du)
	}
}

func TestProxyEnvMasksPassword(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("https_proxy", "http://user:secret@proxy:3128")
	if got := proxyEnv("HTTPS_PROXY"); got != "http://user:xxxxx@proxy:3128" {
		t.Fatalf("got %q", got)
	}
}

// ps's expose and publish filters read a port, a range and a protocol as
// Docker's do (tcp unless given); a bad value is refused.
func TestPortFilter(t *testing.T) {
	for v, want := range map[string]string{"80": "80/tcp", "53/udp": "53/udp", "8000-8002": "8000/tcp 8001/tcp 8002/tcp"} {
		got, err := portFilter(v)
		if err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		keys := slices.Sorted(maps.Keys(got))
		if strings.Join(keys, " ") != want {
			t.Errorf("%s: %v, want %s", v, keys, want)
		}
	}
	for _, bad := range []string{"", "x", "0", "90-80", "70000", "1-x"} {
		if _, err := portFilter(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
