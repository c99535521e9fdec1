package oci

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// rulesFor returns the rules of p naming syscall, rendered as
// "ACTION[/errno] args".
func rulesFor(p *specs.LinuxSeccomp, syscall string) []string {
	var out []string
	for _, r := range p.Syscalls {
		if !slices.Contains(r.Names, syscall) {
			continue
		}
		s := string(r.Action)
		if r.ErrnoRet != nil {
			s += fmt.Sprintf("/%d", *r.ErrnoRet)
		}
		for _, a := range r.Args {
			s += fmt.Sprintf(" arg%d %s %#x", a.Index, a.Op, a.Value)
		}
		out = append(out, s)
	}
	return out
}

func resolveDefault(t *testing.T, tg SeccompTarget) *specs.LinuxSeccomp {
	t.Helper()
	p, err := DefaultProfile().Resolve(tg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDefaultProfileGolden pins the built-in profile for an amd64 container
// with the default capabilities: one line per rule, so that any change to
// the allowlist shows as a diff.
func TestDefaultProfileGolden(t *testing.T) {
	p := resolveDefault(t, SeccompTarget{Arch: "amd64", Caps: DefaultCapabilities, Kernel: KernelVersion{6, 18}})
	var b strings.Builder
	fmt.Fprintf(&b, "default %s errno %d\narchitectures %v\n", p.DefaultAction, *p.DefaultErrnoRet, p.Architectures)
	for _, r := range p.Syscalls {
		fmt.Fprintf(&b, "%s", r.Action)
		if r.ErrnoRet != nil {
			fmt.Fprintf(&b, "/%d", *r.ErrnoRet)
		}
		for _, a := range r.Args {
			fmt.Fprintf(&b, " [arg%d %s %#x]", a.Index, a.Op, a.Value)
		}
		names := slices.Clone(r.Names)
		slices.Sort(names)
		fmt.Fprintf(&b, " (%d)\n", len(names))
		for _, n := range names {
			fmt.Fprintf(&b, "\t%s\n", n)
		}
	}
	golden(t, "default-seccomp-amd64.txt", []byte(b.String()))
}

func TestDefaultProfileSemantics(t *testing.T) {
	def := resolveDefault(t, SeccompTarget{Arch: "amd64", Caps: DefaultCapabilities, Kernel: KernelVersion{6, 18}})
	admin := resolveDefault(t, SeccompTarget{Arch: "amd64", Caps: append(slices.Clone(DefaultCapabilities), "CAP_SYS_ADMIN", "CAP_SYS_PTRACE")})
	const allow = "SCMP_ACT_ALLOW"
	for _, tc := range []struct {
		name    string
		profile *specs.LinuxSeccomp
		syscall string
		want    []string // nil: not named, so the default action (EPERM)
	}{
		{"read is allowed", def, "read", []string{allow}},
		{"unshare is denied without CAP_SYS_ADMIN", def, "unshare", nil},
		{"unshare is allowed with CAP_SYS_ADMIN", admin, "unshare", []string{allow}},
		{"mount is denied", def, "mount", nil},
		{"clone may not create namespaces", def, "clone", []string{allow + " arg0 SCMP_CMP_MASKED_EQ 0x7e020000"}},
		{"clone is free with CAP_SYS_ADMIN", admin, "clone", []string{allow}},
		{"clone3 says ENOSYS, so libc falls back to clone", def, "clone3", []string{"SCMP_ACT_ERRNO/38"}},
		{"clone3 with CAP_SYS_ADMIN", admin, "clone3", []string{allow}},
		{"personality: Linux personalities only", def, "personality", []string{
			allow + " arg0 SCMP_CMP_EQ 0x0", allow + " arg0 SCMP_CMP_EQ 0x8", allow + " arg0 SCMP_CMP_EQ 0x20000",
			allow + " arg0 SCMP_CMP_EQ 0x20008", allow + " arg0 SCMP_CMP_EQ 0xffffffff"}},
		{"socket: no AF_ALG or AF_VSOCK", def, "socket", []string{
			allow + " arg0 SCMP_CMP_LT 0x26", allow + " arg0 SCMP_CMP_EQ 0x27", allow + " arg0 SCMP_CMP_GT 0x28"}},
		{"ptrace since 4.8", def, "ptrace", []string{allow}},
		{"ptrace twice with CAP_SYS_PTRACE", admin, "ptrace", []string{allow, allow}},
		{"chroot with CAP_SYS_CHROOT (a default)", def, "chroot", []string{allow}},
		{"reboot needs CAP_SYS_BOOT", def, "reboot", nil},
		{"arch_prctl on amd64", def, "arch_prctl", []string{allow}},
		{"no ARM calls on amd64", def, "set_tls", nil},
		{"keyctl is never allowed", admin, "keyctl", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rulesFor(tc.profile, tc.syscall); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %q, want %q", tc.syscall, got, tc.want)
			}
		})
	}

	old := resolveDefault(t, SeccompTarget{Arch: "amd64", Caps: DefaultCapabilities, Kernel: KernelVersion{4, 4}})
	if got := rulesFor(old, "ptrace"); got != nil {
		t.Errorf("ptrace on 4.4 without CAP_SYS_PTRACE: %q, want denied", got)
	}
	s390 := resolveDefault(t, SeccompTarget{Arch: "s390x", Caps: DefaultCapabilities})
	if got := rulesFor(s390, "clone"); !slices.Equal(got, []string{allow + " arg1 SCMP_CMP_MASKED_EQ 0x7e020000"}) {
		t.Errorf("s390x clone: %q, want the flags checked in the second argument", got)
	}
	if !slices.Equal(s390.Architectures, []specs.Arch{specs.ArchS390X, specs.ArchS390}) {
		t.Errorf("s390x architectures %v", s390.Architectures)
	}
	arm := resolveDefault(t, SeccompTarget{Arch: "arm64", Caps: DefaultCapabilities})
	if !slices.Equal(arm.Architectures, []specs.Arch{specs.ArchAARCH64, specs.ArchARM}) || rulesFor(arm, "set_tls") == nil || rulesFor(arm, "arch_prctl") != nil {
		t.Errorf("arm64: architectures %v, set_tls %q, arch_prctl %q", arm.Architectures, rulesFor(arm, "set_tls"), rulesFor(arm, "arch_prctl"))
	}
}

func TestDefaultProfileIsFresh(t *testing.T) {
	a := DefaultProfile()
	a.Syscalls[0].Names[0] = "changed"
	a.ArchMap[0].SubArches[0] = "changed"
	b := DefaultProfile()
	if b.Syscalls[0].Names[0] == "changed" || b.ArchMap[0].SubArches[0] == "changed" {
		t.Fatal("modifying one DefaultProfile() changed the next")
	}
}

const customProfile = `{
	"defaultAction": "SCMP_ACT_ALLOW",
	"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
	"syscalls": [
		{"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
		{"names": ["chmod", "fchmod"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_FOWNER"]}},
		{"names": ["keyctl"], "action": "SCMP_ACT_KILL", "includes": {"arches": ["arm64"]}},
		{"names": ["statmount"], "action": "SCMP_ACT_LOG", "includes": {"minKernel": "6.8"}},
		{"names": ["bpf"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "5.8"}}
	]
}`

func TestSeccompOption(t *testing.T) {
	path := filepath.Join(t.TempDir(), "profile.json")
	write(t, path, customProfile)
	for _, tc := range []struct {
		name       string
		opt        string
		daemon     string
		privileged bool
		kernel     KernelVersion
		want       string // "none", "default", or "custom"
		rules      map[string][]string
	}{
		{name: "default", want: "default"},
		{name: "unconfined", opt: "seccomp=unconfined", want: "none"},
		{name: "builtin over a daemon profile", opt: "seccomp=builtin", daemon: customProfile, want: "default"},
		{name: "daemon unconfined", daemon: "unconfined", want: "none"},
		{name: "daemon profile", daemon: customProfile, want: "custom"},
		{name: "privileged", privileged: true, want: "none"},
		{name: "privileged with an explicit profile", opt: "seccomp=" + customProfile, privileged: true, want: "custom"},
		{name: "JSON as the docker CLI sends it", opt: "seccomp=" + customProfile, kernel: KernelVersion{6, 18}, want: "custom",
			rules: map[string][]string{
				"mkdir":     {"SCMP_ACT_ERRNO/13"},
				"chmod":     nil, // excluded: the container has CAP_FOWNER
				"keyctl":    nil, // amd64, not arm64
				"statmount": {"SCMP_ACT_LOG"},
				"bpf":       nil, // excluded from 5.8 on
			}},
		{name: "a path", opt: "seccomp=" + path, kernel: KernelVersion{5, 4}, want: "custom",
			rules: map[string][]string{"statmount": nil, "bpf": {"SCMP_ACT_ERRNO"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, input(t, func(in *Input) {
				if tc.opt != "" {
					in.HostConfig.SecurityOpt = []string{tc.opt}
				}
				in.Defaults.SeccompProfile = tc.daemon
				in.HostConfig.Privileged = tc.privileged
				in.Host.Kernel = tc.kernel
			}))
			sc := s.Linux.Seccomp
			switch {
			case tc.want == "none" && sc != nil:
				t.Fatalf("filter %s, want none", sc.DefaultAction)
			case tc.want == "default" && (sc == nil || sc.DefaultAction != specs.ActErrno):
				t.Fatalf("filter %+v, want the default", sc)
			case tc.want == "custom" && (sc == nil || sc.DefaultAction != specs.ActAllow):
				t.Fatalf("filter %+v, want the custom one", sc)
			}
			if tc.want == "custom" && !slices.Equal(sc.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86}) {
				t.Errorf("architectures %v", sc.Architectures)
			}
			for name, want := range tc.rules {
				if got := rulesFor(sc, name); !slices.Equal(got, want) {
					t.Errorf("%s: %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestSeccompProfileErrors(t *testing.T) {
	for _, tc := range []struct{ profile, err string }{
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [`, "Decoding seccomp profile failed: unexpected end of JSON input"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}`,
			"both 'architectures' and 'archMap' are specified in the seccomp profile, use either 'architectures' or 'archMap'"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_KILL"}]}`,
			"both 'name' and 'names' are specified in the seccomp profile, use either 'name' or 'names'"},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["b"], "action": "SCMP_ACT_KILL", "includes": {"minKernel": "5"}}]}`,
			`Decoding seccomp profile failed: invalid kernel version: "5", expected "<kernel>.<major>"`},
		{`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["b"], "action": "SCMP_ACT_KILL", "includes": {"minKernel": "0.0"}}]}`,
			`Decoding seccomp profile failed: invalid kernel version: "0.0", expected "<kernel>.<major>": version cannot be 0.0`},
	} {
		_, err := Spec(input(t, func(in *Input) { in.HostConfig.SecurityOpt = []string{"seccomp=" + tc.profile} }))
		wantInvalid(t, err, tc.err)
	}
	missing := filepath.Join(t.TempDir(), "none.json")
	_, err := Spec(input(t, func(in *Input) { in.HostConfig.SecurityOpt = []string{"seccomp=" + missing} }))
	wantInvalid(t, err, "opening seccomp profile ("+missing+") failed: open "+missing+": no such file or directory")

	// A profile with nothing in it is no filter, as in Docker.
	s := mustSpec(t, input(t, func(in *Input) { in.HostConfig.SecurityOpt = []string{"seccomp={}"} }))
	if s.Linux.Seccomp != nil {
		t.Errorf("empty profile gave %+v", s.Linux.Seccomp)
	}
}

func TestKernelVersion(t *testing.T) {
	for in, want := range map[string]KernelVersion{"6.18.3-amd64": {6, 18}, "5.8": {5, 8}, "4.19-rc5": {4, 19}, "3.10.0-1160.el7.x86_64": {3, 10}} {
		if got, err := ParseKernelVersion(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"6", "", "x.y", "6.x"} {
		if _, err := ParseKernelVersion(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if !(KernelVersion{5, 10}).AtLeast(KernelVersion{4, 8}) || (KernelVersion{4, 4}).AtLeast(KernelVersion{4, 8}) ||
		!(KernelVersion{}).AtLeast(KernelVersion{9, 9}) || !(KernelVersion{4, 8}).AtLeast(KernelVersion{4, 8}) {
		t.Error("AtLeast is wrong")
	}
}
