package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ExecOpts are exec's options, named as runc's flags.
type ExecOpts struct {
	ID            string
	Process       *specs.Process
	PidFile       string
	ConsoleSocket string
	Console       *os.File // receives the pty master when the process has a terminal
	PreserveFDs   int
	Stdio         Stdio
}

// Exec starts another process in a running container: it joins the container's
// namespaces and cgroup and gets the container's seccomp filter. It returns once the
// process has exec'd; the caller may wait for it.
func (r *Runtime) Exec(o ExecOpts) (_ *Process, err error) {
	st, err := r.Store.Load(o.ID)
	if err != nil {
		return nil, err
	}
	switch status := r.Status(st); status {
	case StatusStopped:
		return nil, fmt.Errorf("cannot exec in a stopped container %s", o.ID)
	case StatusPaused:
		return nil, fmt.Errorf("cannot exec in a paused container %s", o.ID)
	}
	if err := validateProcess(o.Process); err != nil {
		return nil, err
	}
	if err := checkProcessAttrs(o.Process, nil); err != nil {
		return nil, err
	}
	if o.Process.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		return nil, errors.New("cannot allocate a tty without --console-socket when detached")
	}
	sp := spawnSpec{self: r.Self, arg: "exec-init", stdio: stdioOrDefault(o.Stdio)}
	cfg := initConfig{Spec: st.Spec, Process: o.Process, PreserveFDs: o.PreserveFDs, ConsoleFD: -1, StartFD: -1}
	for i := 0; i < o.PreserveFDs; i++ {
		sp.extra = append(sp.extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	for _, ns := range st.Spec.Linux.Namespaces {
		name := procNSName[ns.Type]
		if sameNS(st.Pid, name) {
			continue
		}
		path := fmt.Sprintf("/proc/%d/ns/%s", st.Pid, name)
		if ns.Type == specs.UserNamespace {
			// Only a single-threaded process may join a user namespace: the child's
			// entry point does, before the Go runtime starts (cmd/berth-runtime).
			f, err := os.Open(path)
			if err != nil {
				return nil, fmt.Errorf("open user namespace: %w", err)
			}
			defer f.Close()
			sp.extraArgs = []string{strconv.Itoa(3 + len(sp.extra))}
			sp.extra = append(sp.extra, f)
			cfg.JoinUserNS = true
			continue
		}
		sp.join = append(sp.join, nsJoin{flag: nsFlags[ns.Type], path: path})
	}
	parentSock, childSock, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer parentSock.Close()
	syncFD := 3 + len(sp.extra)
	sp.extra = append(sp.extra, childSock)
	if o.Process.Terminal {
		conn := o.Console
		if conn == nil {
			if conn, err = dialUnix(o.ConsoleSocket); err != nil {
				childSock.Close()
				return nil, fmt.Errorf("console socket %s: %w", o.ConsoleSocket, err)
			}
			defer conn.Close()
		}
		cfg.ConsoleFD = 3 + len(sp.extra)
		sp.extra = append(sp.extra, conn)
	}
	sp.env = []string{"_BERTH_SYNC_FD=" + strconv.Itoa(syncFD)}
	seccompSent := compileSeccomp(st.Spec)
	cmd, err := spawn(sp)
	childSock.Close()
	if err != nil {
		return nil, fmt.Errorf("start exec process: %w", err)
	}
	defer func() {
		if err != nil {
			cmd.kill()
		}
	}()
	if a := o.Process.ExecCPUAffinity; a != nil && a.Initial != "" {
		// Before it joins the container's cgroup (whose cpuset may be narrower).
		if err = setAffinity(cmd.Pid, a.Initial); err != nil {
			return nil, err
		}
	}
	cg, err := cgroupOf(st)
	if err != nil {
		return nil, err
	}
	if err = cg.Apply(cmd.Pid); err != nil {
		return nil, err
	}
	if cfg.Spec, cfg.Seccomp, err = seccompSent(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err = newSyncPipe(parentSock).send(syncMsg{Type: msgConfig, Config: raw}); err != nil {
		return nil, fmt.Errorf("send config to exec process: %w", err)
	}
	// The child's end is close-on-exec: EOF means the program runs, text means it failed.
	msg, err := readReply(parentSock, st.Spec, st.ociSpecState(StatusRunning), cmd.Pid)
	if err != nil {
		return nil, err
	}
	if msg != "" {
		var m syncMsg
		if json.Unmarshal([]byte(msg), &m) == nil && m.Error != "" {
			return nil, errors.New(m.Error)
		}
		return nil, errors.New(msg)
	}
	if o.PidFile != "" {
		if err = writePidFile(o.PidFile, cmd.Pid); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}

// EntryResults is what berth-runtime's entry point did before the Go runtime started
// (see cmd/berth-runtime/entry_amd64.s): each is 0, a negated errno, or 1 when it was
// not tried (another command line, or a binary linked without that entry point).
type EntryResults struct{ UserNS, Unshare, Fork int64 }

const entryNotTried = 1

// checkUserNSJoin reports whether the entry point joined the user namespace (and, for
// init, unshared and forked) as it was asked to.
func checkUserNSJoin(cfg *initConfig, r EntryResults) error {
	if !cfg.JoinUserNS {
		return nil
	}
	for _, step := range []struct {
		name   string
		result int64
	}{{"join the container's user namespace", r.UserNS}, {"unshare namespaces in it", r.Unshare}, {"fork into the new pid namespace", r.Fork}} {
		switch {
		case step.result == entryNotTried && step.name == "join the container's user namespace":
			return errors.New("joining a user namespace: this berth-runtime was linked without its entry point (go build -ldflags '-E main.nsenterEntry', amd64 only)")
		case step.result < 0:
			return fmt.Errorf("%s: %w", step.name, syscall.Errno(-step.result))
		}
	}
	return nil
}

// ExecInit is the body of "berth-runtime exec-init": born inside the container's
// namespaces, it sets up the process as init does for the container's own program.
// It never returns.
func ExecInit(entry EntryResults) {
	sync, err := syncFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-runtime exec-init:", err)
		os.Exit(1)
	}
	cfg, err := receiveConfig(sync)
	if err == nil {
		err = checkUserNSJoin(cfg, entry)
	}
	if err == nil {
		err = execInit(cfg, sync.file)
	}
	sync.send(syncMsg{Type: msgError, Error: err.Error()})
	os.Exit(1)
}

func execInit(cfg *initConfig, sync *os.File) error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl dumpable: %w", err)
	}
	self, err := selfIdentity()
	if err != nil {
		return err
	}
	if cfg.Process.Terminal {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("setsid: %w", err)
		}
		if err := setupConsole(cfg.ConsoleFD, cfg.Process.ConsoleSize, false); err != nil {
			return err
		}
	}
	if err := setOOMScoreAdj(cfg.Process.OOMScoreAdj); err != nil {
		return err
	}
	prog, err := prepareExec(cfg.Process, cfg.Spec, cfg.Seccomp, self)
	if err != nil {
		return err
	}
	prog.notifySink = sync
	if err := closeExtraFDs(cfg.PreserveFDs); err != nil {
		return err
	}
	return prog.exec()
}
