package oci

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The built-in seccomp profile: Docker's default profile, written as berth's
// own data. It is an allowlist: a syscall not allowed below fails with EPERM.
//
// Most programs need only the unconditional groups. The rest are allowed only
// to a container holding the capability that makes them meaningful (mount
// needs CAP_SYS_ADMIN, reboot CAP_SYS_BOOT, ...), on the architecture that has
// them, or with arguments that cannot escape the container: clone may not
// create namespaces without CAP_SYS_ADMIN (and clone3, whose flags sit in
// memory a filter cannot read, fails with ENOSYS so libc falls back to
// clone), personality may only select Linux personalities, socket may not
// open AF_ALG or AF_VSOCK sockets.
//
// Names unknown to an architecture are skipped there, so one list serves all.

// Unconditional groups, by what the calls are for.
var (
	seccompFiles = []string{
		"access", "chdir", "chmod", "chown", "chown32", "close", "close_range",
		"copy_file_range", "creat", "dup", "dup2", "dup3", "faccessat", "faccessat2",
		"fadvise64", "fadvise64_64", "fallocate", "fchdir", "fchmod", "fchmodat",
		"fchmodat2", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync",
		"flock", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
		"ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64",
		"ioctl", "lchown", "lchown32", "link", "linkat", "_llseek", "lseek", "lstat",
		"lstat64", "mkdir", "mkdirat", "mknod", "mknodat", "name_to_handle_at",
		"newfstatat", "open", "openat", "openat2", "pread64", "preadv", "preadv2",
		"pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
		"readlinkat", "readv", "rename", "renameat", "renameat2", "rmdir",
		"sendfile", "sendfile64", "splice", "stat", "stat64", "statfs", "statfs64",
		"statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "tee",
		"truncate", "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat",
		"utimensat_time64", "utimes", "vmsplice", "write", "writev",
		"cachestat",              // 6.5
		"listmount", "statmount", // 6.8
	}
	seccompXattrs = []string{
		"fgetxattr", "flistxattr", "fremovexattr", "fsetxattr", "getxattr",
		"lgetxattr", "listxattr", "llistxattr", "lremovexattr", "lsetxattr",
		"removexattr", "setxattr",
		"getxattrat", "listxattrat", "removexattrat", "setxattrat", // 6.13
	}
	seccompWaiting = []string{
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
		"epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
		"fanotify_mark", "inotify_add_watch", "inotify_init", "inotify_init1",
		"inotify_rm_watch", "_newselect", "pipe", "pipe2", "poll", "ppoll",
		"ppoll_time64", "pselect6", "pselect6_time64", "select", "signalfd",
		"signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
		"timerfd_settime", "timerfd_settime64",
		"io_cancel", "io_destroy", "io_getevents", "io_pgetevents",
		"io_pgetevents_time64", "io_setup", "io_submit", "ioprio_get", "ioprio_set",
	}
	seccompProcesses = []string{
		"capget", "capset", "execve", "execveat", "exit", "exit_group", "fork",
		"futex", "futex_time64", "futex_waitv", "getcpu", "get_robust_list",
		"get_thread_area", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
		"getrandom", "getrusage", "getsid", "gettid", "kill", "membarrier",
		"pidfd_open", "pidfd_send_signal", "prctl", "process_mrelease",
		"restart_syscall", "rseq", "sched_get_priority_max", "sched_get_priority_min",
		"sched_getaffinity", "sched_getattr", "sched_getparam", "sched_getscheduler",
		"sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
		"sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
		"seccomp", "set_robust_list", "set_thread_area", "set_tid_address",
		"setpgid", "setpriority", "setsid", "sysinfo", "tgkill", "times", "tkill",
		"uname", "vfork", "wait4", "waitid", "waitpid",
		"getrlimit", "prlimit64", "setrlimit", "ugetrlimit",
		"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
		"futex_requeue", "futex_wait", "futex_wake", // 6.7
		"map_shadow_stack", // 6.6
		"uretprobe",        // 6.11
		"riscv_hwprobe",    // 6.12
	}
	seccompIdentity = []string{
		"getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
		"getgroups", "getgroups32", "getresgid", "getresgid32", "getresuid",
		"getresuid32", "getuid", "getuid32", "setfsgid", "setfsgid32", "setfsuid",
		"setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setregid",
		"setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
		"setreuid", "setreuid32", "setuid", "setuid32",
	}
	seccompSignals = []string{
		"alarm", "pause", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
		"rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
		"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sigaltstack", "sigprocmask",
		"sigreturn",
	}
	seccompTime = []string{
		"adjtimex", "clock_adjtime", "clock_adjtime64", "clock_getres",
		"clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
		"clock_nanosleep_time64", "getitimer", "gettimeofday", "nanosleep",
		"setitimer", "time", "timer_create", "timer_delete", "timer_getoverrun",
		"timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
	}
	seccompMemory = []string{
		"brk", "madvise", "memfd_create", "memfd_secret", "mincore", "mlock",
		"mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap", "msync",
		"munlock", "munlockall", "munmap", "pkey_alloc", "pkey_free",
		"pkey_mprotect", "remap_file_pages",
		"mseal", // 6.9
	}
	seccompSockets = []string{
		"accept", "accept4", "bind", "connect", "getpeername", "getsockname",
		"getsockopt", "listen", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
		"recvmsg", "send", "sendmmsg", "sendmsg", "sendto", "setsockopt",
		"shutdown", "socketcall", "socketpair",
	}
	seccompIPC = []string{
		"ipc", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
		"mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
		"mq_unlink", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget",
		"semop", "semtimedop", "semtimedop_time64", "shmat", "shmctl", "shmdt",
		"shmget",
	}
)

// capGated are calls allowed only with a capability, in the order Docker
// lists them.
var capGated = []struct {
	cap   string
	names []string
}{
	{"CAP_DAC_READ_SEARCH", []string{"open_by_handle_at"}},
	{"CAP_SYS_ADMIN", []string{
		"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
		"fspick", "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules",
		"lsm_set_self_attr", "mount", "mount_setattr", "move_mount", "open_tree",
		"perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
		"setns", "syslog", "umount", "umount2", "unshare",
	}},
	// (clone without namespace flags, and clone3 failing with ENOSYS, for
	// everyone else: see DefaultProfile.)
	{"CAP_SYS_BOOT", []string{"reboot"}},
	{"CAP_SYS_CHROOT", []string{"chroot"}},
	{"CAP_SYS_MODULE", []string{"delete_module", "init_module", "finit_module"}},
	{"CAP_SYS_PACCT", []string{"acct"}},
	{"CAP_SYS_PTRACE", []string{"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
	{"CAP_SYS_RAWIO", []string{"iopl", "ioperm"}},
	{"CAP_SYS_TIME", []string{"settimeofday", "stime", "clock_settime", "clock_settime64"}},
	{"CAP_SYS_TTY_CONFIG", []string{"vhangup"}},
	{"CAP_SYS_NICE", []string{"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
	{"CAP_SYSLOG", []string{"syslog"}},
	{"CAP_BPF", []string{"bpf"}},
	{"CAP_PERFMON", []string{"perf_event_open"}},
}

// archOnly are calls that exist, and are harmless, on some architectures only.
var archOnly = []struct {
	arches []string
	names  []string
}{
	{[]string{"ppc64le"}, []string{"sync_file_range2", "swapcontext"}},
	{[]string{"arm", "arm64"}, []string{"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"}},
	{[]string{"amd64", "x32"}, []string{"arch_prctl"}},
	{[]string{"amd64", "x32", "x86"}, []string{"modify_ldt"}},
	{[]string{"s390", "s390x"}, []string{"s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"}},
	{[]string{"riscv64"}, []string{"riscv_flush_icache"}},
}

// linuxPersonalities are the personality(2) values a container may set:
// PER_LINUX, PER_LINUX|UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and the
// query 0xffffffff.
var linuxPersonalities = []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff}

// Linux ABI numbers the profile names; spelled out so that the profile is
// the same data whatever system berth is built on.
const (
	errnoEPERM  = 1
	errnoENOSYS = 38
	afALG       = 38 // AF_ALG
	afVSOCK     = 40 // AF_VSOCK, the only family between them being 39 (AF_KCM)

	// namespaceCloneFlags are the clone(2) flags that create a namespace:
	// CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID and NEWNET.
	namespaceCloneFlags = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 |
		0x10000000 | 0x20000000 | 0x40000000
)

// seccompArchMap lists, per native architecture, the others its kernel runs.
var seccompArchMap = []ArchMap{
	{specs.ArchX86_64, []specs.Arch{specs.ArchX86, specs.ArchX32}},
	{specs.ArchAARCH64, []specs.Arch{specs.ArchARM}},
	{specs.ArchMIPS64, []specs.Arch{specs.ArchMIPS, specs.ArchMIPS64N32}},
	{specs.ArchMIPS64N32, []specs.Arch{specs.ArchMIPS, specs.ArchMIPS64}},
	{specs.ArchMIPSEL64, []specs.Arch{specs.ArchMIPSEL, specs.ArchMIPSEL64N32}},
	{specs.ArchMIPSEL64N32, []specs.Arch{specs.ArchMIPSEL, specs.ArchMIPSEL64}},
	{specs.ArchS390X, []specs.Arch{specs.ArchS390}},
	{specs.ArchRISCV64, nil},
	{specs.ArchLOONGARCH64, nil},
}

// DefaultProfile returns the built-in profile, a fresh value the caller may
// modify. Resolve it for a container's capabilities and architecture.
func DefaultProfile() *Profile {
	eperm, enosys := uint(errnoEPERM), uint(errnoENOSYS)
	p := &Profile{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: &eperm,
	}
	for _, m := range seccompArchMap {
		p.ArchMap = append(p.ArchMap, ArchMap{Arch: m.Arch, SubArches: append([]specs.Arch(nil), m.SubArches...)})
	}
	allow := func(names []string, args []specs.LinuxSeccompArg, in, ex *Condition) {
		p.Syscalls = append(p.Syscalls, SyscallRule{
			Names: append([]string(nil), names...), Action: specs.ActAllow, Args: args,
			Includes: in, Excludes: ex,
		})
	}
	arg0 := func(op specs.LinuxSeccompOperator, v uint64) []specs.LinuxSeccompArg {
		return []specs.LinuxSeccompArg{{Index: 0, Value: v, Op: op}}
	}

	var always []string
	for _, g := range [][]string{seccompFiles, seccompXattrs, seccompWaiting, seccompProcesses,
		seccompIdentity, seccompSignals, seccompTime, seccompMemory, seccompSockets, seccompIPC} {
		always = append(always, g...)
	}
	allow(always, nil, nil, nil)

	// ptrace and process_vm_* are safe for everyone since 4.8, which made
	// ptrace respect seccomp.
	allow([]string{"process_vm_readv", "process_vm_writev", "ptrace"}, nil,
		&Condition{MinKernel: &KernelVersion{4, 8}}, nil)

	// socket: every family but AF_ALG (38) and AF_VSOCK (40).
	allow([]string{"socket"}, arg0(specs.OpLessThan, afALG), nil, nil)
	allow([]string{"socket"}, arg0(specs.OpEqualTo, afALG+1), nil, nil)
	allow([]string{"socket"}, arg0(specs.OpGreaterThan, afVSOCK), nil, nil)

	for _, v := range linuxPersonalities {
		allow([]string{"personality"}, arg0(specs.OpEqualTo, v), nil, nil)
	}

	for _, a := range archOnly {
		allow(a.names, nil, &Condition{Arches: a.arches}, nil)
	}

	for _, g := range capGated {
		allow(g.names, nil, &Condition{Caps: []string{g.cap}}, nil)
		if g.cap != "CAP_SYS_ADMIN" {
			continue
		}
		// Without CAP_SYS_ADMIN: clone without namespace flags (its flags
		// are the second argument on s390), and clone3 fails with ENOSYS.
		noNS := func(index uint) []specs.LinuxSeccompArg {
			return []specs.LinuxSeccompArg{{Index: index, Value: namespaceCloneFlags, ValueTwo: 0, Op: specs.OpMaskedEqual}}
		}
		allow([]string{"clone"}, noNS(0), nil,
			&Condition{Caps: []string{"CAP_SYS_ADMIN"}, Arches: []string{"s390", "s390x"}})
		allow([]string{"clone"}, noNS(1), &Condition{Arches: []string{"s390", "s390x"}},
			&Condition{Caps: []string{"CAP_SYS_ADMIN"}})
		p.Syscalls = append(p.Syscalls, SyscallRule{
			Names: []string{"clone3"}, Action: specs.ActErrno, ErrnoRet: &enosys,
			Excludes: &Condition{Caps: []string{"CAP_SYS_ADMIN"}},
		})
	}
	return p
}
