package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// field digs a value out of decoded JSON: field(m, "HostConfig", "Memory").
func field(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// jsonOf re-encodes a decoded value, for comparing nested values.
func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestRunDetachedSendsTheFlags(t *testing.T) {
	d := newFakeDaemon(t)
	fc := d.addContainer(t, &fakeContainer{id: ctrID})
	host := t.TempDir()
	r := runIn(t, d, "", "run", "-d", "--name", "web", "-e", "A=1", "-e", "B", "-l", "tier=front", "-m", "512m",
		"--memory-swap", "-1", "--cpus", "1.5", "--restart", "on-failure:3", "-v", host+":/data:ro", "-v", "/anon",
		"-v", "named:/cache", "--mount", "type=tmpfs,dst=/run,tmpfs-size=64m,tmpfs-mode=1770",
		"--mount", "type=bind,src="+host+",target=/etc/x,readonly,bind-propagation=rslave",
		"--mount", "type=volume,source=vol,destination=/v,volume-opt=o=uid=1000,volume-nocopy",
		"--tmpfs", "/tmp:size=1m", "--ulimit", "nofile=1024:2048", "--device", "/dev/null:/dev/xnull:r",
		"--security-opt", "no-new-privileges", "--sysctl", "net.ipv4.ip_forward=1", "--cap-add", "net_admin",
		"--cap-drop", "ALL", "--health-cmd", "true", "--health-interval", "5s", "--health-retries", "2",
		"--log-driver", "json-file", "--log-opt", "max-size=1m", "--init", "--network", "none", "-u", "1000:1000",
		"-w", "/srv", "-h", "box", "--read-only", "--pids-limit", "64", "--shm-size", "128m", "--stop-signal", "SIGUSR1",
		"--stop-timeout", "7", "--oom-score-adj", "100", "--group-add", "audio", "--privileged",
		"busybox", "echo", "-n", "hi")
	if r.code != 0 || r.stdout != ctrID+"\n" || r.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Detached without --rm nobody reads the exit: no wait, no attach.
	want := []string{"POST /containers/create", "POST /containers/" + ctrID + "/start"}
	if got := d.calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q, want %q (no wait, no attach)", got, want)
	}
	if q := fc.create.query(t); q.Get("name") != "web" {
		t.Errorf("create query %v", q)
	}
	b := fc.create.body(t)
	for _, c := range []struct {
		path []string
		want string
	}{
		{[]string{"Image"}, `"busybox"`},
		{[]string{"Cmd"}, `["echo","-n","hi"]`},
		{[]string{"Env"}, `["A=1","B"]`},
		{[]string{"Labels"}, `{"tier":"front"}`},
		{[]string{"User"}, `"1000:1000"`},
		{[]string{"WorkingDir"}, `"/srv"`},
		{[]string{"Hostname"}, `"box"`},
		{[]string{"AttachStdout"}, `false`},
		{[]string{"StopSignal"}, `"SIGUSR1"`},
		{[]string{"StopTimeout"}, `7`},
		{[]string{"Volumes"}, `{"/anon":{}}`},
		{[]string{"Healthcheck"}, `{"Interval":5000000000,"Retries":2,"Test":["CMD-SHELL","true"]}`},
		{[]string{"HostConfig", "Memory"}, `536870912`},
		{[]string{"HostConfig", "MemorySwap"}, `-1`},
		{[]string{"HostConfig", "NanoCpus"}, `1500000000`},
		{[]string{"HostConfig", "RestartPolicy"}, `{"MaximumRetryCount":3,"Name":"on-failure"}`},
		{[]string{"HostConfig", "Binds"}, `["` + host + `:/data:ro","named:/cache"]`},
		{[]string{"HostConfig", "Tmpfs"}, `{"/tmp":"size=1m"}`},
		{[]string{"HostConfig", "Ulimits"}, `[{"Hard":2048,"Name":"nofile","Soft":1024}]`},
		{[]string{"HostConfig", "Devices"}, `[{"CgroupPermissions":"r","PathInContainer":"/dev/xnull","PathOnHost":"/dev/null"}]`},
		{[]string{"HostConfig", "SecurityOpt"}, `["no-new-privileges"]`},
		{[]string{"HostConfig", "Sysctls"}, `{"net.ipv4.ip_forward":"1"}`},
		{[]string{"HostConfig", "CapAdd"}, `["CAP_NET_ADMIN"]`},
		{[]string{"HostConfig", "CapDrop"}, `["ALL"]`},
		{[]string{"HostConfig", "LogConfig"}, `{"Config":{"max-size":"1m"},"Type":"json-file"}`},
		{[]string{"HostConfig", "Init"}, `true`},
		{[]string{"HostConfig", "NetworkMode"}, `"none"`},
		{[]string{"HostConfig", "ReadonlyRootfs"}, `true`},
		{[]string{"HostConfig", "PidsLimit"}, `64`},
		{[]string{"HostConfig", "ShmSize"}, `134217728`},
		{[]string{"HostConfig", "OomScoreAdj"}, `100`},
		{[]string{"HostConfig", "GroupAdd"}, `["audio"]`},
		{[]string{"HostConfig", "Privileged"}, `true`},
		{[]string{"HostConfig", "AutoRemove"}, `false`},
		{[]string{"HostConfig", "Mounts"}, `[{"Target":"/run","TmpfsOptions":{"Mode":1016,"SizeBytes":67108864},"Type":"tmpfs"},` +
			`{"BindOptions":{"Propagation":"rslave"},"ReadOnly":true,"Source":"` + host + `","Target":"/etc/x","Type":"bind"},` +
			`{"Source":"vol","Target":"/v","Type":"volume","VolumeOptions":{"DriverConfig":{"Options":{"o":"uid=1000"}},"NoCopy":true}}]`},
		{[]string{"NetworkingConfig"}, `{"EndpointsConfig":{}}`},
	} {
		if got := jsonOf(field(b, c.path...)); got != c.want {
			t.Errorf("%s = %s, want %s", strings.Join(c.path, "."), got, c.want)
		}
	}
}

func TestRunAttachedRelaysTheStreamsAndExitsWithTheStatus(t *testing.T) {
	d := newFakeDaemon(t)
	fc := d.addContainer(t, &fakeContainer{id: ctrID, exit: 3, program: func(_ io.Reader, stdout, stderr io.Writer) {
		io.WriteString(stdout, "hello\n")
		io.WriteString(stderr, "oops\n")
	}})
	r := runIn(t, d, "", "run", "busybox", "sh", "-c", "echo hello; echo oops >&2; exit 3")
	if r.code != 3 || r.stdout != "hello\n" || r.stderr != "oops\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	id := "/containers/" + ctrID
	want := []string{"POST /containers/create", "POST " + id + "/attach", "POST " + id + "/wait", "POST " + id + "/start"}
	if got := d.calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q, want %q (attach and wait before start)", got, want)
	}
	if q := fc.attach.query(t).Encode(); q != "stderr=1&stdout=1&stream=1" {
		t.Errorf("attach query %s", q)
	}
	b := fc.create.body(t)
	if field(b, "AttachStdout") != true || field(b, "AttachStderr") != true || field(b, "AttachStdin") != false || field(b, "OpenStdin") != false {
		t.Errorf("create attaches %s", jsonOf(b))
	}
}

func TestRunInteractiveSendsStdin(t *testing.T) {
	d := newFakeDaemon(t)
	fc := d.addContainer(t, &fakeContainer{id: ctrID, program: func(stdin io.Reader, stdout, _ io.Writer) {
		b, _ := io.ReadAll(stdin)
		io.WriteString(stdout, strings.ToUpper(string(b)))
	}})
	r := runIn(t, d, "piped input\n", "run", "-i", "-a", "stdin", "-a", "stdout", "busybox", "tr", "a-z", "A-Z")
	if r.code != 0 || r.stdout != "PIPED INPUT\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if q := fc.attach.query(t).Encode(); q != "stdin=1&stdout=1&stream=1" {
		t.Errorf("attach query %s", q)
	}
	b := fc.create.body(t)
	if field(b, "AttachStdin") != true || field(b, "OpenStdin") != true || field(b, "StdinOnce") != true || field(b, "AttachStderr") != false {
		t.Errorf("create attaches %s", jsonOf(b))
	}
}

func TestRunRmWaitsForRemoval(t *testing.T) {
	d := newFakeDaemon(t)
	fc := d.addContainer(t, &fakeContainer{id: ctrID})
	if r := runIn(t, d, "", "run", "--rm", "busybox", "true"); r.code != 0 {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	if q := fc.wait.query(t); q.Get("condition") != "removed" {
		t.Errorf("wait query %v", q)
	}
	if field(fc.create.body(t), "HostConfig", "AutoRemove") != true {
		t.Errorf("AutoRemove not sent")
	}
}

func TestRunPullsAMissingImage(t *testing.T) {
	d := newFakeDaemon(t)
	created := false
	create := &capture{}
	d.mux.HandleFunc("POST /containers/create", func(w http.ResponseWriter, r *http.Request) {
		create.add(r)
		w.Header().Set("Content-Type", "application/json")
		if !created {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"message":"No such image: busybox:latest"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"Id":%q,"Warnings":["your kernel lacks swap limits"]}`, ctrID)
	})
	pull := &capture{}
	d.mux.HandleFunc("POST /images/create", func(w http.ResponseWriter, r *http.Request) {
		pull.add(r)
		created = true
		for _, m := range []string{
			`{"status":"Pulling from library/busybox","id":"latest"}`,
			`{"status":"Pull complete","progressDetail":{},"id":"3f57d9401f8d"}`,
			`{"status":"Digest: sha256:1111"}`,
			`{"status":"Status: Downloaded newer image for busybox:latest"}`,
		} {
			io.WriteString(w, m+"\n")
		}
	})
	r := runIn(t, d, "", "create", "busybox")
	wantErr := "Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\n3f57d9401f8d: Pull complete\n" +
		"Digest: sha256:1111\nStatus: Downloaded newer image for busybox:latest\nWARNING: your kernel lacks swap limits\n"
	if r.code != 0 || r.stdout != ctrID+"\n" || r.stderr != wantErr {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", r.code, r.stdout, r.stderr, wantErr)
	}
	if q := pull.query(t); q.Get("fromImage") != "docker.io/library/busybox" || q.Get("tag") != "latest" {
		t.Errorf("pull query %v", q)
	}
	if create.count() != 2 {
		t.Errorf("%d creates, want 2 (before and after the pull)", create.count())
	}
}

func TestRunBadInput(t *testing.T) {
	d := newFakeDaemon(t)
	d.reply("POST /containers/create", http.StatusNotFound, apiError("No such image: busybox:latest"))
	existing := filepath.Join(t.TempDir(), "cid")
	os.WriteFile(existing, []byte("x"), 0o644)
	const usage = "\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth run --help' for more information\n"
	const help = "\n\nRun 'berth run --help' for more information\n"
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		// docker 28's go-units (v0.5.0) words a bad unit so.
		{[]string{"-m", "1x"}, 125, `invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'` + usage},
		{[]string{"-m", "lots"}, 125, `invalid argument "lots" for "-m, --memory" flag: invalid size: 'lots'` + usage},
		{[]string{"--cpus", "abc"}, 125, `invalid argument "abc" for "--cpus" flag: failed to parse abc as a rational number` + usage},
		{[]string{"--cpus", "0.0000000001"}, 125, `invalid argument "0.0000000001" for "--cpus" flag: value is too precise` + usage},
		{[]string{"--mount", "type=bind"}, 125, `invalid argument "type=bind" for "--mount" flag: target is required` + usage},
		{[]string{"--mount", "bogus=1,target=/x"}, 125, `invalid argument "bogus=1,target=/x" for "--mount" flag: unexpected key 'bogus' in 'bogus=1'` + usage},
		{[]string{"--mount", "type=tmpfs,dst=/x,volume-nocopy"}, 125, `invalid argument "type=tmpfs,dst=/x,volume-nocopy" for "--mount" flag: cannot mix 'volume-*' options with mount type 'tmpfs'` + usage},
		{[]string{"-e", "=x"}, 125, `invalid argument "=x" for "-e, --env" flag: invalid environment variable: =x` + usage},
		{[]string{"--ulimit", "foo"}, 125, `invalid argument "foo" for "--ulimit" flag: invalid ulimit argument: foo` + usage},
		{[]string{"--sysctl", "kernel.foo=1"}, 125, `invalid argument "kernel.foo=1" for "--sysctl" flag: sysctl 'kernel.foo=1' is not allowed` + usage},
		{[]string{"-a", "stdbad"}, 125, `invalid argument "stdbad" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR` + usage},
		{[]string{"--bogus"}, 125, "unknown flag: --bogus" + usage},
		{[]string{"--restart", "on-failure:x"}, 125, "berth: invalid restart policy format: maximum retry count must be an integer" + help},
		{[]string{"--restart", "always", "--rm"}, 125, "berth: conflicting options: cannot specify both --restart and --rm" + help},
		{[]string{"-v", "a::b"}, 125, "berth: invalid spec: a::b: empty section between colons" + help},
		{[]string{"--pull", "sometimes"}, 125, `berth: invalid pull option: 'sometimes': must be one of "always", "missing" or "never"` + help},
		{[]string{"--health-interval", "-1s"}, 125, "berth: --health-interval cannot be negative" + help},
		{[]string{"--no-healthcheck", "--health-cmd", "true"}, 125, "berth: --no-healthcheck conflicts with --health-* options" + help},
		{[]string{"--security-opt", "bogus"}, 125, `berth: Invalid --security-opt: "bogus"` + help},
		{[]string{"--pid", "bogus"}, 125, "berth: --pid: invalid PID mode" + help},
		{[]string{"--memory-swappiness", "101"}, 125, "berth: invalid value: 101. Valid memory swappiness range is 0-100" + help},
		{[]string{"--log-driver", "none", "--log-opt", "a=b"}, 125, "berth: invalid logging opts for driver none" + help},
		{[]string{"--env-file", "/nonexistent/env"}, 125, "berth: open /nonexistent/env: no such file or directory" + help},
		{[]string{"--cidfile", existing}, 125, "berth: container ID file found, make sure the other container isn't running or delete " + existing + help},
		{[]string{"-d", "-a", "stdout"}, 1, "conflicting options: cannot specify both --attach and --detach\n"},
		{[]string{"-it"}, 1, "the input device is not a TTY\n"},
		{[]string{"--pull", "never"}, 125, "berth: Error response from daemon: No such image: busybox:latest" + help},
	} {
		args := append(append([]string{"run"}, c.args...), "busybox")
		r := runIn(t, d, "", args...)
		if r.code != c.code || r.stderr != c.stderr {
			t.Errorf("berth %s: exit %d, stderr:\n%q\nwant exit %d:\n%q", strings.Join(args, " "), r.code, r.stderr, c.code, c.stderr)
		}
	}
	if r := runIn(t, d, "", "run"); r.code != 1 || r.stderr != "berth: 'berth run' requires at least 1 argument\n\nUsage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nSee 'berth run --help' for more information\n" {
		t.Errorf("run without image: exit %d %q", r.code, r.stderr)
	}
	if r := runIn(t, d, "", "create", "--pull", "never", "busybox"); r.code != 1 || r.stderr != "Error response from daemon: No such image: busybox:latest\n" {
		t.Errorf("create of a missing image: exit %d %q", r.code, r.stderr)
	}
}

func TestRunExitCodesForStartFailures(t *testing.T) {
	for _, c := range []struct {
		msg  string
		code int
	}{
		{`failed to create task: exec: "nope": executable file not found in $PATH`, 127},
		{`exec /bin/app: no such file or directory`, 127},
		{`exec /etc/passwd: permission denied`, 126},
		{`cannot join network of a non running container`, 125},
	} {
		d := newFakeDaemon(t)
		d.reply("POST /containers/create", http.StatusCreated, map[string]any{"Id": ctrID})
		d.reply("POST /containers/"+ctrID+"/wait", http.StatusOK, map[string]any{"StatusCode": 0})
		d.reply("POST /containers/"+ctrID+"/start", http.StatusBadRequest, apiError(c.msg))
		r := runIn(t, d, "", "run", "-d", "busybox", "nope")
		want := "berth: Error response from daemon: " + c.msg + "\n\nRun 'berth run --help' for more information\n"
		if r.code != c.code || r.stderr != want || r.stdout != ctrID+"\n" {
			t.Errorf("start fails with %q: exit %d, stdout %q, stderr %q; want exit %d", c.msg, r.code, r.stdout, r.stderr, c.code)
		}
	}
}

func TestRunNameInUse(t *testing.T) {
	d := newFakeDaemon(t)
	const msg = `Conflict. The container name "/web" is already in use by container "` + ctrID + `". You have to remove (or rename) that container to be able to reuse that name.`
	d.reply("POST /containers/create", http.StatusConflict, apiError(msg))
	r := runIn(t, d, "", "run", "--name", "web", "busybox")
	if want := "berth: Error response from daemon: " + msg + "\n\nRun 'berth run --help' for more information\n"; r.code != 125 || r.stderr != want {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestCreateWritesTheCIDFile(t *testing.T) {
	d := newFakeDaemon(t)
	create := d.reply("POST /containers/create", http.StatusCreated, map[string]any{"Id": ctrID, "Warnings": []string{"mind the gap"}})
	cid := filepath.Join(t.TempDir(), "cid")
	r := runIn(t, d, "", "create", "--cidfile", cid, "--platform", "linux/arm64", "-p", "127.0.0.1:8080:80/tcp", "--expose", "9000-9001",
		"--entrypoint", "", "busybox")
	if r.code != 0 || r.stdout != ctrID+"\n" || r.stderr != "WARNING: mind the gap\n" {
		t.Fatalf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if b, err := os.ReadFile(cid); err != nil || string(b) != ctrID {
		t.Errorf("cidfile %q %v", b, err)
	}
	if q := create.query(t); q.Get("platform") != "linux/arm64" {
		t.Errorf("create query %v", q)
	}
	b := create.body(t)
	if got := jsonOf(field(b, "HostConfig", "PortBindings")); got != `{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]}` {
		t.Errorf("PortBindings %s", got)
	}
	if got := jsonOf(field(b, "ExposedPorts")); got != `{"80/tcp":{},"9000/tcp":{},"9001/tcp":{}}` {
		t.Errorf("ExposedPorts %s", got)
	}
	if got := jsonOf(field(b, "Entrypoint")); got != `[""]` {
		t.Errorf("--entrypoint '' sent %s", got)
	}
	// A failed create leaves no cidfile behind.
	d2 := newFakeDaemon(t)
	d2.reply("POST /containers/create", http.StatusNotFound, apiError("No such image: x:latest"))
	cid2 := filepath.Join(t.TempDir(), "cid")
	if r := runIn(t, d2, "", "create", "--pull", "never", "--cidfile", cid2, "x"); r.code != 1 {
		t.Errorf("exit %d", r.code)
	}
	if _, err := os.Stat(cid2); !os.IsNotExist(err) {
		t.Errorf("cidfile left behind: %v", err)
	}
}

func TestRunDetachedWithRmWaitsForTheRemoval(t *testing.T) {
	d := newFakeDaemon(t)
	fc := d.addContainer(t, &fakeContainer{id: ctrID})
	r := runIn(t, d, "", "run", "-d", "--rm", "busybox", "true")
	if r.code != 0 || r.stdout != ctrID+"\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// The wait is registered before the start: a start that fails waits for the
	// removal before reporting.
	want := []string{"POST /containers/create", "POST /containers/" + ctrID + "/wait", "POST /containers/" + ctrID + "/start"}
	if got := d.calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests %q, want %q", got, want)
	}
	if q := fc.wait.query(t); q.Get("condition") != "removed" {
		t.Errorf("wait query %v, want condition=removed", q)
	}
}
