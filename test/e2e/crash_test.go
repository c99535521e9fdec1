package e2e

import (
	"bufio"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bigRootfsTar writes a root file system with size bytes of random data (so that a
// pull takes long enough to be interrupted) and returns the tarball's path.
func bigRootfsTar(t *testing.T, files int, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	os.MkdirAll(dir, 0o755)
	for i := 0; i < files; i++ {
		f, err := os.Create(filepath.Join(dir, "blob"+itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(f, rand.Reader, size/int64(files)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	p := filepath.Join(t.TempDir(), "big.tar")
	if out, err := exec.Command("tar", "-C", dir, "-cf", p, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }

// A pull interrupted by kill -9 of berthd leaves no broken image; the next pull completes.
func TestPullInterruptedByKillLeavesNoBrokenImage(t *testing.T) {
	d := newDaemon(t)
	d.start()
	reg := registry(t)
	remote := reg + "/crash/big:v1"
	d.mustDocker("import", bigRootfsTar(t, 8, 192<<20), remote)
	d.mustDocker("push", remote)
	d.mustDocker("rmi", remote)
	d.mustDocker("image", "prune", "-a", "-f")

	// Pull, and kill berthd -9 as soon as the layer is on its way.
	pull := exec.Command(dockerCLI, "pull", remote)
	pull.Env = append(os.Environ(), "DOCKER_HOST="+d.Host(), "DOCKER_CONFIG="+d.DockerConfig)
	out, err := pull.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	pull.Stderr = pull.Stdout
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Split(scanCRLF)
	killed := false
	for sc.Scan() {
		line := sc.Text()
		if !killed && strings.Contains(line, "Pulling fs layer") {
			d.cmd.Process.Kill()
			killed = true
		}
	}
	pullErr := pull.Wait()
	if !killed {
		t.Fatal("the pull printed no layer line: it could not be interrupted")
	}
	if pullErr == nil {
		t.Fatal("docker pull succeeded: berthd was killed too late to interrupt it")
	}
	d.wait()

	// Restarted on the same root: no image, or only a complete one; the next pull works.
	d.start()
	if ids := strings.TrimSpace(d.mustDocker("images", "-q")); ids != "" {
		if _, errOut, code := d.docker("image", "inspect", remote); code != 0 {
			t.Fatalf("a listed image cannot be inspected after the crash: %s", errOut)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		o, errOut, code := d.docker("pull", remote)
		if code == 0 && strings.Contains(o, "Status: ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pull after the crash: exit %d\n%s\n%s", code, o, errOut)
		}
	}
	if out := d.mustDocker("image", "inspect", "--format", "{{len .RootFS.Layers}}", remote); strings.TrimSpace(out) != "1" {
		t.Errorf("image after the second pull: %q", out)
	}
}

// scanCRLF splits the docker CLI's output on newlines and carriage returns
// (progress bars redraw with \r).
func scanCRLF(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\n' || b == '\r' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// A load interrupted by kill -9 of berthd leaves no broken image; loading again works.
func TestLoadInterruptedByKillLeavesNoBrokenImage(t *testing.T) {
	d := newDaemon(t)
	d.start()
	d.mustDocker("import", bigRootfsTar(t, 8, 192<<20), "big:v1")
	saved := filepath.Join(t.TempDir(), "big.tar")
	d.mustDocker("save", "-o", saved, "big:v1")
	d.mustDocker("rmi", "big:v1")
	d.mustDocker("image", "prune", "-a", "-f")

	load := exec.Command(dockerCLI, "load", "-i", saved)
	load.Env = append(os.Environ(), "DOCKER_HOST="+d.Host(), "DOCKER_CONFIG="+d.DockerConfig)
	if err := load.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill berthd once the layer is being written into its content store.
	ingest := filepath.Join(d.DataRoot, "content", "ingest")
	deadline := time.Now().Add(30 * time.Second)
	for !ingesting(ingest, 8<<20) {
		if time.Now().After(deadline) {
			t.Fatal("no ingest of the layer seen within 30 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	d.cmd.Process.Kill()
	if err := load.Wait(); err == nil {
		t.Fatal("docker load succeeded: berthd was killed too late to interrupt it")
	}
	d.wait()

	d.start()
	if ids := strings.TrimSpace(d.mustDocker("images", "-q")); ids != "" {
		t.Fatalf("images after an interrupted load: %q", ids)
	}
	if out := d.mustDocker("load", "-i", saved); !strings.Contains(out, "Loaded image: big:v1") {
		t.Errorf("load after the crash: %q", out)
	}
}

// ingesting reports whether a blob of at least min bytes is being written under dir.
func ingesting(dir string, min int64) bool {
	found := false
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() >= min {
			found = true
		}
		return nil
	})
	return found
}
