package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime/caps"
	"github.com/berth-engine/berth/internal/runtime/seccomp"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// fileID identifies a file across paths and mount namespaces.
type fileID struct{ dev, ino uint64 }

// selfIdentity records which file the runtime binary is, before the container's
// rootfs hides the host's paths.
func selfIdentity() (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return fileID{}, fmt.Errorf("stat /proc/self/exe: %w", err)
	}
	return fileID{st.Dev, st.Ino}, nil
}

// program is the user's process, resolved and checked, waiting to be exec'd.
type program struct {
	path    string
	args    []string
	env     []string
	proc    *specs.Process
	caps    *caps.Sets
	seccomp *seccomp.Filter
	// notifySink receives the seccomp listener fd, if the filter makes one; it is a
	// connection to a host-side runtime command (see seccompnotify_linux.go).
	notifySink *os.File
	// personality is linux.personality of the container's spec.
	personality *specs.LinuxPersonality
}

// prepareExec resolves and checks everything the final exec needs while errors can
// still be reported to the creating command.
// filter is the compiled seccomp filter the runtime sent; without one, spec's profile
// (if any) is compiled here.
func prepareExec(p *specs.Process, spec *specs.Spec, filter *seccomp.Filter, self fileID) (*program, error) {
	prog := &program{args: p.Args, env: p.Env, proc: p, seccomp: filter}
	path, err := lookPath(p.Args[0], p.Env, p.Cwd)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nil, fmt.Errorf("exec: %q: %w", p.Args[0], err)
	}
	if (fileID{st.Dev, st.Ino}) == self {
		// The container's program would be the runtime binary itself, which it could
		// then overwrite through /proc/self/exe (CVE-2019-5736).
		return nil, fmt.Errorf("exec: %q: refusing to run the runtime binary inside the container", p.Args[0])
	}
	prog.path = path
	if prog.caps, err = capsFromSpec(p.Capabilities); err != nil {
		return nil, err
	}
	if spec.Linux != nil {
		prog.personality = spec.Linux.Personality
	}
	if filter == nil && spec.Linux != nil && spec.Linux.Seccomp != nil {
		if prog.seccomp, err = seccomp.Compile(spec.Linux.Seccomp); err != nil {
			return nil, err
		}
	}
	return prog, nil
}

func capsFromSpec(c *specs.LinuxCapabilities) (*caps.Sets, error) {
	if c == nil {
		c = &specs.LinuxCapabilities{}
	}
	sets, _, err := caps.FromSpec(c)
	return sets, err
}

// exec drops privileges in the order the kernel allows and runs the program. It
// returns only on failure.
func (g *program) exec() error {
	p := g.proc
	// Limits as late as possible, as the runtime itself might not live within them
	// (an address-space limit below what the Go runtime has reserved, say), but while
	// we may still raise a hard limit (CAP_SYS_RESOURCE).
	if err := setRlimits(p.Rlimits); err != nil {
		return err
	}
	if err := applyProcessAttrs(p, g.personality); err != nil {
		return err
	}
	if g.seccomp != nil && !p.NoNewPrivileges {
		// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we have it.
		if err := g.installSeccomp(); err != nil {
			return err
		}
	}
	if err := g.caps.ApplyBounding(); err != nil {
		return fmt.Errorf("capabilities bounding set: %w", err)
	}
	if err := setUser(p.User); err != nil {
		return err
	}
	if err := g.caps.Apply(); err != nil {
		return fmt.Errorf("capabilities: %w", err)
	}
	umask := 0o022
	if p.User.Umask != nil {
		umask = int(*p.User.Umask)
	}
	unix.Umask(umask)
	if err := enterCwd(p.Cwd); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	if g.seccomp != nil && p.NoNewPrivileges {
		// As late as possible, so the filter sees only the program's own syscalls.
		if err := g.installSeccomp(); err != nil {
			return err
		}
	}
	err := syscall.Exec(g.path, g.args, g.env)
	return fmt.Errorf("exec %q: %w", g.args[0], err)
}

// installSeccomp loads the filter and hands a notify listener fd to the host side.
func (g *program) installSeccomp() error {
	fd, err := g.seccomp.Install()
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	if fd < 0 {
		return nil
	}
	defer unix.Close(fd)
	if g.notifySink == nil {
		return errors.New("seccomp: a notify filter needs a listener, and none can be reached")
	}
	if err := sendFD(g.notifySink, fd, "seccomp"); err != nil {
		return fmt.Errorf("seccomp: send the listener fd: %w", err)
	}
	return nil
}

// setUser switches the calling thread to the process's user. Only this thread
// matters: execve follows, and it keeps the calling thread's credentials.
func setUser(u specs.User) error {
	if err := caps.KeepCaps(true); err != nil {
		return err
	}
	gids := make([]uint32, len(u.AdditionalGids))
	copy(gids, u.AdditionalGids)
	if err := setgroups(gids); err != nil {
		return fmt.Errorf("setgroups %v: %w", gids, err)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	return caps.KeepCaps(false)
}

// enterCwd changes into the working directory and makes sure it is inside the
// container's root: a leaked host directory fd named as /proc/self/fd/N must not
// give the program a way out (the CVE-2024-21626 class).
func enterCwd(cwd string) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("chdir to cwd (%q) set in config.json: %w", cwd, err)
	}
	wd, err := unix.Getwd()
	if err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("cwd %q is outside the container's root filesystem", cwd)
	}
	return nil
}

// lookPath finds name the way execvp would, inside the container's root.
func lookPath(name string, env []string, cwd string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		if err := executable(p); err != nil {
			return "", fmt.Errorf("exec: %q: %w", name, err)
		}
		return p, nil
	}
	path := defaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if executable(p) == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file or directory")
		}
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	if fi.Mode()&0o111 == 0 {
		return errors.New("permission denied")
	}
	return nil
}

// setgroups sets the calling thread's supplementary groups (syscall.Setgroups would
// change every thread, which is slower and pointless before execve).
func setgroups(gids []uint32) error {
	var e syscall.Errno
	if len(gids) == 0 {
		_, _, e = unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0)
	} else {
		_, _, e = unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)), uintptr(unsafe.Pointer(&gids[0])), 0)
	}
	if e != 0 {
		return e
	}
	return nil
}

func setrlimit(res int, soft, hard uint64) error {
	return syscall.Setrlimit(res, &syscall.Rlimit{Cur: soft, Max: hard})
}
