package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime/rootfs"
)

// Init is the body of "berth-runtime init", the container's first process. The caller
// (main) has locked the main goroutine to the main OS thread: namespaces unshared here
// and credentials set here belong to that thread, and execve runs from it.
// Init never returns: it execs the user's program or exits 1 after reporting an error.
func Init(entry EntryResults) {
	sync, err := syncFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-runtime init:", err)
		os.Exit(1)
	}
	if entry.UserNS != entryNotTried {
		// Joining a user namespace, the entry point may have forked us into a new pid
		// namespace: the parent cannot know our pid, so tell it. The host's /proc is
		// still mounted here, and its "self" is our pid as the host sees it.
		err = sendHostPid(sync)
	}
	var cfg *initConfig
	if err == nil {
		cfg, err = receiveConfig(sync)
	}
	if err == nil {
		err = checkUserNSJoin(cfg, entry)
	}
	if err == nil && cfg.JoinUserNS {
		err = becomeNamespaceRoot()
	}
	if err == nil {
		err = initContainer(sync, cfg)
	}
	// initContainer only returns on failure.
	sync.send(syncMsg{Type: msgError, Error: err.Error()})
	os.Exit(1)
}

// becomeNamespaceRoot switches every thread to uid and gid 0 of the user namespace the
// entry point joined: until then we are host root, unmapped there, and the kernel
// refuses to create files (EOVERFLOW) for an unmapped owner.
func becomeNamespaceRoot() error {
	if err := syscall.Setresgid(0, 0, 0); err != nil {
		return fmt.Errorf("become root of the joined user namespace (gid 0 mapped?): %w", err)
	}
	if err := syscall.Setresuid(0, 0, 0); err != nil {
		return fmt.Errorf("become root of the joined user namespace (uid 0 mapped?): %w", err)
	}
	return nil
}

func sendHostPid(sync *syncPipe) error {
	self, err := os.Readlink("/proc/self")
	if err != nil {
		return fmt.Errorf("read own pid: %w", err)
	}
	pid, err := strconv.Atoi(self)
	if err != nil {
		return fmt.Errorf("read own pid: %q", self)
	}
	return sync.send(syncMsg{Type: msgPid, Pid: pid})
}

func syncFromEnv() (*syncPipe, error) {
	fd, err := strconv.Atoi(os.Getenv("_BERTH_SYNC_FD"))
	if err != nil {
		return nil, errors.New("not started by berth-runtime (no sync fd)")
	}
	os.Unsetenv("_BERTH_SYNC_FD")
	unix.CloseOnExec(fd)
	f := os.NewFile(uintptr(fd), "sync")
	p := newSyncPipe(f)
	p.file = f
	return p, nil
}

func receiveConfig(sync *syncPipe) (*initConfig, error) {
	m, err := sync.expect(msgConfig)
	if err != nil {
		return nil, err
	}
	var cfg initConfig
	if err := json.Unmarshal(m.Config, &cfg); err != nil {
		return nil, fmt.Errorf("bad init config: %w", err)
	}
	return &cfg, nil
}

func initContainer(sync *syncPipe, cfg *initConfig) error {
	spec := cfg.Spec
	if !cfg.UserNS {
		// Until execve this process is the runtime binary: keep other processes in the
		// container from opening /proc/<pid>/exe (the CVE-2019-5736 class).
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl dumpable: %w", err)
		}
	}
	self, err := selfIdentity()
	if err != nil {
		return err
	}
	if cfg.NewTimeNS {
		if err := enterNewTimeNS(spec.Linux.TimeOffsets); err != nil {
			return err
		}
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	// The parent places us in our cgroups while we mount; joined runs once that is done.
	inCgroup := false
	joined := func() error {
		if inCgroup {
			return nil
		}
		inCgroup = true
		if _, err := sync.expect(msgGo); err != nil {
			return err
		}
		if cfg.NewCgroupNS {
			// Now, so that our cgroup is the namespace's root.
			if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
				return fmt.Errorf("unshare cgroup namespace: %w", err)
			}
		}
		return nil
	}
	ownMountNS, _ := hasNS(spec, specs.MountNamespace)
	plan, err := rootfs.NewPlan(spec, cfg.Bundle, rootfs.Options{
		InUserNS: cfg.UserNS, HostMountNS: !ownMountNS, BeforeCgroupMount: joined,
	})
	if err != nil {
		return err
	}
	if err := plan.Setup(); err != nil {
		return err
	}
	if err := joined(); err != nil {
		return err
	}
	if err := sync.send(syncMsg{Type: msgMounted}); err != nil {
		return err
	}
	if _, err := sync.expect(msgHooked); err != nil {
		return err
	}
	if spec.Hooks != nil {
		if err := runHooks("createContainer", spec.Hooks.CreateContainer, cfg.State); err != nil {
			return err
		}
	}
	if err := plan.Enter(cfg.NoPivot); err != nil {
		return err
	}
	if cfg.Process.Terminal {
		if err := setupConsole(cfg.ConsoleFD, cfg.Process.ConsoleSize, true); err != nil {
			return err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("sethostname %q: %w", spec.Hostname, err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return fmt.Errorf("setdomainname %q: %w", spec.Domainname, err)
		}
	}
	if err := plan.Finalize(); err != nil {
		return err
	}
	if err := setOOMScoreAdj(cfg.Process.OOMScoreAdj); err != nil {
		return err
	}
	// execCPUAffinity is for exec'd processes only.
	proc := *cfg.Process
	proc.ExecCPUAffinity = nil
	prog, err := prepareExec(&proc, spec, cfg.Seccomp, self)
	if err != nil {
		return err
	}
	if err := closeExtraFDs(cfg.PreserveFDs); err != nil {
		return err
	}
	if err := sync.send(syncMsg{Type: msgReady}); err != nil {
		return err
	}
	// Created: wait for start. Errors from here on go to the start command's connection.
	conn, err := acceptStart(cfg.StartFD)
	if err != nil {
		return err
	}
	fail := func(err error) {
		conn.WriteString(err.Error())
		os.Exit(1)
	}
	if spec.Hooks != nil {
		state := cfg.State
		if err := runHooks("startContainer", spec.Hooks.StartContainer, state); err != nil {
			fail(err)
		}
	}
	prog.notifySink = conn
	fail(prog.exec())
	return nil
}

// acceptStart blocks until start connects to the listening socket.
func acceptStart(lfd int) (*os.File, error) {
	for {
		nfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("wait for start: %w", err)
		}
		unix.Close(lfd)
		return os.NewFile(uintptr(nfd), "start"), nil
	}
}

// enterNewTimeNS unshares a time namespace for our children (execve moves us into it)
// and sets its offsets while nothing is in it yet.
func enterNewTimeNS(offsets map[string]specs.LinuxTimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("unshare time namespace: %w", err)
	}
	var b strings.Builder
	for clock, off := range offsets {
		switch clock {
		case "monotonic", "boottime":
		default:
			return fmt.Errorf("timeOffsets: unknown clock %q (want monotonic or boottime)", clock)
		}
		fmt.Fprintf(&b, "%s %d %d\n", clock, off.Secs, off.Nanosecs)
	}
	if b.Len() == 0 {
		return nil
	}
	if err := os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0); err != nil {
		return fmt.Errorf("set time offsets: %w", err)
	}
	return nil
}

func setRlimits(rls []specs.POSIXRlimit) error {
	for _, rl := range rls {
		res, ok := rlimitNames[rl.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %q", rl.Type)
		}
		if err := setrlimit(res, rl.Soft, rl.Hard); err != nil {
			return fmt.Errorf("setrlimit %s soft %d hard %d: %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

func setOOMScoreAdj(adj *int) error {
	if adj == nil {
		return nil
	}
	if err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*adj)), 0); err != nil {
		return fmt.Errorf("set oom_score_adj %d: %w", *adj, err)
	}
	return nil
}

// closeExtraFDs marks every fd but stdio and the preserved ones close-on-exec, so that
// nothing of the host (a directory fd above all: the CVE-2024-21626 class) reaches the
// container's program.
func closeExtraFDs(preserve int) error {
	if err := unix.CloseRange(uint(3+preserve), ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	return nil
}
