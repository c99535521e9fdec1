package runtime

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// nsFlags maps runtime-spec namespace types to their clone flags.
var nsFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.PIDNamespace:     0x20000000, // CLONE_NEWPID
	specs.NetworkNamespace: 0x40000000, // CLONE_NEWNET
	specs.MountNamespace:   0x00020000, // CLONE_NEWNS
	specs.IPCNamespace:     0x08000000, // CLONE_NEWIPC
	specs.UTSNamespace:     0x04000000, // CLONE_NEWUTS
	specs.UserNamespace:    0x10000000, // CLONE_NEWUSER
	specs.CgroupNamespace:  0x02000000, // CLONE_NEWCGROUP
	specs.TimeNamespace:    0x00000080, // CLONE_NEWTIME
}

// procNSName is the /proc/PID/ns entry of each namespace type.
var procNSName = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace:     "pid",
	specs.NetworkNamespace: "net",
	specs.MountNamespace:   "mnt",
	specs.IPCNamespace:     "ipc",
	specs.UTSNamespace:     "uts",
	specs.UserNamespace:    "user",
	specs.CgroupNamespace:  "cgroup",
	specs.TimeNamespace:    "time",
}

var rlimitNames = map[string]int{
	"RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
	"RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
	"RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
	"RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

// hasNS reports whether spec asks for a namespace of type t, and its path if joined.
func hasNS(spec *specs.Spec, t specs.LinuxNamespaceType) (bool, string) {
	if spec.Linux == nil {
		return false, ""
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true, ns.Path
		}
	}
	return false, ""
}

// validate checks what the kernel would otherwise reject half-way through setup, so
// that bad input fails before anything is made.
func validate(spec *specs.Spec) error {
	if spec.Version == "" {
		return errors.New("config.json: ociVersion is required")
	}
	if !strings.HasPrefix(spec.Version, "1.") {
		return fmt.Errorf("config.json: unsupported ociVersion %q (want 1.x)", spec.Version)
	}
	if spec.Root == nil || spec.Root.Path == "" {
		return errors.New("config.json: root.path is required")
	}
	if spec.Process == nil {
		return errors.New("config.json: process is required")
	}
	if err := validateProcess(spec.Process); err != nil {
		return err
	}
	if spec.Linux == nil {
		return checkProcessAttrs(spec.Process, nil)
	}
	if err := checkProcessAttrs(spec.Process, spec.Linux.Personality); err != nil {
		return err
	}
	seen := map[specs.LinuxNamespaceType]bool{}
	for _, ns := range spec.Linux.Namespaces {
		if _, ok := nsFlags[ns.Type]; !ok {
			return fmt.Errorf("config.json: unknown namespace type %q", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("config.json: namespace %q given twice", ns.Type)
		}
		seen[ns.Type] = true
		if ns.Path != "" {
			if _, err := os.Stat(ns.Path); err != nil {
				return fmt.Errorf("config.json: namespace %s path: %w", ns.Type, err)
			}
		}
	}
	userNS, userPath := hasNS(spec, specs.UserNamespace)
	if (len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0) && !userNS {
		return errors.New("config.json: uid/gid mappings need a user namespace")
	}
	if userNS && userPath == "" && (len(spec.Linux.UIDMappings) == 0 || len(spec.Linux.GIDMappings) == 0) {
		return errors.New("config.json: a new user namespace needs uidMappings and gidMappings")
	}
	if userNS && userPath != "" && (len(spec.Linux.UIDMappings) > 0 || len(spec.Linux.GIDMappings) > 0) {
		return errors.New("config.json: uidMappings and gidMappings cannot be set when joining a user namespace by path")
	}
	if spec.Hostname != "" || spec.Domainname != "" {
		if uts, _ := hasNS(spec, specs.UTSNamespace); !uts {
			return errors.New("config.json: hostname and domainname need a private UTS namespace")
		}
	}
	for key := range spec.Linux.Sysctl {
		if err := checkSysctl(spec, key); err != nil {
			return err
		}
	}
	if t, _ := hasNS(spec, specs.TimeNamespace); !t && spec.Linux.TimeOffsets != nil {
		return errors.New("config.json: timeOffsets need a time namespace")
	}
	if sc := spec.Linux.Seccomp; sc != nil && sc.ListenerPath == "" && usesNotify(sc) {
		return errors.New("config.json: seccomp action SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath")
	}
	if spec.Linux.IntelRdt != nil {
		return errors.New("config.json: intelRdt is not supported on this host")
	}
	if spec.Linux.MountLabel != "" || spec.Process.SelinuxLabel != "" {
		if !lsmEnabled("selinux") {
			return errors.New("config.json: an SELinux label is set but this kernel has no SELinux")
		}
	}
	return nil
}

func validateProcess(p *specs.Process) error {
	if len(p.Args) == 0 && p.CommandLine == "" {
		return errors.New("config.json: process.args must not be empty")
	}
	if p.Cwd == "" || !strings.HasPrefix(p.Cwd, "/") {
		return fmt.Errorf("config.json: process.cwd %q must be an absolute path", p.Cwd)
	}
	for _, rl := range p.Rlimits {
		if _, ok := rlimitNames[rl.Type]; !ok {
			return fmt.Errorf("config.json: unknown rlimit %q", rl.Type)
		}
		if rl.Soft > rl.Hard {
			return fmt.Errorf("config.json: rlimit %s: soft %d above hard %d", rl.Type, rl.Soft, rl.Hard)
		}
	}
	if p.ApparmorProfile != "" && !lsmEnabled("apparmor") {
		return fmt.Errorf("config.json: apparmor profile %q is set but this kernel has no AppArmor", p.ApparmorProfile)
	}
	if p.SelinuxLabel != "" && !lsmEnabled("selinux") {
		return errors.New("config.json: an SELinux label is set but this kernel has no SELinux")
	}
	if p.OOMScoreAdj != nil && (*p.OOMScoreAdj < -1000 || *p.OOMScoreAdj > 1000) {
		return fmt.Errorf("config.json: oomScoreAdj %d out of range [-1000, 1000]", *p.OOMScoreAdj)
	}
	return nil
}

// checkSysctl allows what runc allows: namespaced keys, each only with its namespace.
func checkSysctl(spec *specs.Spec, key string) error {
	ipcKeys := map[string]bool{
		"kernel.msgmax": true, "kernel.msgmnb": true, "kernel.msgmni": true, "kernel.sem": true,
		"kernel.shmall": true, "kernel.shmmax": true, "kernel.shmmni": true, "kernel.shm_rmid_forced": true,
	}
	switch {
	case ipcKeys[key] || strings.HasPrefix(key, "fs.mqueue."):
		if ok, _ := hasNS(spec, specs.IPCNamespace); !ok {
			return fmt.Errorf("config.json: sysctl %q needs a private IPC namespace", key)
		}
	case strings.HasPrefix(key, "net."):
		if ok, _ := hasNS(spec, specs.NetworkNamespace); !ok {
			return fmt.Errorf("config.json: sysctl %q needs a private network namespace", key)
		}
	case key == "kernel.hostname" || key == "kernel.domainname":
		return fmt.Errorf("config.json: sysctl %q: use the hostname or domainname field", key)
	default:
		return fmt.Errorf("config.json: sysctl %q is not namespaced and is not allowed in a container", key)
	}
	return nil
}

// lsmEnabled reports whether the running kernel has the named Linux security module.
func lsmEnabled(name string) bool {
	b, err := os.ReadFile("/sys/kernel/security/lsm")
	if err != nil {
		return false
	}
	for _, m := range strings.Split(strings.TrimSpace(string(b)), ",") {
		if m == name {
			return true
		}
	}
	return false
}

func usesNotify(sc *specs.LinuxSeccomp) bool {
	if sc.DefaultAction == specs.ActNotify {
		return true
	}
	for _, sys := range sc.Syscalls {
		if sys.Action == specs.ActNotify {
			return true
		}
	}
	return false
}
