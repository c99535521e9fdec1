package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/testutil"
)

// volumeDaemon starts a berthd holding the busybox image "bbox".
func volumeDaemon(t *testing.T) *daemon {
	t.Helper()
	requireE2E(t)
	d := newDaemon(t)
	d.start()
	d.mustDocker("import", rootfsTar(t), "bbox")
	return d
}

// volumeNames lists the volumes `docker volume ls -q` shows with args,
// sorted by byte order.
func (d *daemon) volumeNames(args ...string) string {
	d.t.Helper()
	return sortedNames(strings.Fields(d.mustDocker(append([]string{"volume", "ls", "-q"}, args...)...))...)
}

// sortedNames joins names as volumeNames does.
func sortedNames(names ...string) string {
	slices.Sort(names)
	return strings.Join(names, " ")
}

// TestVolumeVerbs drives docker volume create, ls, inspect, rm and prune, each
// step asserting what a user would see.
func TestVolumeVerbs(t *testing.T) {
	d := volumeDaemon(t)

	if out := d.mustDocker("volume", "create", "--label", "tier=db", "--label", "team", "berth-test-vol-db"); out != "berth-test-vol-db\n" {
		t.Errorf("volume create printed %q", out)
	}
	d.mustDocker("volume", "create", "berth-test-vol-web")
	anon := strings.TrimSpace(d.mustDocker("volume", "create"))
	if len(anon) != 64 {
		t.Errorf("anonymous volume name %q, want 64 hex digits", anon)
	}

	// inspect: Docker's fields, labels as given, no options given: null.
	var vols []map[string]any
	if err := json.Unmarshal([]byte(d.mustDocker("volume", "inspect", "berth-test-vol-db")), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("volume inspect: %v %v", vols, err)
	}
	v := vols[0]
	if v["Name"] != "berth-test-vol-db" || v["Driver"] != "local" || v["Scope"] != "local" || v["Options"] != nil ||
		fmt.Sprint(v["Labels"]) != "map[team: tier:db]" || !strings.HasPrefix(v["Mountpoint"].(string), d.DataRoot+"/volumes/") {
		t.Errorf("volume inspect: %v", v)
	}
	if created, err := time.Parse(time.RFC3339, v["CreatedAt"].(string)); err != nil || time.Since(created) > time.Minute {
		t.Errorf("CreatedAt %v: %v", v["CreatedAt"], err)
	}
	if _, ok := v["UsageData"]; ok {
		t.Errorf("volume inspect shows UsageData: %v", v)
	}

	// ls and its filters.
	if out := d.mustDocker("volume", "ls"); !strings.HasPrefix(out, "DRIVER    VOLUME NAME\n") || !strings.Contains(out, "local     berth-test-vol-web\n") {
		t.Errorf("volume ls:\n%s", out)
	}
	for _, c := range []struct {
		filter []string
		want   string
	}{
		{nil, sortedNames(anon, "berth-test-vol-db", "berth-test-vol-web")},
		{[]string{"--filter", "label=tier=db"}, "berth-test-vol-db"},
		{[]string{"--filter", "label=team"}, "berth-test-vol-db"},
		{[]string{"--filter", "label!=team"}, sortedNames(anon, "berth-test-vol-web")},
		{[]string{"--filter", "name=web"}, "berth-test-vol-web"},
		{[]string{"--filter", "driver=local", "--filter", "dangling=true"}, sortedNames(anon, "berth-test-vol-db", "berth-test-vol-web")},
		{[]string{"--filter", "dangling=false"}, ""},
	} {
		if got := d.volumeNames(c.filter...); got != c.want {
			t.Errorf("volume ls %v: %q, want %q", c.filter, got, c.want)
		}
	}
	if _, errOut, code := d.docker("volume", "ls", "--filter", "colour=red"); code == 0 || !strings.Contains(errOut, "invalid filter 'colour'") {
		t.Errorf("volume ls with an unknown filter: %d %s", code, errOut)
	}

	// Refusals, with Docker's messages.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"volume", "inspect", "berth-test-vol-nosuch"}, "Error response from daemon: get berth-test-vol-nosuch: no such volume"},
		{[]string{"volume", "rm", "berth-test-vol-nosuch"}, "Error response from daemon: get berth-test-vol-nosuch: no such volume"},
		{[]string{"volume", "create", "-o", "colour=red", "berth-test-vol-x"}, `Error response from daemon: create berth-test-vol-x: invalid option: "colour"`},
		{[]string{"volume", "create", "-d", "nfs-plugin", "berth-test-vol-x"}, `Error response from daemon: create berth-test-vol-x: error looking up volume plugin nfs-plugin: plugin "nfs-plugin" not found`},
		{[]string{"volume", "create", "a/b"}, `Error response from daemon: create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
	} {
		if _, errOut, code := d.docker(c.args...); code != 1 || strings.TrimSpace(errOut) != c.want {
			t.Errorf("docker %s: exit %d, stderr %q, want %q", strings.Join(c.args, " "), code, errOut, c.want)
		}
	}
	d.mustDocker("volume", "rm", "-f", "berth-test-vol-nosuch")

	// prune: only anonymous volumes, unless -a; filters narrow it.
	if out := d.mustDocker("volume", "prune", "-f"); out != "Deleted Volumes:\n"+anon+"\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("volume prune:\n%s", out)
	}
	if out := d.mustDocker("volume", "prune", "-af", "--filter", "label=tier"); !strings.Contains(out, "berth-test-vol-db\n") || strings.Contains(out, "web") {
		t.Errorf("volume prune -a --filter label=tier:\n%s", out)
	}
	if out := d.mustDocker("volume", "rm", "berth-test-vol-web"); out != "berth-test-vol-web\n" {
		t.Errorf("volume rm printed %q", out)
	}
	if got := d.volumeNames(); got != "" {
		t.Errorf("volumes left: %q", got)
	}
}

// TestVolumesWithContainers: volumes as containers use them — created on
// first use, filled from the image, shared, owned as asked, protected while
// in use and removed with their anonymous container.
func TestVolumesWithContainers(t *testing.T) {
	d := volumeDaemon(t)

	t.Run("ownership", func(t *testing.T) {
		// berth's uid/gid/mode options (Docker has none: moby#21259).
		d.mustDocker("volume", "create", "-o", "uid=1000", "-o", "gid=1001", "-o", "mode=0770", "berth-test-vol-owned")
		if out := d.mustDocker("run", "--rm", "-v", "berth-test-vol-owned:/data", "bbox", "stat", "-c", "%u:%g %a", "/data"); out != "1000:1001 770\n" {
			t.Errorf("owner and mode of /data: %q, want 1000:1001 770", out)
		}
		// A non-root user can write there.
		d.mustDocker("run", "--rm", "-u", "1000", "-v", "berth-test-vol-owned:/data", "bbox", "touch", "/data/mine")
		if out := d.mustDocker("volume", "inspect", "--format", "{{.Options}}", "berth-test-vol-owned"); out != "map[gid:1001 mode:0770 uid:1000]\n" {
			t.Errorf("options shown: %q", out)
		}
	})

	t.Run("created on first use", func(t *testing.T) {
		if _, _, code := d.docker("volume", "inspect", "berth-test-vol-new"); code == 0 {
			t.Fatal("the volume exists before its first use")
		}
		d.mustDocker("run", "--rm", "-v", "berth-test-vol-new:/data", "bbox", "sh", "-c", "echo kept > /data/f")
		if out := d.mustDocker("volume", "ls", "-q", "--filter", "name=berth-test-vol-new"); out != "berth-test-vol-new\n" {
			t.Errorf("after docker run -v: volume ls %q", out)
		}
		// run --rm keeps a named volume, and its content.
		if out := d.mustDocker("run", "--rm", "-v", "berth-test-vol-new:/other", "bbox", "cat", "/other/f"); out != "kept\n" {
			t.Errorf("content after the first container: %q", out)
		}
	})

	t.Run("filled from the image", func(t *testing.T) {
		// A new volume mounted over /etc and /home gets what the image has
		// there, owners included; a volume that has content keeps it.
		d.mustDocker("run", "--rm", "-v", "berth-test-vol-etc:/etc", "-v", "berth-test-vol-home:/home", "bbox", "true")
		if out := d.mustDocker("run", "--rm", "-v", "berth-test-vol-etc:/x", "bbox", "grep", "-c", "^root:", "/x/passwd"); out != "1\n" {
			t.Errorf("/etc/passwd copied into the volume: %q", out)
		}
		want := fmt.Sprintf("%d:%d\n", testutil.AppUID, testutil.AppGID)
		if out := d.mustDocker("run", "--rm", "-v", "berth-test-vol-home:/x", "bbox", "stat", "-c", "%u:%g", "/x/app"); out != want {
			t.Errorf("owner of the copied /home/app: %q, want %q", out, want)
		}
		// (Not /etc here: the runtime makes mount points for the managed
		// hostname, hosts and resolv.conf in a volume there, as with Docker.)
		d.mustDocker("run", "--rm", "-v", "berth-test-vol-new:/home", "bbox", "true")
		if out := d.mustDocker("run", "--rm", "-v", "berth-test-vol-new:/x", "bbox", "ls", "/x"); out != "f\n" {
			t.Errorf("a volume with content got the image's too: %q", out)
		}
		// nocopy leaves a new volume empty.
		if out := d.mustDocker("run", "--rm", "-v", "berth-test-vol-nocopy:/home:nocopy", "bbox", "ls", "-A", "/home"); out != "" {
			t.Errorf("nocopy volume holds %q", out)
		}
	})

	t.Run("shared and in use", func(t *testing.T) {
		id := strings.TrimSpace(d.mustDocker("run", "-d", "-v", "berth-test-vol-shared:/data", "bbox",
			"sh", "-c", "echo from-first > /data/f && exec sleep 300"))
		// The second container runs beside the first once it has written.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			out, errOut, _ := d.docker("run", "--rm", "-v", "berth-test-vol-shared:/seen", "bbox", "cat", "/seen/f")
			if out == "from-first\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the second container reads %q %s", out, errOut)
			}
		}
		// In use: refused with Docker's message, also with -f, and neither
		// listed as dangling nor pruned.
		want := "Error response from daemon: remove berth-test-vol-shared: volume is in use - [" + id + "]"
		for _, args := range [][]string{{"volume", "rm", "berth-test-vol-shared"}, {"volume", "rm", "-f", "berth-test-vol-shared"}} {
			if _, errOut, code := d.docker(args...); code != 1 || strings.TrimSpace(errOut) != want {
				t.Errorf("docker %s: exit %d %q, want %q", strings.Join(args, " "), code, errOut, want)
			}
		}
		if out := d.volumeNames("--filter", "dangling=false"); !strings.Contains(out, "berth-test-vol-shared") {
			t.Errorf("dangling=false lacks the used volume: %q", out)
		}
		if out := d.mustDocker("volume", "prune", "-af"); strings.Contains(out, "berth-test-vol-shared") {
			t.Errorf("prune removed a used volume:\n%s", out)
		}
		// system df -v shows it used by one container ("links"), with its bytes.
		out := d.mustDocker("system", "df", "-v")
		header, found := false, false
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			header = header || strings.Join(f, " ") == "VOLUME NAME LINKS SIZE"
			if len(f) > 0 && f[0] == "berth-test-vol-shared" {
				found = true
				if strings.Join(f, " ") != "berth-test-vol-shared 1 11B" {
					t.Errorf("system df -v: %q, want 1 link and 11B", l)
				}
			}
		}
		if !header || !found {
			t.Errorf("system df -v lacks the volume table or the volume:\n%s", out)
		}
		d.mustDocker("rm", "-f", id)
		d.mustDocker("volume", "rm", "berth-test-vol-shared")
	})

	t.Run("anonymous volumes go with rm -v", func(t *testing.T) {
		d.mustDocker("create", "--name", "berth-test-vol-anon", "-v", "/data", "bbox", "true")
		name := strings.TrimSpace(d.mustDocker("inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", "berth-test-vol-anon"))
		if len(name) != 64 {
			t.Fatalf("the container's anonymous volume is %q", name)
		}
		if out := d.mustDocker("volume", "inspect", "--format", "{{.Labels}}", name); out != "map[com.docker.volume.anonymous:]\n" {
			t.Errorf("anonymous volume labels: %q", out)
		}
		d.mustDocker("rm", "-v", "berth-test-vol-anon")
		if _, errOut, code := d.docker("volume", "inspect", name); code == 0 || !strings.Contains(errOut, "no such volume") {
			t.Errorf("after rm -v the anonymous volume remains: %d %s", code, errOut)
		}
		// Without -v it stays, dangling, and prune takes it.
		d.mustDocker("create", "--name", "berth-test-vol-anon", "-v", "/data", "bbox", "true")
		name = strings.TrimSpace(d.mustDocker("inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", "berth-test-vol-anon"))
		d.mustDocker("rm", "berth-test-vol-anon")
		if out := d.volumeNames("--filter", "dangling=true"); !strings.Contains(out, name) {
			t.Errorf("after rm the anonymous volume is not dangling: %q", out)
		}
		if out := d.mustDocker("volume", "prune", "-f"); !strings.Contains(out, name+"\n") {
			t.Errorf("prune left the anonymous volume:\n%s", out)
		}
	})
}
