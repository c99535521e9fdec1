package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tarNames lists the entries of the tar in data, with their contents.
func tarNames(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = string(b)
	}
}

// TestContainerFilesystem drives docker cp, diff, export and commit against
// berthd, each case asserting what a user sees.
func TestContainerFilesystem(t *testing.T) {
	d := withImage(t)
	local := t.TempDir()
	// write and read report failures with the error (the case's test fails
	// on the mismatch that follows).
	write := func(name, content string) string {
		p := filepath.Join(local, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "write " + p + ": " + err.Error()
		}
		return p
	}
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			return "read " + p + ": " + err.Error()
		}
		return string(b)
	}

	cases := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"cp in and out of a stopped container, volume included", func(t *testing.T) {
			vol := t.TempDir()
			os.WriteFile(filepath.Join(vol, "on-host"), []byte("host data"), 0o644)
			d.mustDocker("create", "--name", "cpstop", "-v", vol+":/data", "bbox", "true")
			d.mustDocker("cp", "cpstop:/etc/passwd", filepath.Join(local, "passwd"))
			if got := read(filepath.Join(local, "passwd")); !strings.Contains(got, "app:x:1000:1000") {
				t.Errorf("copied passwd: %q", got)
			}
			d.mustDocker("cp", write("in/file.txt", "copied in"), "cpstop:/tmp/")
			d.mustDocker("cp", filepath.Join(local, "in"), "cpstop:/tmp/dir")
			out := d.mustDocker("cp", "cpstop:/tmp", "-")
			files := tarNames(t, []byte(out))
			if files["tmp/file.txt"] != "copied in" || files["tmp/dir/file.txt"] != "copied in" {
				t.Errorf("cp to stdout: %q", slices.Sorted(mapKeys(files)))
			}
			d.mustDocker("cp", "cpstop:/data/on-host", filepath.Join(local, "on-host"))
			if got := read(filepath.Join(local, "on-host")); got != "host data" {
				t.Errorf("volume file copied out: %q", got)
			}
			d.mustDocker("cp", write("to-volume", "into the volume"), "cpstop:/data/")
			if got := read(filepath.Join(vol, "to-volume")); got != "into the volume" {
				t.Errorf("volume file copied in: %q", got)
			}
			_, stderr, code := d.docker("cp", "cpstop:/missing", local)
			if code == 0 || !strings.Contains(stderr, "Could not find the file /missing in container cpstop") {
				t.Errorf("cp of a missing path: exit %d %q", code, stderr)
			}
			_, stderr, code = d.docker("cp", write("x", "x"), "cpstop:/nowhere/x")
			if code == 0 || !strings.Contains(stderr, "Could not find the file /nowhere in container cpstop") {
				t.Errorf("cp into a missing directory: exit %d %q", code, stderr)
			}
		}},
		{"cp in and out of a running container", func(t *testing.T) {
			d.mustDocker("run", "-d", "--name", "cprun", "bbox", "sh", "-c",
				"while [ ! -f /tmp/in ]; do sleep 0.05; done; tr a-z A-Z < /tmp/in > /tmp/out; exec sleep 60")
			d.mustDocker("cp", write("shout", "shout\n"), "cprun:/tmp/in")
			if msg := eventually(10*time.Second, func() string {
				out, _, code := d.docker("cp", "cprun:/tmp/out", "-")
				if code != 0 || tarNames(t, []byte(out))["out"] != "SHOUT\n" {
					return "the container's answer did not come back"
				}
				return ""
			}); msg != "" {
				t.Fatal(msg)
			}
			d.mustDocker("rm", "-f", "cprun")
		}},
		{"cp resolves links inside the container", func(t *testing.T) {
			d.mustDocker("run", "--name", "links", "bbox", "sh", "-c", "ln -s ../../../../../../etc /leak && mkdir /target && ln -s /target /dirlink")
			d.mustDocker("cp", "links:/leak/passwd", filepath.Join(local, "leaked"))
			if got := read(filepath.Join(local, "leaked")); !strings.Contains(got, "app:x:1000:1000") {
				t.Errorf("/leak/passwd is not the container's: %q", got)
			}
			// Without -L the link itself (the CLI would refuse to write one
			// that climbs out, so /dirlink), with -L what it leads to.
			d.mustDocker("cp", "links:/dirlink", filepath.Join(local, "dirlink"))
			if target, err := os.Readlink(filepath.Join(local, "dirlink")); err != nil || target != "/target" {
				t.Errorf("copied link: %q %v", target, err)
			}
			d.mustDocker("cp", "-L", "links:/leak", filepath.Join(local, "etc-copy"))
			if got := read(filepath.Join(local, "etc-copy", "passwd")); !strings.Contains(got, "app:x:1000:1000") {
				t.Errorf("cp -L of /leak: %q", got)
			}
			d.mustDocker("cp", write("through", "via link"), "links:/dirlink/")
			out := d.mustDocker("cp", "links:/target/through", "-")
			if tarNames(t, []byte(out))["through"] != "via link" {
				t.Errorf("copy through /dirlink did not land in /target")
			}
		}},
		{"cp -a keeps the owner, plain cp gives files to root", func(t *testing.T) {
			d.mustDocker("create", "--name", "owners", "bbox", "true")
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, n := range []string{"a", "b"} {
				tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: 1, Uid: 1000, Gid: 100, Typeflag: tar.TypeReg})
				tw.Write([]byte("x"))
			}
			tw.Close()
			if _, stderr, code := d.dockerIn(buf.String(), "cp", "-", "owners:/tmp"); code != 0 {
				t.Fatalf("cp - : %s", stderr)
			}
			write("owned", "y")
			os.Chown(filepath.Join(local, "owned"), 1000, 100)
			d.mustDocker("cp", "-a", filepath.Join(local, "owned"), "owners:/tmp/")
			out := d.mustDocker("export", "owners")
			tr := tar.NewReader(strings.NewReader(out))
			owners := map[string]string{}
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				owners[h.Name] = itoa(h.Uid) + ":" + itoa(h.Gid)
			}
			if owners["tmp/a"] != "0:0" || owners["tmp/b"] != "0:0" || owners["tmp/owned"] != "1000:100" {
				t.Errorf("owners: a %s b %s owned %s", owners["tmp/a"], owners["tmp/b"], owners["tmp/owned"])
			}
		}},
		{"diff lists what the container changed", func(t *testing.T) {
			d.mustDocker("run", "--name", "differ", "bbox", "sh", "-c", "touch /new; rm /etc/group; mkdir /made; echo x > /made/f")
			if got := d.mustDocker("diff", "differ"); got != "C /etc\nD /etc/group\nA /made\nA /made/f\nA /new\n" {
				t.Errorf("docker diff:\n%s", got)
			}
			if got := d.mustDocker("diff", "cpstop"); !strings.Contains(got, "A /tmp/file.txt") || strings.Contains(got, "/etc/hosts") {
				t.Errorf("diff after cp:\n%s", got)
			}
		}},
		{"export is the whole file system with the changes", func(t *testing.T) {
			out := filepath.Join(local, "differ.tar")
			d.mustDocker("export", "-o", out, "differ")
			data, _ := os.ReadFile(out)
			files := tarNames(t, data)
			for _, p := range []string{"bin/busybox", "etc/passwd", "new", "made/f"} {
				if _, ok := files[p]; !ok {
					t.Errorf("export lacks %s", p)
				}
			}
			if _, ok := files["etc/group"]; ok {
				t.Errorf("export has the deleted etc/group")
			}
		}},
		{"commit makes an image that runs", func(t *testing.T) {
			d.mustDocker("run", "--name", "tocommit", "bbox", "sh", "-c", "echo made by commit > /greeting")
			id := strings.TrimSpace(d.mustDocker("commit", "-c", `CMD ["cat", "/greeting"]`, "-m", "a message", "-a", "Tess", "tocommit", "committed:v1"))
			if !strings.HasPrefix(id, "sha256:") {
				t.Errorf("commit printed %q", id)
			}
			if out := d.mustDocker("run", "--rm", "committed:v1"); out != "made by commit\n" {
				t.Errorf("run of the committed image: %q", out)
			}
			if got := d.mustDocker("inspect", "-f", "{{.Comment}}|{{.Author}}|{{json .Config.Cmd}}|{{.Id}}", "committed:v1"); got != `a message|Tess|["cat","/greeting"]|`+id+"\n" {
				t.Errorf("inspect: %q", got)
			}
			if got := d.mustDocker("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "committed:v1"); !strings.HasPrefix(got, "sh -c echo made by commit > /greeting|a message\n") {
				t.Errorf("history:\n%s", got)
			}
			// Paused while committing, running after.
			d.mustDocker("run", "-d", "--name", "live", "bbox", "sleep", "60")
			d.mustDocker("commit", "live", "live:snap")
			if st := d.mustDocker("inspect", "-f", "{{.State.Status}}", "live"); st != "running\n" {
				t.Errorf("after commit: %q", st)
			}
			d.mustDocker("rm", "-f", "live")
			// One that exits as the commit begins is committed as it is (through
			// the API, so that the commit follows the start at once).
			hc := d.client()
			for i := range 5 {
				name := fmt.Sprintf("brief%d", i)
				d.mustDocker("create", "--name", name, "bbox", "true")
				for _, call := range []string{"/containers/" + name + "/start", "/commit?pause=1&container=" + name + "&repo=brief&tag=" + strconv.Itoa(i)} {
					resp, err := hc.Post("http://berth/v1.50"+call, "application/json", nil)
					if err != nil {
						t.Fatal(err)
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode >= 300 {
						t.Errorf("%s of a container exiting meanwhile: %d %s", call, resp.StatusCode, body)
					}
				}
				d.mustDocker("wait", name)
				if st := d.mustDocker("inspect", "-f", "{{.State.Status}}", name); st != "exited\n" {
					t.Errorf("after commit and exit: %q", st)
				}
				d.mustDocker("rm", name)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, c.check)
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
