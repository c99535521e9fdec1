package cli

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/events"
)

// berthdVersion is /version as berthd answers it.
var berthdVersion = map[string]any{
	"Platform": map[string]string{"Name": "berth"},
	"Components": []map[string]any{{"Name": "Engine", "Version": "0.1.0-dev", "Details": map[string]string{
		"ApiVersion": "1.50", "MinAPIVersion": "1.24", "GitCommit": "1234567", "GoVersion": "go1.26.8",
		"Os": "linux", "Arch": "amd64", "KernelVersion": "6.18.1", "BuildTime": "2026-11-23T19:03:30Z", "Experimental": "false",
	}}},
	"Version": "0.1.0-dev", "ApiVersion": "1.50", "MinAPIVersion": "1.24", "GitCommit": "1234567", "GoVersion": "go1.26.8",
	"Os": "linux", "Arch": "amd64", "KernelVersion": "6.18.1", "BuildTime": "2026-11-23T19:03:30Z",
}

func TestVersion(t *testing.T) {
	d := newFakeDaemon(t)
	d.handleJSON("GET /version", berthdVersion)
	r := runAt(t, d, "version")
	want := `Client:
 Version:           1.2.3-test
 API version:       1.50 (downgraded from 1.56)
 Go version:        ` + runtime.Version() + `
 Git commit:        abcdef0
 Built:             Fri Nov 20 10:00:00 2026
 OS/Arch:           ` + runtime.GOOS + "/" + runtime.GOARCH + `

Server: berth
 Engine:
  Version:          0.1.0-dev
  API version:      1.50 (minimum version 1.24)
  Go version:       go1.26.8
  Git commit:       1234567
  Built:            Mon Nov 23 19:03:30 2026
  OS/Arch:          linux/amd64
  Experimental:     false
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stderr %q\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}

	r = runAt(t, d, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}} {{.Client.Version}} {{.Server.KernelVersion}}")
	if r.stdout != "1.50 linux 1.2.3-test 6.18.1\n" {
		t.Errorf("--format: %q (stderr %q)", r.stdout, r.stderr)
	}
	r = runAt(t, d, "version", "--format", "json")
	var v struct {
		Client struct{ Version, ApiVersion string }
		Server struct{ Version, ApiVersion, BuildTime string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Client.Version != "1.2.3-test" || v.Server.ApiVersion != "1.50" || v.Server.BuildTime != "2026-11-23T19:03:30Z" {
		t.Errorf("--format json: %v %+v\n%s", err, v, r.stdout)
	}
}

func TestVersionWithoutDaemon(t *testing.T) {
	r := run(t, nil, "-H", "unix:///nonexistent/berth.sock", "version")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "Client:\n Version:           1.2.3-test\n") || strings.Contains(r.stdout, "Server:") {
		t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
	if r.stderr != "Cannot connect to the berth daemon at unix:///nonexistent/berth.sock. Is berthd running?\n" {
		t.Errorf("stderr %q", r.stderr)
	}
}

// berthdInfo is /info with the fields berthd fills.
const berthdInfo = `{"ID":"394eff33-d58f-4db6-8662-c2b34bc9e630","Containers":0,"Images":3,"Driver":"overlay2",
"DriverStatus":[["Backing Filesystem","extfs"]],"Plugins":{"Volume":["local"],"Network":["bridge","host"],"Log":["json-file"]},
"LoggingDriver":"json-file","CgroupDriver":"cgroupfs","CgroupVersion":"1","KernelVersion":"6.18.1",
"OperatingSystem":"Debian GNU/Linux 12 (bookworm)","OSType":"linux","Architecture":"x86_64","NCPU":2,"MemTotal":25275678720,
"DockerRootDir":"/var/lib/berth","Name":"vm","Labels":["zone=a"],"ServerVersion":"0.1.0-dev",
"Runtimes":{"runc":{"path":"runc"},"berth-runtime":{"path":"berth-runtime"}},"DefaultRuntime":"berth-runtime",
"Swarm":{"LocalNodeState":"inactive"},"SecurityOptions":["name=seccomp,profile=builtin","name=no-new-privileges"],
"RegistryConfig":{"InsecureRegistryCIDRs":["::1/128","127.0.0.0/8"],"IndexConfigs":{"docker.io":{"Name":"docker.io","Secure":true},"reg.local:5000":{"Name":"reg.local:5000","Secure":false}},"Mirrors":["https://mirror.example/"]},
"Warnings":["WARNING: No swap limit support"]}`

func TestInfo(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(berthdInfo)) })
	r := runAt(t, d, "info")
	want := `Client:
 Version:    1.2.3-test
 Debug Mode: false

Server:
 Containers: 0
  Running: 0
  Paused: 0
  Stopped: 0
 Images: 3
 Server Version: 0.1.0-dev
 Storage Driver: overlay2
  Backing Filesystem: extfs
 Logging Driver: json-file
 Cgroup Driver: cgroupfs
 Cgroup Version: 1
 Plugins:
  Volume: local
  Network: bridge host
  Log: json-file
 Swarm: inactive
 Runtimes: berth-runtime runc
 Default Runtime: berth-runtime
 Init Binary: 
 containerd version: 
 runc version: 
 init version: 
 Security Options:
  seccomp
   Profile: builtin
  no-new-privileges
 Kernel Version: 6.18.1
 Operating System: Debian GNU/Linux 12 (bookworm)
 OSType: linux
 Architecture: x86_64
 CPUs: 2
 Total Memory: 23.54GiB
 Name: vm
 ID: 394eff33-d58f-4db6-8662-c2b34bc9e630
 Docker Root Dir: /var/lib/berth
 Debug Mode: false
 Labels:
  zone=a
 Experimental: false
 Insecure Registries:
  reg.local:5000
  ::1/128
  127.0.0.0/8
 Registry Mirrors:
  https://mirror.example/
 Live Restore Enabled: false

`
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d\ngot:\n%s\nwant:\n%s", r.code, r.stdout, want)
	}
	if r.stderr != "WARNING: No swap limit support\n" {
		t.Errorf("warnings on stderr: %q", r.stderr)
	}

	r = runAt(t, d, "-D", "system", "info", "--format", "{{.Driver}} {{.NCPU}} {{.ClientInfo.Version}} {{.ClientInfo.Debug}} {{join .Labels \",\"}}")
	if r.code != 0 || r.stdout != "overlay2 2 1.2.3-test true zone=a\n" {
		t.Errorf("--format: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runAt(t, d, "info", "--format", "{{json .}}")
	var info struct {
		ID, Name   string
		ClientInfo struct{ Version string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &info); err != nil || info.Name != "vm" || info.ClientInfo.Version != "1.2.3-test" {
		t.Errorf("{{json .}}: %v %+v", err, info)
	}
}

// berthdDiskUsage is /system/df in the API 1.50 shape.
const berthdDiskUsage = `{"LayersSize":3000000,
"Images":[{"Id":"sha256:3f57d9401f8d42f986df300f0c69192fc41da28ccc8d797829467780db3dd741","RepoTags":["busybox:latest","reg.local:5000/tools/busybox:1.36"],"Created":1,"Size":2000000,"SharedSize":0,"Containers":0},
          {"Id":"sha256:a416a98b71e224a31ee99cff8e16063554498227d2b696152a9c3e0aa65e5824","RepoTags":[],"Created":1,"Size":1000000,"SharedSize":0,"Containers":1}],
"Containers":[],
"Volumes":[{"Name":"data","Driver":"local","Mountpoint":"/x","Scope":"local","UsageData":{"Size":500,"RefCount":0}}],
"BuildCache":[]}`

func TestSystemDiskUsage(t *testing.T) {
	d := newFakeDaemon(t)
	d.mux.HandleFunc("GET /system/df", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(berthdDiskUsage)) })
	r := runAt(t, d, "system", "df")
	want := `TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE
Images          2         1         3MB       2MB (66%)
Containers      0         0         0B        0B
Local Volumes   1         0         500B      500B (100%)
Build Cache     0         0         0B        0B
`
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d (%s)\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}

	r = runAt(t, d, "system", "df", "--format", "json")
	if first, _, _ := strings.Cut(r.stdout, "\n"); first != `{"Active":"1","Reclaimable":"2MB (66%)","Size":"3MB","TotalCount":"2","Type":"Images"}` {
		t.Errorf("--format json: %q", r.stdout)
	}
	r = runAt(t, d, "system", "df", "--format", `table {{.Type}}\t{{.Size}}`)
	if r.stdout != "TYPE            SIZE\nImages          3MB\nContainers      0B\nLocal Volumes   500B\nBuild Cache     0B\n" {
		t.Errorf("--format table: %q", r.stdout)
	}

	r = runAt(t, d, "system", "df", "-v")
	for _, line := range []string{
		"Images space usage:\n\nREPOSITORY                     TAG       IMAGE ID       CREATED",
		"\nbusybox                        latest    3f57d9401f8d   ",
		"\nreg.local:5000/tools/busybox   1.36      3f57d9401f8d   ",
		"   2MB       0B            2MB           0\n<none>",
		"\n<none>                         <none>    a416a98b71e2   ",
		"\n\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\ndata          0         500B\n",
		"\n\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("df -v lacks %q:\n%s", line, r.stdout)
		}
	}
	if !strings.HasSuffix(r.stdout, "SHARED\n") {
		t.Errorf("df -v ends with %q", r.stdout[max(0, len(r.stdout)-20):])
	}
	r = runAt(t, d, "system", "df", "-v", "--format", "{{len .Images}} {{(index .Volumes 0).Name}}")
	if r.stdout != "3 data\n" {
		t.Errorf("df -v --format: %q %q", r.stdout, r.stderr)
	}
}

func TestEvents(t *testing.T) {
	d := newFakeDaemon(t)
	ts := time.Date(2026, 11, 23, 19, 0, 0, 5, time.Local)
	msgs := []events.Message{
		{Type: events.ImageEventType, Action: events.ActionPull, Actor: events.Actor{ID: "busybox:latest", Attributes: map[string]string{"name": "busybox"}}, Scope: "local", Time: ts.Unix(), TimeNano: ts.UnixNano()},
		{Type: events.ImageEventType, Action: events.ActionTag, Actor: events.Actor{ID: "sha256:3f57", Attributes: map[string]string{"name": "b:2", "a": "x"}}, Scope: "local", Time: ts.Unix() + 1, TimeNano: ts.UnixNano() + 1e9},
		{Type: events.ImageEventType, Action: events.ActionDelete, Actor: events.Actor{ID: "sha256:3f57"}, Scope: "local", Time: ts.Unix() + 2},
	}
	d.mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		for _, m := range msgs {
			enc.Encode(m)
		}
	})
	r := runAt(t, d, "events", "--since", "1700000000", "--until", "1800000000", "--filter", "type=image", "--filter", "event=pull")
	want := "2026-11-23T19:00:00.000000005" + ts.Format("Z07:00") + " image pull busybox:latest (name=busybox)\n" +
		"2026-11-23T19:00:01.000000005" + ts.Format("Z07:00") + " image tag sha256:3f57 (a=x, name=b:2)\n" +
		"2026-11-23T19:00:02.000000000" + ts.Format("Z07:00") + " image delete sha256:3f57\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d (%s)\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	q := d.lastRequest("/events").URL.Query()
	var filters map[string]map[string]bool
	if err := json.Unmarshal([]byte(q.Get("filters")), &filters); err != nil || !filters["type"]["image"] || !filters["event"]["pull"] {
		t.Errorf("filters sent: %q (%v)", q.Get("filters"), err)
	}
	if q.Get("since") != "1700000000" || q.Get("until") != "1800000000" {
		t.Errorf("since/until sent: %q %q", q.Get("since"), q.Get("until"))
	}

	r = runAt(t, d, "system", "events", "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")
	if r.stdout != "image pull busybox:latest\nimage tag sha256:3f57\nimage delete sha256:3f57\n" {
		t.Errorf("--format: %q %q", r.stdout, r.stderr)
	}
	r = runAt(t, d, "events", "--format", "json")
	if first, _, _ := strings.Cut(r.stdout, "\n"); !strings.HasPrefix(first, `{"Type":"image","Action":"pull","Actor":{"ID":"busybox:latest"`) {
		t.Errorf("--format json: %q", r.stdout)
	}
	r = runAt(t, d, "events", "--since", "yesterday")
	if r.code != 1 || !strings.Contains(r.stderr, `"yesterday"`) {
		t.Errorf("bad --since: exit %d %q", r.code, r.stderr)
	}
}
