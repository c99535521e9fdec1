package runtime

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/runtime/specdefault"
)

func TestValidateRejectsWhatTheKernelWouldRefuseLater(t *testing.T) {
	cases := []struct {
		name string
		edit func(*specs.Spec)
		want string // "" means valid
	}{
		{"default spec", func(*specs.Spec) {}, ""},
		{"no version", func(s *specs.Spec) { s.Version = "" }, "ociVersion is required"},
		{"version 2", func(s *specs.Spec) { s.Version = "2.0.0" }, `unsupported ociVersion "2.0.0"`},
		{"no root", func(s *specs.Spec) { s.Root = nil }, "root.path is required"},
		{"no process", func(s *specs.Spec) { s.Process = nil }, "process is required"},
		{"empty args", func(s *specs.Spec) { s.Process.Args = nil }, "args must not be empty"},
		{"relative cwd", func(s *specs.Spec) { s.Process.Cwd = "x" }, `cwd "x" must be an absolute path`},
		{"unknown namespace", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, `unknown namespace type "bogus"`},
		{"namespace twice", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "pid"})
		}, `namespace "pid" given twice`},
		{"namespace path missing", func(s *specs.Spec) {
			s.Linux.Namespaces[0].Path = "/no/such/ns"
		}, "/no/such/ns"},
		{"maps without user ns", func(s *specs.Spec) {
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, "need a user namespace"},
		{"user ns without maps", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
		}, "needs uidMappings and gidMappings"},
		{"maps with a joined user ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user", Path: "/proc/self/ns/user"})
			s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		}, "cannot be set when joining"},
		{"joined user ns", func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "user", Path: "/proc/self/ns/user"})
		}, ""},
		{"hostname without uts", func(s *specs.Spec) { s.Linux.Namespaces = dropNS(s.Linux.Namespaces, "uts") }, "private UTS namespace"},
		{"no mount namespace", func(s *specs.Spec) { s.Linux.Namespaces = dropNS(s.Linux.Namespaces, "mount") }, ""},
		{"net sysctl without netns", func(s *specs.Spec) {
			s.Linux.Namespaces = dropNS(s.Linux.Namespaces, "network")
			s.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
		}, "needs a private network namespace"},
		{"ipc sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.shmmax": "1"} }, ""},
		{"host sysctl", func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "1"} }, "not namespaced"},
		{"unknown rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS", Soft: 1, Hard: 1}}
		}, `unknown rlimit "RLIMIT_BOGUS"`},
		{"soft above hard", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 2, Hard: 1}}
		}, "soft 2 above hard 1"},
		{"oom score out of range", func(s *specs.Spec) { v := 2000; s.Process.OOMScoreAdj = &v }, "out of range"},
		{"notify without listener", func(s *specs.Spec) {
			s.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
				Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
		}, "needs linux.seccomp.listenerPath"},
		{"unknown scheduler policy", func(s *specs.Spec) { s.Process.Scheduler = &specs.Scheduler{Policy: "SCHED_X"} }, `unknown scheduler policy "SCHED_X"`},
		{"unknown scheduler flag", func(s *specs.Spec) {
			s.Process.Scheduler = &specs.Scheduler{Policy: specs.SchedOther, Flags: []specs.LinuxSchedulerFlag{"X"}}
		}, `unknown scheduler flag "X"`},
		{"io priority out of range", func(s *specs.Spec) {
			s.Process.IOPriority = &specs.LinuxIOPriority{Class: specs.IOPRIO_CLASS_BE, Priority: 8}
		}, "out of range"},
		{"bad cpu list", func(s *specs.Spec) { s.Process.ExecCPUAffinity = &specs.CPUAffinity{Final: "3-1"} }, `invalid cpu list "3-1"`},
		{"personality flag", func(s *specs.Spec) {
			s.Linux.Personality = &specs.LinuxPersonality{Domain: specs.PerLinux, Flags: []specs.LinuxPersonalityFlag{"X"}}
		}, `unknown personality flag "X"`},
		{"time offsets without time ns", func(s *specs.Spec) {
			s.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 1}}
		}, "need a time namespace"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := specdefault.Default()
			c.edit(s)
			err := validate(s)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("valid spec rejected: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("accepted, want an error containing %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func dropNS(nss []specs.LinuxNamespace, typ specs.LinuxNamespaceType) []specs.LinuxNamespace {
	var out []specs.LinuxNamespace
	for _, ns := range nss {
		if ns.Type != typ {
			out = append(out, ns)
		}
	}
	return out
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"a", "web-1", "x_y.z+1", strings.Repeat("f", 64)} {
		if err := CheckID(ok); err != nil {
			t.Errorf("CheckID(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "a b", "x\n"} {
		if err := CheckID(bad); err == nil {
			t.Errorf("CheckID(%q) accepted", bad)
		}
	}
}
