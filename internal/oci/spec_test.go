package oci

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to accept, then review the diff):\n%s", path, got)
	}
}

// TestDefaultSpecGolden pins the spec of `run IMAGE sh`, so any change to a
// default shows as a diff.
func TestDefaultSpecGolden(t *testing.T) {
	s := mustSpec(t, input(t, nil))
	s.Root.Path = "ROOTFS"
	s.Linux.Seccomp.Syscalls = nil // pinned by default-seccomp-amd64.txt
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "default-spec.json", append(b, '\n'))
}

func TestCapabilities(t *testing.T) {
	all := allCapabilities(Host{})
	if len(all) != 41 || all[0] != "CAP_CHOWN" || all[40] != "CAP_CHECKPOINT_RESTORE" {
		t.Fatalf("all capabilities = %v", all)
	}
	without := func(list []string, c string) []string {
		return slices.DeleteFunc(slices.Clone(list), func(x string) bool { return x == c })
	}
	for _, tc := range []struct {
		name       string
		add, drop  []string
		privileged bool
		lastCap    int
		want       []string
	}{
		{name: "defaults", want: DefaultCapabilities},
		{name: "drop ALL add NET_ADMIN", drop: []string{"ALL"}, add: []string{"NET_ADMIN"}, want: []string{"CAP_NET_ADMIN"}},
		{name: "drop all, lower case", drop: []string{"all"}, want: []string{}},
		{name: "add lower case without prefix", add: []string{"net_admin"}, want: append(slices.Clone(DefaultCapabilities), "CAP_NET_ADMIN")},
		{name: "add with prefix, mixed case", add: []string{"Cap_Sys_Ptrace"}, want: append(slices.Clone(DefaultCapabilities), "CAP_SYS_PTRACE")},
		{name: "drop one", drop: []string{"NET_RAW"}, want: without(DefaultCapabilities, "CAP_NET_RAW")},
		{name: "add a default again", add: []string{"CHOWN"}, want: DefaultCapabilities},
		{name: "add ALL drop one", add: []string{"ALL"}, drop: []string{"CAP_SYS_ADMIN"}, want: without(all, "CAP_SYS_ADMIN")},
		{name: "privileged", privileged: true, drop: []string{"CHOWN"}, want: all},
		{name: "privileged on an older kernel", privileged: true, lastCap: 37, want: all[:38]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, input(t, func(in *Input) {
				in.HostConfig.CapAdd, in.HostConfig.CapDrop, in.HostConfig.Privileged = tc.add, tc.drop, tc.privileged
				if tc.lastCap != 0 {
					in.Host.LastCap = tc.lastCap
				}
			}))
			c := s.Process.Capabilities
			for name, set := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
				if !slices.Equal(set, tc.want) {
					t.Errorf("%s = %v, want %v", name, set, tc.want)
				}
			}
			if len(c.Inheritable) != 0 || len(c.Ambient) != 0 {
				t.Errorf("inheritable %v ambient %v, want none", c.Inheritable, c.Ambient)
			}
		})
	}
}

func TestPrivileged(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) { in.HostConfig.Privileged = true }))
	if s.Linux.Seccomp != nil {
		t.Error("privileged container has a seccomp filter")
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("masked %v read-only %v, want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	for _, dst := range []string{"/sys", "/sys/fs/cgroup"} {
		if m, _ := mountAt(s, dst); slices.Contains(m.Options, "ro") {
			t.Errorf("%s is read-only: %v", dst, m.Options)
		}
	}
	if rules := s.Linux.Resources.Devices; len(rules) != 1 || !rules[0].Allow || rules[0].Type != "" || rules[0].Access != "rwm" {
		t.Errorf("device rules = %+v, want one allowing everything", rules)
	}
	if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool {
		return d.Path == "/dev/null" && d.Type == "c" && d.Major == 1 && d.Minor == 3
	}) {
		t.Errorf("host's /dev/null not among the devices: %d devices", len(s.Linux.Devices))
	}
	if slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return filepath.Dir(d.Path) == "/dev/pts" }) {
		t.Error("host pseudo-terminals given to the container")
	}
}

func TestDefaultsAreSecure(t *testing.T) {
	s := mustSpec(t, input(t, nil))
	if s.Linux.Seccomp == nil || s.Linux.Seccomp.DefaultAction != specs.ActErrno || *s.Linux.Seccomp.DefaultErrnoRet != 1 {
		t.Errorf("seccomp = %+v, want the default profile failing other calls with EPERM", s.Linux.Seccomp)
	}
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/interrupts", "/sys/firmware", "/sys/devices/virtual/powercap"} {
		if !slices.Contains(s.Linux.MaskedPaths, p) {
			t.Errorf("%s not masked", p)
		}
	}
	if !slices.Equal(s.Linux.ReadonlyPaths, DefaultReadonlyPaths) {
		t.Errorf("read-only paths = %v", s.Linux.ReadonlyPaths)
	}
	if m, _ := mountAt(s, "/sys"); !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys = %v, want read-only", m.Options)
	}
	if m, _ := mountAt(s, "/dev/shm"); !slices.Contains(m.Options, "size=67108864") {
		t.Errorf("/dev/shm = %v, want 64 MiB", m.Options)
	}
	if ns := namespaceTypes(s); len(ns) != 6 {
		t.Errorf("namespaces = %v, want mount network uts pid ipc cgroup", ns)
	}
	if s.Process.NoNewPrivileges {
		t.Error("no_new_privs on without being asked for (Docker leaves it off)")
	}
	if got := s.Process.OOMScoreAdj; got == nil || *got != 0 {
		t.Errorf("oomScoreAdj = %v, want 0", got)
	}
	if s.Linux.CgroupsPath != "/berth/"+testID {
		t.Errorf("cgroupsPath = %q", s.Linux.CgroupsPath)
	}
}

func TestHostMaskedPaths(t *testing.T) {
	tt := "/sys/devices/system/cpu/cpu0/thermal_throttle"
	s := mustSpec(t, input(t, func(in *Input) { in.Host.MaskedPaths = []string{tt} }))
	if !slices.Contains(s.Linux.MaskedPaths, tt) || !slices.Contains(s.Linux.MaskedPaths, "/proc/kcore") {
		t.Errorf("masked = %v", s.Linux.MaskedPaths)
	}
	// --security-opt systempaths=unconfined arrives as empty lists.
	s = mustSpec(t, input(t, func(in *Input) {
		in.HostConfig.MaskedPaths, in.HostConfig.ReadonlyPaths = []string{}, []string{}
	}))
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("masked %v read-only %v, want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
}

func TestNoNewPrivileges(t *testing.T) {
	for _, tc := range []struct {
		daemon bool
		opts   []string
		want   bool
	}{
		{false, nil, false},
		{false, []string{"no-new-privileges"}, true},
		{false, []string{"no-new-privileges=true"}, true},
		{false, []string{"no-new-privileges:true"}, true},
		{true, nil, true},
		{true, []string{"no-new-privileges=false"}, false},
	} {
		s := mustSpec(t, input(t, func(in *Input) {
			in.Defaults.NoNewPrivileges = tc.daemon
			in.HostConfig.SecurityOpt = tc.opts
		}))
		if s.Process.NoNewPrivileges != tc.want {
			t.Errorf("daemon %v, opts %v: no_new_privs %v, want %v", tc.daemon, tc.opts, s.Process.NoNewPrivileges, tc.want)
		}
	}
}

func TestInputNotModified(t *testing.T) {
	in := input(t, func(in *Input) {
		in.Config.Env = make([]string, 1, 10)
		in.Config.Env[0] = "A=1"
		in.HostConfig.Memory = 64 << 20
		in.Image = &imageWithEntrypoint
	})
	cfg, hc := *in.Config, *in.HostConfig
	env := slices.Clone(in.Config.Env)
	mustSpec(t, in)
	// Env has room to grow: merging the image's variables must not write
	// into the caller's array beyond its length either.
	if !reflect.DeepEqual(*in.Config, cfg) || !slices.Equal(in.Config.Env[:2], append(env, "")) {
		t.Errorf("Config modified: %+v", *in.Config)
	}
	if !reflect.DeepEqual(*in.HostConfig, hc) {
		t.Errorf("HostConfig modified: %+v", *in.HostConfig)
	}
}

func TestCgroupsPath(t *testing.T) {
	for _, tc := range []struct {
		container, daemon, override, want string
	}{
		{"", "", "", "/berth/" + testID},
		{"", "/custom", "", "/custom/" + testID},
		{"/mine/", "/custom", "", "/mine/" + testID},
		{"/mine", "", "/exact/path", "/exact/path"},
	} {
		s := mustSpec(t, input(t, func(in *Input) {
			in.HostConfig.CgroupParent, in.Defaults.CgroupParent, in.CgroupsPath = tc.container, tc.daemon, tc.override
		}))
		if s.Linux.CgroupsPath != tc.want {
			t.Errorf("%+v: cgroupsPath %q, want %q", tc, s.Linux.CgroupsPath, tc.want)
		}
	}
}

func TestLSMOptions(t *testing.T) {
	for _, opt := range []string{"apparmor=unconfined", "label=disable", "label:disable", "disable"} {
		if _, err := Spec(input(t, func(in *Input) { in.HostConfig.SecurityOpt = []string{opt} })); err != nil {
			t.Errorf("%s: %v", opt, err)
		}
	}
	_, err := Spec(input(t, func(in *Input) { in.HostConfig.SecurityOpt = []string{"apparmor=docker-default"} }))
	wantInvalid(t, err, `AppArmor is not available on this host: cannot apply profile "docker-default" (--security-opt apparmor=docker-default)`)
	_, err = Spec(input(t, func(in *Input) { in.HostConfig.SecurityOpt = []string{"label=type:svirt_apache_t"} }))
	wantInvalid(t, err, `SELinux is not available on this host: cannot apply label "type:svirt_apache_t" (--security-opt label=type:svirt_apache_t)`)
	_, err = Spec(input(t, func(in *Input) {
		in.Host.AppArmor = true
		in.HostConfig.SecurityOpt = []string{"apparmor=docker-default"}
	}))
	wantInvalid(t, err, `berth does not apply AppArmor profiles yet: cannot apply profile "docker-default" (--security-opt apparmor=docker-default)`)
}

func TestAnnotations(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) { in.HostConfig.Annotations = map[string]string{"org.example/a": "b"} }))
	if len(s.Annotations) != 1 || s.Annotations["org.example/a"] != "b" {
		t.Errorf("annotations = %v", s.Annotations)
	}
}
