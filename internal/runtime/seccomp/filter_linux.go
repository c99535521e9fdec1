package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Filter is a compiled seccomp filter, ready for Install.
type Filter struct {
	// Program is the classic BPF program (at most 4096 instructions).
	Program []unix.SockFilter
	// Flags are the SECCOMP_FILTER_FLAG_* bits Install passes to
	// seccomp(2): the spec's flags, plus NEW_LISTENER (and TSYNC_ESRCH with
	// TSYNC) when Notify is set. WAIT_KILLABLE_RECV is dropped without a
	// listener, since the kernel refuses it alone.
	Flags uint
	// Notify is set when some rule or the default action is
	// SCMP_ACT_NOTIFY: Install then returns a listener fd.
	Notify bool

	comments []comment // one per instruction when compiled with annotate, for tests
}

// Compile checks cfg and compiles it for the architectures it names; the
// architecture this binary runs on is always included. Errors are one line
// and name the offending value.
func Compile(cfg *specs.LinuxSeccomp) (*Filter, error) {
	return compile(cfg, nativeArchFor(runtime.GOARCH), false)
}

// compile compiles cfg for native and the architectures cfg lists;
// annotate keeps a comment per instruction for disassembly.
func compile(cfg *specs.LinuxSeccomp, native specs.Arch, annotate bool) (*Filter, error) {
	p, err := newPlan(cfg, native)
	if err != nil {
		return nil, err
	}
	prog, comments, err := generate(p, annotate)
	if err != nil {
		return nil, err
	}
	f := &Filter{
		Program:  make([]unix.SockFilter, len(prog)),
		Flags:    p.flags,
		Notify:   p.notify,
		comments: comments,
	}
	for i, in := range prog {
		f.Program[i] = unix.SockFilter{Code: in.code, Jt: in.jt, Jf: in.jf, K: in.k}
	}
	return f, nil
}

// Install loads f into the calling thread with seccomp(2) and
// SECCOMP_SET_MODE_FILTER. The caller has locked its OS thread and will
// execve next; it has already set PR_SET_NO_NEW_PRIVS if the container
// asks for it (without it, installing needs CAP_SYS_ADMIN). Only with
// SECCOMP_FILTER_FLAG_TSYNC in Flags do the other threads get the filter.
//
// notifyFD is the seccomp user-notification listener when f.Notify is set
// (the caller owns it and must pass it on to the agent), else -1.
func (f *Filter) Install() (notifyFD int, err error) {
	if len(f.Program) == 0 || len(f.Program) > maxInsns {
		return -1, fmt.Errorf("seccomp: install: program has %d instructions (want 1-%d)", len(f.Program), maxInsns)
	}
	prog := unix.SockFprog{Len: uint16(len(f.Program)), Filter: &f.Program[0]}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(f.Flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	if errno != 0 {
		switch {
		case errors.Is(errno, unix.EACCES):
			return -1, fmt.Errorf("seccomp: install filter: %w (set no_new_privs or hold CAP_SYS_ADMIN)", errno)
		case errors.Is(errno, unix.EINVAL) && f.Flags != 0:
			return -1, fmt.Errorf("seccomp: install filter with flags %#x: %w (kernel too old for a flag?)", f.Flags, errno)
		case errors.Is(errno, unix.ESRCH):
			return -1, fmt.Errorf("seccomp: install filter: %w (another thread could not be synchronized)", errno)
		}
		return -1, fmt.Errorf("seccomp: install filter: %w", errno)
	}
	if f.Flags&flagNewListener != 0 {
		return int(r), nil
	}
	if f.Flags&flagTSYNC != 0 && r != 0 {
		return -1, fmt.Errorf("seccomp: install filter: thread %d could not be synchronized", r)
	}
	return -1, nil
}

// SupportedFlags returns the flags of KnownFlags that the running kernel
// accepts, for `berth-runtime features`. It asks seccomp(2) with a NULL
// program: a known flag fails with EFAULT, an unknown one with EINVAL.
func SupportedFlags() []string {
	var out []string
	for _, k := range knownFlags {
		bits := k.bit
		if bits == flagWaitKillableRecv {
			bits |= flagNewListener
		}
		_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(bits), 0)
		if errno == unix.EFAULT {
			out = append(out, string(k.name))
		}
	}
	return out
}
