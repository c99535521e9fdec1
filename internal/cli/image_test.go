package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
)

// runIn runs berth against d with stdin and a config directory of its own.
func runIn(t *testing.T, d *fakeDaemon, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), append([]string{"-H", d.Host()}, args...), Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return map[string]string{EnvConfigDir: t.TempDir()}[k] },
	})
	return result{out.String(), errOut.String(), code}
}

// filtersOf decodes the filters query parameter of r.
func filtersOf(t *testing.T, r *http.Request) map[string]map[string]bool {
	t.Helper()
	var f map[string]map[string]bool
	if q := r.URL.Query().Get("filters"); q != "" {
		if err := json.Unmarshal([]byte(q), &f); err != nil {
			t.Fatalf("filters %q: %v", q, err)
		}
	}
	return f
}

const (
	bboxID  = "sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741"
	oldID   = "sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824"
	bboxDgt = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

func imageList(created int64) []map[string]any {
	return []map[string]any{
		{"Id": bboxID, "RepoTags": []string{"reg.local:5000/tools/bbox:1.36", "bbox:latest", "bbox:second"},
			"RepoDigests": []string{"reg.local:5000/tools/bbox@" + bboxDgt}, "Created": created, "Size": 5067000, "SharedSize": -1, "Containers": -1},
		{"Id": oldID, "RepoTags": []string{}, "RepoDigests": []string{"gone@" + bboxDgt}, "Created": created, "Size": 1000, "SharedSize": -1, "Containers": 2},
		{"Id": oldID, "RepoTags": []string{}, "RepoDigests": []string{}, "Created": created, "Size": 1000, "SharedSize": -1, "Containers": -1},
	}
}

func TestImages(t *testing.T) {
	d := newFakeDaemon(t)
	d.handleJSON("GET /images/json", imageList(time.Now().Add(-3*time.Hour).Unix()))
	r := runAt(t, d, "images")
	want := `REPOSITORY                  TAG       IMAGE ID       CREATED       SIZE
bbox                        latest    3f57d9401f8d   3 hours ago   5.07MB
bbox                        second    3f57d9401f8d   3 hours ago   5.07MB
reg.local:5000/tools/bbox   1.36      3f57d9401f8d   3 hours ago   5.07MB
gone                        <none>    a416a98b71e2   3 hours ago   1kB
<none>                      <none>    a416a98b71e2   3 hours ago   1kB
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d (%s)\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	if q := d.lastRequest("/images/json").URL.Query(); q.Has("all") || q.Has("filters") {
		t.Errorf("plain images sent %v", q)
	}

	r = runAt(t, d, "image", "ls", "--digests", "--format", `table {{.Repository}}\t{{.Tag}}\t{{.Digest}}`)
	want = `REPOSITORY                  TAG       DIGEST
bbox                        latest    <none>
bbox                        second    <none>
reg.local:5000/tools/bbox   1.36      ` + bboxDgt + `
gone                        <none>    ` + bboxDgt + `
<none>                      <none>    <none>
`
	if r.stdout != want {
		t.Errorf("--digests table:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = runAt(t, d, "images", "-q", "-a", "--filter", "dangling=false", "bbox")
	if r.stdout != "3f57d9401f8d\n3f57d9401f8d\n3f57d9401f8d\na416a98b71e2\na416a98b71e2\n" {
		t.Errorf("-q: %q", r.stdout)
	}
	req := d.lastRequest("/images/json")
	if f := filtersOf(t, req); req.URL.Query().Get("all") != "1" || !f["dangling"]["false"] || !f["reference"]["bbox"] {
		t.Errorf("-a --filter REF sent %v", req.URL.Query())
	}
	r = runAt(t, d, "images", "--no-trunc", "--format", "{{.ID}} {{.Containers}} {{.Size}}")
	if first, _, _ := strings.Cut(r.stdout, "\n"); first != bboxID+" N/A 5.07MB" {
		t.Errorf("--no-trunc: %q", r.stdout)
	}
	r = runAt(t, d, "images", "--format", "json")
	if first, _, _ := strings.Cut(r.stdout, "\n"); !strings.HasPrefix(first, `{"Containers":"N/A","CreatedAt":"`) ||
		!strings.HasSuffix(first, `"Digest":"\u003cnone\u003e","ID":"3f57d9401f8d","Repository":"bbox","SharedSize":"N/A","Size":"5.07MB","Tag":"latest","UniqueSize":"N/A","VirtualSize":"5.067MB"}`) {
		t.Errorf("json: %q", first)
	}
	if r := runAt(t, d, "images", "--format", "{{.Nope"); r.code != 1 || !strings.HasPrefix(r.stderr, "template parsing error:") {
		t.Errorf("bad template: exit %d %q", r.code, r.stderr)
	}
	if r := runAt(t, d, "images", "a", "b"); r.code != 1 || !strings.HasPrefix(r.stderr, "\"berth images\" requires at most 1 argument.\nSee 'berth images --help'.\n\nUsage:  berth images [OPTIONS] [REPOSITORY[:TAG]]\n") {
		t.Errorf("two arguments: exit %d %q", r.code, r.stderr)
	}
}

// streamJSON answers pattern with msgs as a JSON message stream.
func (d *fakeDaemon) streamJSON(pattern string, msgs ...jsonstream.Message) {
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		for _, m := range msgs {
			enc.Encode(m)
		}
	})
}

var pullStream = []jsonstream.Message{
	{Status: "Pulling from tools/bbox", ID: "1.36"},
	{Status: "Pulling fs layer", ID: "aaa", Progress: &jsonstream.Progress{}},
	{Status: "Pulling fs layer", ID: "bbb", Progress: &jsonstream.Progress{}},
	{Status: "Downloading", ID: "aaa", Progress: &jsonstream.Progress{Current: 500, Total: 1000}},
	{Status: "Download complete", ID: "bbb", Progress: &jsonstream.Progress{}},
	{Status: "Pull complete", ID: "aaa", Progress: &jsonstream.Progress{}},
	{Status: "Digest: " + bboxDgt},
	{Status: "Status: Downloaded newer image for reg.local:5000/tools/bbox:1.36"},
}

func TestPull(t *testing.T) {
	d := newFakeDaemon(t)
	d.streamJSON("POST /images/create", pullStream...)
	config := t.TempDir()
	os.WriteFile(filepath.Join(config, "config.json"), []byte(`{"auths":{"reg.local:5000":{"auth":"`+
		base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))+`"}},"detachKeys":"ctrl-x"}`), 0o600)

	r := runAt(t, d, "--config", config, "pull", "--platform", "linux/arm64/v8", "reg.local:5000/tools/bbox:1.36")
	want := `1.36: Pulling from tools/bbox
aaa: Pulling fs layer
bbb: Pulling fs layer
bbb: Download complete
aaa: Pull complete
Digest: ` + bboxDgt + `
Status: Downloaded newer image for reg.local:5000/tools/bbox:1.36
reg.local:5000/tools/bbox:1.36
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d (%s)\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	req := d.lastRequest("/images/create")
	q := req.URL.Query()
	if q.Get("fromImage") != "reg.local:5000/tools/bbox" || q.Get("tag") != "1.36" || q.Get("platform") != "linux/arm64/v8" {
		t.Errorf("pull sent %v", q)
	}
	var auth registry.AuthConfig
	b, err := base64.URLEncoding.DecodeString(req.Header.Get(registry.AuthHeader))
	if err != nil || json.Unmarshal(b, &auth) != nil || auth.Username != "alice" || auth.Password != "s3cret" || auth.ServerAddress != "reg.local:5000" {
		t.Errorf("X-Registry-Auth %q: %+v %v", req.Header.Get(registry.AuthHeader), auth, err)
	}

	r = runAt(t, d, "pull", "-q", "busybox")
	if r.code != 0 || r.stdout != "docker.io/library/busybox:latest\n" {
		t.Errorf("pull -q: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if q := d.lastRequest("/images/create").URL.Query(); q.Get("fromImage") != "docker.io/library/busybox" || q.Get("tag") != "latest" {
		t.Errorf("pull busybox sent %v", q)
	}
	r = runAt(t, d, "pull", "busybox")
	if !strings.HasPrefix(r.stdout, "Using default tag: latest\n1.36: Pulling from tools/bbox\n") {
		t.Errorf("pull without a tag: %q", r.stdout)
	}

	d.streamJSON("POST /images/{name...}", jsonstream.Message{Status: "Preparing", ID: "aaa", Progress: &jsonstream.Progress{}},
		jsonstream.Message{Error: &jsonstream.Error{Message: "unauthorized: authentication required"}})
	r = runAt(t, d, "push", "reg.local:5000/tools/bbox:1.36")
	if r.code != 1 || r.stdout != "aaa: Preparing\n" || r.stderr != "unauthorized: authentication required\n" {
		t.Errorf("push failing in the stream: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestPushQuiet(t *testing.T) {
	d := newFakeDaemon(t)
	d.streamJSON("POST /images/{name...}", jsonstream.Message{Status: "Pushed", ID: "aaa", Progress: &jsonstream.Progress{}},
		jsonstream.Message{Status: "1.36: digest: " + bboxDgt + " size: 527"})
	r := runAt(t, d, "push", "-q", "reg.local:5000/tools/bbox:1.36")
	if r.code != 0 || r.stdout != "reg.local:5000/tools/bbox:1.36\n" {
		t.Errorf("push -q: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	req := d.lastRequest("/images/reg.local:5000/tools/bbox/push")
	if req.URL.Query().Get("tag") != "1.36" || req.Header.Get(registry.AuthHeader) == "" {
		t.Errorf("push sent %v %v", req.URL.Query(), req.Header)
	}
	if r := runAt(t, d, "push", "bbox@"+bboxDgt); r.code != 1 || r.stderr != "cannot push a digest reference\n" {
		t.Errorf("push by digest: exit %d %q", r.code, r.stderr)
	}
}

func TestProgressOnATerminal(t *testing.T) {
	var out bytes.Buffer
	start := time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)
	p := &progressDisplay{out: &out, terminal: true, width: 120, lines: map[string]int{},
		now: func() time.Time { return start.Add(10 * time.Second) }}
	for _, m := range []jsonstream.Message{
		{Status: "Pulling fs layer", ID: "aaa", Progress: &jsonstream.Progress{}},
		{Status: "Pulling fs layer", ID: "bbb", Progress: &jsonstream.Progress{}},
		{Status: "Downloading", ID: "aaa", Progress: &jsonstream.Progress{Current: 500000, Total: 1000000, Start: start.Unix()}},
		{Status: "Digest: x"},
	} {
		if err := p.Message(m); err != nil {
			t.Fatal(err)
		}
	}
	want := "\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B" +
		"\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B" +
		"\x1b[2A\x1b[2K\raaa: Downloading [=========================>                         ]    500kB/1MB 10s\r\x1b[2B" +
		"Digest: x\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
}

func TestTagAndRemove(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("POST /images/{name}/tag", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	if r := runAt(t, d, "tag", "bbox", "reg.local:5000/bbox:v1"); r.code != 0 || r.stdout != "" {
		t.Errorf("tag: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if q := d.lastRequest("/images/bbox/tag").URL.Query(); q.Get("repo") != "reg.local:5000/bbox" || q.Get("tag") != "v1" {
		t.Errorf("tag sent %v", q)
	}
	if r := runAt(t, d, "tag", "bbox"); r.code != 1 || !strings.HasPrefix(r.stderr, "\"berth tag\" requires exactly 2 arguments.\n") {
		t.Errorf("tag with one argument: exit %d %q", r.code, r.stderr)
	}

	d.mux.HandleFunc("DELETE /images/{name}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "bbox" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"No such image: ` + r.PathValue("name") + `:latest"}`))
			return
		}
		w.Write([]byte(`[{"Untagged":"bbox:latest"},{"Deleted":"` + bboxID + `"}]`))
	})
	r := runAt(t, d, "rmi", "nosuch", "bbox", "other")
	if r.code != 1 || r.stdout != "Untagged: bbox:latest\nDeleted: "+bboxID+"\n" ||
		r.stderr != "Error response from daemon: No such image: nosuch:latest\nError response from daemon: No such image: other:latest\n" {
		t.Errorf("rmi: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if q := d.lastRequest("/images/bbox").URL.Query(); q.Has("force") || q.Has("noprune") {
		t.Errorf("rmi sent %v", q)
	}
	if r := runAt(t, d, "image", "rm", "-f", "--no-prune", "nosuch", "bbox"); r.code != 0 || r.stderr != "" {
		t.Errorf("rmi -f of a missing image: exit %d %q", r.code, r.stderr)
	}
	if q := d.lastRequest("/images/bbox").URL.Query(); q.Get("force") != "1" || q.Get("noprune") != "1" {
		t.Errorf("rmi -f --no-prune sent %v", q)
	}
}

func TestImagePrune(t *testing.T) {
	d := newFakeDaemon(t)
	d.handleJSON("POST /images/prune", map[string]any{
		"ImagesDeleted":  []map[string]string{{"Untagged": "bbox:latest"}, {"Deleted": bboxID}},
		"SpaceReclaimed": 5067000,
	})
	const question = "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
	r := runIn(t, d, "n\n", "image", "prune")
	if r.code != 1 || r.stdout != question || r.stderr != "image prune has been cancelled\n" {
		t.Errorf("answered n: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	d.mu.Lock()
	asked := len(d.requests)
	d.mu.Unlock()
	if asked != 0 {
		t.Errorf("a cancelled prune reached the daemon")
	}
	r = runIn(t, d, "y\n", "image", "prune", "--filter", "until=24h")
	want := question + "Deleted Images:\nuntagged: bbox:latest\ndeleted: " + bboxID + "\n\nTotal reclaimed space: 5.067MB\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("answered y: exit %d\n%q\nwant\n%q", r.code, r.stdout, want)
	}
	if f := filtersOf(t, d.lastRequest("/images/prune")); !f["dangling"]["true"] || !f["until"]["24h"] {
		t.Errorf("prune sent %v", f)
	}
	r = runIn(t, d, "", "image", "prune", "-a", "-f")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Deleted Images:\n") {
		t.Errorf("prune -a -f: exit %d %q", r.code, r.stdout)
	}
	if f := filtersOf(t, d.lastRequest("/images/prune")); !f["dangling"]["false"] {
		t.Errorf("prune -a sent %v", f)
	}
}

const inspectJSON = `{"Id":"` + bboxID + `","RepoTags":["bbox:latest"],"Os":"linux","Config":{"Cmd":["sh"],"Env":["A=1"]},"Size":5067000}`

func TestInspect(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("GET /images/{name}/json", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != "bbox" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"message":"No such image: ` + r.PathValue("name") + `"}`))
			return
		}
		w.Write([]byte(inspectJSON + "\n"))
	})
	r := runAt(t, d, "image", "inspect", "bbox", "nosuch")
	want := "[\n    {\n        \"Id\": \"" + bboxID + "\",\n        \"RepoTags\": [\n            \"bbox:latest\"\n        ],\n" +
		"        \"Os\": \"linux\",\n        \"Config\": {\n            \"Cmd\": [\n                \"sh\"\n            ],\n" +
		"            \"Env\": [\n                \"A=1\"\n            ]\n        },\n        \"Size\": 5067000\n    }\n]\n"
	if r.code != 1 || r.stdout != want || r.stderr != "Error response from daemon: No such image: nosuch\n" {
		t.Errorf("exit %d, stderr %q\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	r = runAt(t, d, "inspect", "-f", "{{.Id}} {{json .Config.Cmd}} {{.Os}} {{.Size}}", "bbox", "bbox")
	if line := bboxID + ` ["sh"] linux 5067000` + "\n"; r.code != 0 || r.stdout != line+line {
		t.Errorf("inspect -f: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runAt(t, d, "inspect", "nosuch"); r.code != 1 || r.stdout != "[]\n" || r.stderr != "Error: No such object: nosuch\n" {
		t.Errorf("inspect of nothing: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runAt(t, d, "inspect", "--type", "nope", "x"); r.code != 1 || !strings.Contains(r.stderr, `unknown type: "nope": must be one of`) {
		t.Errorf("--type nope: exit %d %q", r.code, r.stderr)
	}
	if r := runAt(t, d, "image", "inspect", "-f", "{{.Nope}}", "bbox"); r.code != 1 || !strings.HasPrefix(r.stderr, "template parsing error:") {
		t.Errorf("missing key: exit %d %q", r.code, r.stderr)
	}
}

func TestHistory(t *testing.T) {
	d := newFakeDaemon(t)
	created := time.Now().Add(-50 * time.Hour).Unix()
	d.handleJSON("GET /images/{name}/history", []map[string]any{
		{"Id": bboxID, "Created": created, "CreatedBy": "/bin/sh -c #(nop)\tCMD [\"sh\"] and a long tail of words", "Size": 0, "Comment": ""},
		{"Id": "<missing>", "Created": created, "CreatedBy": "", "Size": 5067000, "Comment": "Imported from -"},
	})
	r := runAt(t, d, "history", "bbox")
	want := `IMAGE          CREATED      CREATED BY                                      SIZE      COMMENT
3f57d9401f8d   2 days ago   /bin/sh -c #(nop) CMD ["sh"] and a long tail…   0B        
<missing>      2 days ago                                                   5.07MB    Imported from -
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d (%s)\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	stamp := time.Unix(created, 0).Format(time.RFC3339)
	// After the command, -H is history's --human, as in docker; the global
	// -H (the host, given by runAt) goes before it.
	for _, human := range []string{"--human=false", "-H=false"} {
		r = runAt(t, d, "image", "history", human, "--no-trunc", "--format", "{{.ID}}|{{.CreatedSince}}|{{.Size}}", "bbox")
		if r.stdout != bboxID+"|"+stamp+"|0\n<missing>|"+stamp+"|5067000\n" {
			t.Errorf("%s --no-trunc: exit %d %q %s", human, r.code, r.stdout, r.stderr)
		}
	}
	if r := runAt(t, d, "history", "-q", "bbox"); r.stdout != "3f57d9401f8d\n<missing>\n" {
		t.Errorf("-q: %q", r.stdout)
	}
}

func TestSaveLoadImport(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("GET /images/get", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("TARBALL " + strings.Join(r.URL.Query()["names"], ",")))
	})
	var loaded, imported bytes.Buffer
	d.mux.HandleFunc("POST /images/load", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(&loaded, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"stream":"Loaded image: bbox:latest\n"}` + "\n"))
	})
	d.mux.HandleFunc("POST /images/create", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(&imported, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"` + bboxID + `"}` + "\n"))
	})

	r := runAt(t, d, "save", "bbox", "busybox:1")
	if r.code != 0 || r.stdout != "TARBALL bbox,busybox:1" {
		t.Errorf("save to stdout: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	out := filepath.Join(t.TempDir(), "saved.tar")
	if r := runAt(t, d, "save", "-o", out, "bbox"); r.code != 0 || r.stdout != "" {
		t.Errorf("save -o: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "TARBALL bbox" {
		t.Errorf("saved file: %q %v", b, err)
	}
	if r := runAt(t, d, "save", "-o", "/nonexistent/dir/x.tar", "bbox"); r.code != 1 || r.stderr != "failed to save image: invalid output path: directory \"/nonexistent/dir\" does not exist\n" {
		t.Errorf("save into a missing directory: exit %d %q", r.code, r.stderr)
	}

	if r := runAt(t, d, "load", "-i", out); r.code != 0 || r.stdout != "Loaded image: bbox:latest\n" || loaded.String() != "TARBALL bbox" {
		t.Errorf("load -i: exit %d %q %q (sent %q)", r.code, r.stdout, r.stderr, loaded.String())
	}
	if q := d.lastRequest("/images/load").URL.Query(); q.Get("quiet") != "1" {
		t.Errorf("load to a pipe sent %v, want quiet", q)
	}
	loaded.Reset()
	if r := runIn(t, d, "FROM STDIN", "load"); r.code != 0 || loaded.String() != "FROM STDIN" {
		t.Errorf("load from stdin: exit %d %q (sent %q)", r.code, r.stderr, loaded.String())
	}

	r = runIn(t, d, "ROOTFS", "import", "-c", `CMD ["sh"]`, "--change", "ENV A=1", "-m", "hello", "--platform", "linux/amd64", "-", "bbox:v1")
	if r.code != 0 || r.stdout != bboxID+"\n" || imported.String() != "ROOTFS" {
		t.Errorf("import -: exit %d %q %q (sent %q)", r.code, r.stdout, r.stderr, imported.String())
	}
	q := d.lastRequest("/images/create").URL.Query()
	if q.Get("fromSrc") != "-" || q.Get("repo") != "bbox:v1" || q.Get("message") != "hello" || q.Get("platform") != "linux/amd64" ||
		strings.Join(q["changes"], "|") != `CMD ["sh"]|ENV A=1` {
		t.Errorf("import sent %v", q)
	}
	if r := runAt(t, d, "import", "/nonexistent.tar"); r.code != 1 || !strings.Contains(r.stderr, "/nonexistent.tar") {
		t.Errorf("import of a missing file: exit %d %q", r.code, r.stderr)
	}
}

func TestLoginLogout(t *testing.T) {
	d := newFakeDaemon(t)
	var got registry.AuthConfig
	d.mux.HandleFunc("POST /auth", func(w http.ResponseWriter, r *http.Request) {
		json.NewDecoder(r.Body).Decode(&got)
		w.Write([]byte(`{"Status":"Login Succeeded"}`))
	})
	config := t.TempDir()
	os.WriteFile(filepath.Join(config, "config.json"), []byte(`{"detachKeys":"ctrl-x","auths":{"https://index.docker.io/v1/":{"auth":"eDp5"}}}`), 0o600)
	r := runIn(t, d, "s3cret\n", "--config", config, "login", "-u", "alice", "--password-stdin", "https://reg.local:5000/v2/")
	if r.code != 0 || r.stdout != "Login Succeeded\n" || !strings.HasPrefix(r.stderr, "\nWARNING! Your credentials are stored unencrypted in '"+filepath.Join(config, "config.json")+"'.") {
		t.Fatalf("login: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got.Username != "alice" || got.Password != "s3cret" || got.ServerAddress != "reg.local:5000" {
		t.Errorf("/auth got %+v", got)
	}
	var cfg map[string]any
	data, _ := os.ReadFile(filepath.Join(config, "config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil || cfg["detachKeys"] != "ctrl-x" {
		t.Fatalf("config.json: %v\n%s", err, data)
	}
	auths := cfg["auths"].(map[string]any)
	if e, _ := auths["reg.local:5000"].(map[string]any); e["auth"] != base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) || auths[dockerHubServer] == nil {
		t.Errorf("auths: %v", auths)
	}
	if fi, err := os.Stat(filepath.Join(config, "config.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json mode: %v %v", fi.Mode(), err)
	}

	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"login", "reg.local:5000"}, "Error: Cannot perform an interactive login from a non TTY device\n"},
		{[]string{"login", "--password-stdin"}, "the --password-stdin option requires --username to be set\n"},
		{[]string{"login", "-u", "a", "-p", "b", "--password-stdin"}, "conflicting options: cannot specify both --password and --password-stdin\n"},
		{[]string{"login", "-u", "", "-p", "b"}, "username is empty\n"},
	} {
		if r := runIn(t, d, "", tc.args...); r.code != 1 || r.stderr != tc.stderr {
			t.Errorf("%v: exit %d %q", tc.args, r.code, r.stderr)
		}
	}

	if r := runAt(t, d, "--config", config, "logout", "reg.local:5000"); r.code != 0 || r.stdout != "Removing login credentials for reg.local:5000\n" {
		t.Errorf("logout: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	data, _ = os.ReadFile(filepath.Join(config, "config.json"))
	if strings.Contains(string(data), "reg.local") || !strings.Contains(string(data), dockerHubServer) {
		t.Errorf("config.json after logout:\n%s", data)
	}

	// A daemon without the route: the user is told what is missing.
	bare := newFakeDaemon(t)
	r = runIn(t, bare, "pw", "--config", config, "login", "-u", "bob", "--password-stdin", "reg.local:5000")
	if r.code != 1 || !strings.Contains(r.stderr, "does not serve POST /auth (404); its login route may not exist yet, so nothing was stored") {
		t.Errorf("login without /auth: exit %d %q", r.code, r.stderr)
	}
}
