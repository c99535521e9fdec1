package opts

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/spf13/pflag"
)

var update = flag.Bool("update", false, "rewrite testdata/parse/*.golden from the parser")

// TestParseGolden turns each testdata/parse/NAME.args (one argument per
// line: flags, the image, its command) into the create request, which must
// be NAME.golden.
func TestParseGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/parse/*.args")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	env := map[string]string{"FROM_CLIENT": "c"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".args")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			args := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "$TESTDATA", "testdata")
			}
			fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
			fs.SetInterspersed(false)
			c := NewContainer(fs, lookup)
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			rest := fs.Args()
			cfg, err := c.Parse(fs, rest[0], rest[1:], lookup)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.MarshalIndent(cfg, "", "  ")
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".args") + ".golden"
			if *update {
				os.WriteFile(golden, got, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestParseGolden -update writes it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs from the parse:\n%s", golden, got)
			}
		})
	}
}

func TestMounts(t *testing.T) {
	for _, c := range []struct {
		in   string
		want mount.Mount
		err  string
	}{
		{in: "type=bind,source=/a,target=/b,readonly,bind-propagation=rshared",
			want: mount.Mount{Type: "bind", Source: "/a", Target: "/b", ReadOnly: true, BindOptions: &mount.BindOptions{Propagation: "rshared"}}},
		{in: "src=vol,dst=/data,ro=false,volume-label=a=b,volume-driver=local",
			want: mount.Mount{Type: "volume", Source: "vol", Target: "/data", VolumeOptions: &mount.VolumeOptions{Labels: map[string]string{"a": "b"}, DriverConfig: &mount.Driver{Name: "local"}}}},
		{in: "type=tmpfs,destination=/run,tmpfs-size=1g,tmpfs-mode=700",
			want: mount.Mount{Type: "tmpfs", Target: "/run", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 30, Mode: 0o700}}},
		{in: `type=bind,"src=/a,b",target=/t`, want: mount.Mount{Type: "bind", Source: "/a,b", Target: "/t"}},
		{in: "type=bind,source=/a", err: "target is required"},
		{in: "type=bind,target=/a,ro=maybe", err: "invalid value for ro: maybe"},
		{in: "type=bind,target=/a,rw", err: "invalid field 'rw' must be a key=value pair"},
		{in: "type=volume,target=/a,bind-propagation=shared", err: "cannot mix 'bind-*' options with mount type 'volume'"},
		{in: "type=bind,target=/a,tmpfs-size=1m", err: "cannot mix 'tmpfs-*' options with mount type 'bind'"},
		{in: "type=tmpfs,target=/a,tmpfs-size=big", err: "invalid value for tmpfs-size: big"},
		{in: "type=tmpfs,target=/a,tmpfs-mode=999", err: "invalid value for tmpfs-mode: 999"},
		{in: "type=,target=/a", err: "type is required"},
		{in: "type=bind,target=/a,bind-recursive=readonly,readonly", err: "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction"},
	} {
		var m Mounts
		err := m.Set(c.in)
		switch {
		case c.err != "":
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: error %v, want %s", c.in, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.in, err)
		case !reflect.DeepEqual(m.Values()[0], c.want):
			t.Errorf("%s: %+v, want %+v", c.in, m.Values()[0], c.want)
		}
	}
	var m Mounts
	m.Set("type=bind,src=./rel,dst=/x")
	if abs, _ := filepath.Abs("./rel"); m.Values()[0].Source != abs {
		t.Errorf("relative source kept: %q", m.Values()[0].Source)
	}
}

func TestParseVolume(t *testing.T) {
	for _, c := range []struct {
		in   string
		want VolumeSpec
		err  string
	}{
		{in: "/data", want: VolumeSpec{Target: "/data"}},
		{in: "/host:/data", want: VolumeSpec{Source: "/host", Target: "/data", Bind: true}},
		{in: "./rel:/data:ro", want: VolumeSpec{Source: "./rel", Target: "/data", Bind: true}},
		{in: "name:/data:nocopy", want: VolumeSpec{Source: "name", Target: "/data"}},
		{in: "", err: "invalid empty volume spec"},
		{in: "a::b", err: "invalid spec: a::b: empty section between colons"},
		{in: "a:b:c:d", err: "invalid spec: a:b:c:d: too many colons"},
	} {
		got, err := ParseVolume(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%q: error %v, want %s", c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
}

func TestSmallParsers(t *testing.T) {
	if p, err := ParseRestartPolicy("on-failure:5"); err != nil || p != (container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 5}) {
		t.Errorf("on-failure:5: %+v %v", p, err)
	}
	if _, err := ParseRestartPolicy(":3"); err == nil || err.Error() != "invalid restart policy format: no policy provided before colon" {
		t.Errorf(":3: %v", err)
	}
	for in, want := range map[string]container.DeviceMapping{
		"/dev/fuse":            {PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm"},
		"/dev/fuse:r":          {PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "r"},
		"/dev/sda:/dev/xvda":   {PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "rwm"},
		"/dev/sda:/dev/xvda:w": {PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "w"},
	} {
		if got, err := ParseDevice(in); err != nil || got != want {
			t.Errorf("device %s: %+v %v", in, got, err)
		}
	}
	for in, want := range map[string]string{
		"/dev/sda:/dev/xvda:rx": "bad mode specified: rx", "/dev/sda:xvda": "xvda is not an absolute path",
		":/x": "bad format for path: :/x", "a:b:c:d": "bad format for path: a:b:c:d",
	} {
		if _, err := ParseDevice(in); err == nil || err.Error() != want {
			t.Errorf("device %s: %v, want %s", in, err, want)
		}
	}
	var cpus NanoCPUs
	if err := cpus.Set("0.25"); err != nil || cpus != 250000000 || cpus.String() != "0.250" {
		t.Errorf("--cpus 0.25: %v %v", int64(cpus), err)
	}
	var swap MemSwapBytes
	if swap.Set("-1"); swap != -1 {
		t.Errorf("--memory-swap -1: %d", swap)
	}
	var mem MemBytes
	if err := mem.Set("1.5g"); err != nil || mem != 1610612736 {
		t.Errorf("1.5g: %d %v", mem, err)
	}
	var ul Ulimits
	ul.Set("nofile=10:20")
	ul.Set("core=0")
	ul.Set("nofile=30:40")
	if got := ul.String(); got != "[core=0:0 nofile=30:40]" {
		t.Errorf("ulimits %s", got)
	}
	if _, _, err := ParsePorts([]string{"80:80:80:80"}, nil); err == nil {
		t.Errorf("a malformed -p was accepted")
	}
	if _, _, err := ParsePorts(nil, []string{"1:2"}); err == nil || err.Error() != "invalid port format for --expose: 1:2" {
		t.Errorf("--expose 1:2: %v", err)
	}
	if out, _, err := ParseSecurityOpts([]string{"seccomp=testdata/profile.json"}); err != nil || out[0] != `seccomp={"defaultAction":"SCMP_ACT_ALLOW"}` {
		t.Errorf("seccomp profile: %q %v", out, err)
	}
}

func TestKVFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "env")
	os.WriteFile(p, []byte("\ufeff# comment\n\n  A=1\nB= spaced value \nFROM_CLIENT\nUNSET\n"), 0o644)
	lookup := func(k string) (string, bool) { return map[string]string{"FROM_CLIENT": "c"}[k], k == "FROM_CLIENT" }
	got, err := ReadKVFile(p, lookup)
	if want := []string{"A=1", "B= spaced value ", "FROM_CLIENT=c"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("%q %v, want %q", got, err, want)
	}
	os.WriteFile(p, []byte("BAD KEY=1\n"), 0o644)
	if _, err := ReadKVFile(p, nil); err == nil || err.Error() != "invalid env file ("+p+"): variable 'BAD KEY' contains whitespaces" {
		t.Errorf("bad key: %v", err)
	}
	validate := EnvValidator(lookup)
	if v, _ := validate("FROM_CLIENT"); v != "FROM_CLIENT=c" {
		t.Errorf("-e FROM_CLIENT: %q", v)
	}
	if v, _ := validate("UNSET"); v != "UNSET" {
		t.Errorf("-e UNSET: %q", v)
	}
}
