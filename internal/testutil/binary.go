package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// BinDirEnv names the environment variable pointing at prebuilt binaries.
const BinDirEnv = "BERTH_BIN_DIR"

// binDirPrefix starts the name of every per-process build directory in
// os.TempDir(); the process id follows, so stale ones can be recognised.
const binDirPrefix = "berth-test-bin-"

var (
	binMu     sync.Mutex
	binDir    string // this process's build directory, made on first build
	binBuilds = map[string]*build{}
)

type build struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of the berth binary name ("berth-runtime",
// "testinit", ...): $BERTH_BIN_DIR/name when that file exists, or else a build
// of ./cmd/name or ./test/name made with `go build` (CGO_ENABLED=0, -trimpath)
// the first time this process asks for it. Concurrent test processes each
// build into their own directory, so `go test ./...` is safe.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if dir := os.Getenv(BinDirEnv); dir != "" {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	binMu.Lock()
	b := binBuilds[name]
	if b == nil {
		b = &build{}
		binBuilds[name] = b
	}
	binMu.Unlock()
	b.once.Do(func() { b.path, b.err = goBuild(name) })
	if b.err != nil {
		t.Fatalf("build %s: %v", name, b.err)
	}
	return b.path
}

func goBuild(name string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	var pkg string
	for _, dir := range []string{"cmd", "test"} {
		if st, err := os.Stat(filepath.Join(root, dir, name)); err == nil && st.IsDir() {
			pkg = "./" + dir + "/" + name
			break
		}
	}
	if pkg == "" {
		return "", fmt.Errorf("no package cmd/%s or test/%s in %s", name, name, root)
	}
	out, err := buildDir()
	if err != nil {
		return "", err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("find the go command: %w", err)
	}
	bin := filepath.Join(out, name)
	args := []string{"build", "-trimpath", "-o", bin}
	if name == "berth-runtime" && runtime.GOARCH == "amd64" {
		// Its entry point, as the Makefile links it (see cmd/berth-runtime/entry_amd64.s).
		args = append(args, "-ldflags", "-E main.nsenterEntry")
	}
	cmd := exec.Command(goTool, append(args, pkg)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	return bin, nil
}

// buildDir returns this process's build directory, creating it on first use
// and then removing the directories of test processes that have exited.
func buildDir() (string, error) {
	binMu.Lock()
	defer binMu.Unlock()
	if binDir != "" {
		return binDir, nil
	}
	pid := strconv.Itoa(os.Getpid())
	dir, err := os.MkdirTemp("", binDirPrefix+pid+"-")
	if err != nil {
		return "", fmt.Errorf("make build directory: %w", err)
	}
	binDir = dir
	removeStaleBuildDirs(pid)
	return dir, nil
}

// removeStaleBuildDirs removes the build directories whose process is gone.
// A reused pid only delays a removal.
func removeStaleBuildDirs(self string) {
	entries, _ := os.ReadDir(os.TempDir())
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), binDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if _, err := strconv.Atoi(pid); err != nil || pid == self {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); errors.Is(err, os.ErrNotExist) {
			os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
}

// ModuleRoot returns the directory holding go.mod, found by walking up from
// the working directory (a test runs in its package's directory).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
