package cli

import (
	"net/http"
	"strings"
	"testing"
)

func TestVolumeCreate(t *testing.T) {
	d := newFakeDaemon(t)
	create := d.reply("POST /volumes/create", http.StatusCreated, map[string]any{"Name": "data", "Driver": "local"})
	r := runAt(t, d, "volume", "create", "-o", "uid=1000", "-o", "gid=1000", "--label", "a=b", "--label", "c", "data")
	if r.code != 0 || r.stdout != "data\n" {
		t.Fatalf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := jsonOf(create.body(t)); got != `{"Driver":"local","DriverOpts":{"gid":"1000","uid":"1000"},"Labels":{"a":"b","c":""},"Name":"data"}` {
		t.Errorf("body %s", got)
	}
	if r := runAt(t, d, "volume", "create", "--name", "x", "y"); r.code != 1 || r.stderr != "conflicting options: cannot specify a volume-name through both --name and as a positional arg\n" {
		t.Errorf("both names: exit %d %q", r.code, r.stderr)
	}
	if r := runAt(t, d, "volume", "create", "a", "b"); r.code != 1 || !strings.HasPrefix(r.stderr, "berth: 'berth volume create' requires at most 1 argument") {
		t.Errorf("two names: exit %d %q", r.code, r.stderr)
	}
	if r := runAt(t, d, "volume", "create", "--label", "=x"); r.code != 125 || !strings.HasPrefix(r.stderr, `invalid argument "=x" for "--label" flag: invalid label '=x': empty name`) {
		t.Errorf("bad label: exit %d %q", r.code, r.stderr)
	}
}

func TestVolumeList(t *testing.T) {
	d := newFakeDaemon(t)
	list := d.reply("GET /volumes", http.StatusOK, map[string]any{"Volumes": []map[string]any{
		{"Name": "vol10", "Driver": "local", "Mountpoint": "/v/vol10", "Labels": map[string]string{"env": "prod"}, "Scope": "local"},
		{"Name": "vol9", "Driver": "local", "Mountpoint": "/v/vol9", "Scope": "local", "UsageData": map[string]any{"RefCount": 2, "Size": 2048}},
	}})
	for _, c := range []struct {
		args  []string
		out   string
		query string
	}{
		{[]string{"volume", "ls"}, "DRIVER    VOLUME NAME\nlocal     vol9\nlocal     vol10\n", ""},
		{[]string{"volume", "list", "-q", "-f", "dangling=true"}, "vol9\nvol10\n", `filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D`},
		{[]string{"volume", "ls", "--format", "{{.Name}} {{.Label \"env\"}} {{.Links}} {{.Size}} {{.Mountpoint}}"}, "vol9  2 2.048kB /v/vol9\nvol10 prod N/A N/A /v/vol10\n", ""},
	} {
		r := runAt(t, d, c.args...)
		if r.code != 0 || r.stdout != c.out {
			t.Errorf("berth %s: exit %d %q\n%q\nwant\n%q", strings.Join(c.args, " "), r.code, r.stderr, r.stdout, c.out)
		}
		if q := list.query(t).Encode(); q != c.query {
			t.Errorf("berth %s: query %q", strings.Join(c.args, " "), q)
		}
	}
}

func TestVolumeRemoveAndPrune(t *testing.T) {
	d := newFakeDaemon(t)
	rm := d.reply("DELETE /volumes/data", http.StatusNoContent, nil)
	d.reply("DELETE /volumes/busy", http.StatusConflict, apiError("remove busy: volume is in use - ["+ctrID+"]"))
	r := runAt(t, d, "volume", "rm", "-f", "data", "busy")
	if r.code != 1 || r.stdout != "data\n" || r.stderr != "Error response from daemon: remove busy: volume is in use - ["+ctrID+"]\n" {
		t.Errorf("rm: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if q := rm.query(t).Encode(); q != "force=1" {
		t.Errorf("rm query %q", q)
	}
	prune := d.reply("POST /volumes/prune", http.StatusOK, map[string]any{"VolumesDeleted": []string{"old"}, "SpaceReclaimed": 1000})
	const anon = "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
	if r := runIn(t, d, "no\n", "volume", "prune"); r.code != 1 || r.stdout != anon || r.stderr != "volume prune has been cancelled\n" || prune.count() != 0 {
		t.Errorf("cancelled: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runIn(t, d, "y\n", "volume", "prune", "-a", "--filter", "label=tmp")
	const all = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
	if want := all + "Deleted Volumes:\nold\n\nTotal reclaimed space: 1kB\n"; r.code != 0 || r.stdout != want {
		t.Errorf("prune -a: exit %d %q", r.code, r.stdout)
	}
	if f := filtersOf(t, d.lastRequest("/volumes/prune")); !f["all"]["true"] || !f["label"]["tmp"] {
		t.Errorf("prune filters %v", f)
	}
	if r := runAt(t, d, "volume", "prune", "-a", "-f", "--filter", "all=1"); r.code != 1 || r.stderr != "conflicting options: cannot specify both --all and --filter all=1\n" {
		t.Errorf("-a with all filter: exit %d %q", r.code, r.stderr)
	}
}

func TestSystemPrune(t *testing.T) {
	d := newFakeDaemon(t)
	d.reply("POST /containers/prune", http.StatusOK, map[string]any{"ContainersDeleted": []string{ctrID}, "SpaceReclaimed": 1000})
	d.reply("POST /volumes/prune", http.StatusOK, map[string]any{"VolumesDeleted": []string{"anon1"}, "SpaceReclaimed": 2000})
	d.reply("POST /images/prune", http.StatusOK, map[string]any{"ImagesDeleted": []map[string]string{{"Untagged": "old:1"}, {"Deleted": "sha256:dddd"}}, "SpaceReclaimed": 3000})
	// berthd has no networks or build cache to prune yet: 404, skipped.
	const question = "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n" +
		"  - all anonymous volumes not used by at least one container\n  - all dangling images\n  - unused build cache\n\n" +
		"  Items to be pruned will be filtered with:\n  - label=a=b\n\nAre you sure you want to continue? [y/N] "
	r := runIn(t, d, "y\n", "system", "prune", "--volumes", "--filter", "label=a=b")
	want := question + "Deleted Containers:\n" + ctrID + "\n\nDeleted Volumes:\nanon1\n\nDeleted Images:\nuntagged: old:1\ndeleted: sha256:dddd\n\nTotal reclaimed space: 6kB\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d %q\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	want2 := []string{"POST /containers/prune", "POST /networks/prune", "POST /volumes/prune", "POST /images/prune", "POST /build/prune"}
	if got := d.calls(); strings.Join(got, ",") != strings.Join(want2, ",") {
		t.Errorf("requests %q, want %q", got, want2)
	}
	if f := filtersOf(t, d.lastRequest("/images/prune")); !f["dangling"]["true"] || !f["label"]["a=b"] {
		t.Errorf("image prune filters %v", f)
	}
	r = runIn(t, d, "", "system", "prune", "-a", "-f")
	if r.code != 0 || strings.Contains(r.stdout, "WARNING") || !strings.HasSuffix(r.stdout, "Total reclaimed space: 4kB\n") {
		t.Errorf("-a -f: exit %d %q", r.code, r.stdout)
	}
	if f := filtersOf(t, d.lastRequest("/images/prune")); !f["dangling"]["false"] {
		t.Errorf("-a image prune filters %v", f)
	}
	if q := d.lastRequest("/build/prune").URL.Query().Get("all"); q != "1" {
		t.Errorf("-a build prune all=%q", q)
	}
	if r := runIn(t, d, "n\n", "system", "prune"); r.code != 1 || r.stderr != "system prune has been cancelled\n" {
		t.Errorf("cancelled: exit %d %q", r.code, r.stderr)
	}
	if r := runIn(t, d, "", "system", "prune", "--volumes", "--filter", "until=1h"); r.code != 1 || r.stderr != "ERROR: The \"until\" filter is not supported with \"--volumes\"\n" {
		t.Errorf("until with volumes: exit %d %q", r.code, r.stderr)
	}
}
