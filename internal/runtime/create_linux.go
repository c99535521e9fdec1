package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/atomicfile"
	"github.com/berth-engine/berth/internal/runtime/cgroup"
)

// Runtime drives containers whose records live in Store.
type Runtime struct {
	Store Store
	// Self is the runtime binary to re-exec for container-side processes.
	Self string
	// Warn receives non-fatal problems (poststart and poststop hook failures).
	Warn func(format string, args ...any)
}

// New returns a Runtime rooted at root.
func New(root string) *Runtime {
	return &Runtime{
		Store: Store{Root: root},
		Self:  "/proc/self/exe",
		Warn:  func(string, ...any) {},
	}
}

// Stdio is the standard streams handed to a container process.
type Stdio struct{ In, Out, Err *os.File }

// CreateOpts are create's options, named as runc's flags.
type CreateOpts struct {
	ID            string
	Bundle        string
	PidFile       string
	ConsoleSocket string // path of a unix socket to send the pty master to
	NoPivot       bool
	PreserveFDs   int
	Stdio         Stdio
	// Console, when set and the process has a terminal, receives the pty master instead
	// of a console socket (run in the foreground uses it to relay the terminal).
	Console *os.File
}

// Created is a container after create: for run, the init is our child to wait for.
type Created struct {
	State *State
	Init  *Process
}

// Create sets up a container from a bundle and leaves its init waiting for Start.
// On any failure nothing is left behind: no state dir, cgroup, mount or process.
func (r *Runtime) Create(o CreateOpts) (_ *Created, err error) {
	if err := CheckID(o.ID); err != nil {
		return nil, err
	}
	// Init joins its cgroups in a few milliseconds: let the kernel's lock for that
	// get ready meanwhile (see cgroup.PrimeMigration).
	go cgroup.PrimeMigration()
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, err
	}
	spec, err := LoadSpec(bundle)
	if err != nil {
		return nil, err
	}
	rootfs, err := rootfsPath(bundle, spec)
	if err != nil {
		return nil, err
	}
	if spec.Process.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		return nil, errors.New("cannot allocate a tty without --console-socket when detached")
	}
	if !spec.Process.Terminal && o.ConsoleSocket != "" {
		return nil, errors.New("--console-socket given but process.terminal is false")
	}
	if err := os.MkdirAll(r.Store.Root, 0o711); err != nil {
		return nil, fmt.Errorf("runtime root: %w", err)
	}
	dir := r.Store.dir(o.ID)
	if err := os.Mkdir(dir, 0o711); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("container %q: %w", o.ID, ErrExist)
		}
		return nil, err
	}
	st := &State{
		ID:      o.ID,
		Bundle:  bundle,
		Rootfs:  rootfs,
		Created: time.Now().UTC(),
		Owner:   "",
		Spec:    spec,
	}
	var cg cgroup.Manager
	var cmd *Process
	defer func() {
		if err == nil {
			return
		}
		if cmd != nil {
			cmd.kill()
		}
		if cg != nil {
			cg.Destroy()
		}
		releaseHostMounts(st)
		os.RemoveAll(dir)
	}()

	startLn, err := listenStart(dir)
	if err != nil {
		return nil, err
	}
	defer startLn.Close()

	parentSock, childSock, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer parentSock.Close()

	var consoleConn *os.File
	switch {
	case o.Console != nil && spec.Process.Terminal:
		consoleConn = o.Console
	case o.ConsoleSocket != "":
		if consoleConn, err = dialUnix(o.ConsoleSocket); err != nil {
			childSock.Close()
			return nil, fmt.Errorf("console socket %s: %w", o.ConsoleSocket, err)
		}
		defer consoleConn.Close()
	}

	// Fds in the child: 0-2 stdio, 3.. preserved, then sync, start socket, console.
	extra := make([]*os.File, 0, o.PreserveFDs+3)
	for i := 0; i < o.PreserveFDs; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved"))
	}
	cfg := initConfig{
		Spec:        spec,
		Process:     spec.Process,
		Bundle:      bundle,
		Rootfs:      rootfs,
		NoPivot:     o.NoPivot,
		PreserveFDs: o.PreserveFDs,
		ConsoleFD:   -1,
	}
	syncFD := 3 + len(extra)
	extra = append(extra, childSock)
	cfg.StartFD = 3 + len(extra)
	extra = append(extra, startLn)
	if consoleConn != nil {
		cfg.ConsoleFD = 3 + len(extra)
		extra = append(extra, consoleConn)
	}

	sp := spawnSpec{
		self:  r.Self,
		arg:   "init",
		stdio: stdioOrDefault(o.Stdio),
		extra: extra,
		env:   []string{"_BERTH_SYNC_FD=" + strconv.Itoa(syncFD)},
	}
	var userNSFile *os.File
	for _, ns := range spec.Linux.Namespaces {
		flag := nsFlags[ns.Type]
		switch {
		case ns.Type == specs.UserNamespace && ns.Path != "":
			// Joined by init's entry point, before its Go runtime starts (see joinUserNS).
			if userNSFile, err = os.Open(ns.Path); err != nil {
				return nil, fmt.Errorf("user namespace: %w", err)
			}
			defer userNSFile.Close()
		case ns.Path != "":
			sp.join = append(sp.join, nsJoin{flag: flag, path: ns.Path})
		case ns.Type == specs.CgroupNamespace:
			// Unshared by init once it is in its cgroup, so that cgroup is the namespace's root.
			cfg.NewCgroupNS = true
		case ns.Type == specs.TimeNamespace:
			// Unshared by init, which sets the offsets before anything enters it.
			cfg.NewTimeNS = true
		default:
			sp.cloneFlags |= flag
		}
	}
	if sp.cloneFlags&unix.CLONE_NEWUSER != 0 {
		cfg.UserNS = true
		sp.sys.UidMappings = idMaps(spec.Linux.UIDMappings)
		sp.sys.GidMappings = idMaps(spec.Linux.GIDMappings)
		sp.sys.GidMappingsEnableSetgroups = true
		// Become root of the new namespace once the maps are written: execve grants
		// capabilities only to the namespace's own root, and we are host root until then.
		sp.sys.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if userNSFile != nil {
		joinUserNS(&sp, &cfg, userNSFile)
	}
	sync := newSyncPipe(parentSock)
	seccompSent := compileSeccomp(spec)
	cmd, err = spawn(sp)
	childSock.Close()
	if err != nil {
		cmd = nil
		return nil, fmt.Errorf("start container init: %w", err)
	}
	if userNSFile != nil {
		if cmd, err = initAfterEntry(cmd, sync, sp.extraArgs[1]); err != nil {
			return nil, err
		}
	}
	st.Pid = cmd.Pid
	if st.PidStart, _, err = procStat(st.Pid); err != nil {
		return nil, fmt.Errorf("container init exited early: %w", err)
	}

	// Send the config first: init mounts the rootfs while we place it in its cgroups
	// (the first cgroup.procs write waits out an RCU grace period, milliseconds), and
	// it waits for msgGo only before what needs the cgroup (cgroup ns, cgroup mounts).
	if cfg.State, err = json.Marshal(st.ociState(StatusCreating)); err != nil {
		return nil, err
	}
	if cfg.Spec, cfg.Seccomp, err = seccompSent(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err = sync.send(syncMsg{Type: msgConfig, Config: raw}); err != nil {
		return nil, fmt.Errorf("send config to init: %w", err)
	}
	if cg, err = cgroup.New(spec.Linux.CgroupsPath, o.ID); err != nil {
		return nil, err
	}
	if err = cg.Apply(st.Pid); err != nil {
		return nil, err
	}
	if err = cg.Set(withDeviceRules(spec)); err != nil {
		return nil, err
	}
	st.CgroupPaths = cg.Paths()
	if err = sync.send(syncMsg{Type: msgGo}); err != nil {
		// Init gave up before: its message says why.
		if _, rerr := sync.expect(msgMounted); rerr != nil {
			return nil, childError(rerr)
		}
		return nil, fmt.Errorf("resume init: %w", err)
	}
	if _, err = sync.expect(msgMounted); err != nil {
		return nil, childError(err)
	}
	if h := spec.Hooks; h != nil {
		state := st.hookState(StatusCreating)
		//lint:ignore SA1019 prestart is deprecated but still part of the spec and still used.
		if err = runHooks("prestart", h.Prestart, state); err != nil {
			return nil, err
		}
		if err = runHooks("createRuntime", h.CreateRuntime, state); err != nil {
			return nil, err
		}
	}
	if err = sync.send(syncMsg{Type: msgHooked}); err != nil {
		return nil, fmt.Errorf("resume init: %w", err)
	}
	if _, err = sync.expect(msgReady); err != nil {
		return nil, childError(err)
	}
	if err = r.Store.save(st); err != nil {
		return nil, err
	}
	if o.PidFile != "" {
		if err = writePidFile(o.PidFile, st.Pid); err != nil {
			return nil, err
		}
	}
	return &Created{State: st, Init: cmd}, nil
}

// childError turns a lost sync connection into a clearer message.
func childError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("container init exited during setup")
	}
	return err
}

func stdioOrDefault(s Stdio) [3]*os.File {
	io := [3]*os.File{s.In, s.Out, s.Err}
	def := [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
	for i := range io {
		if io[i] == nil {
			io[i] = def[i]
		}
	}
	return io
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, x := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(x.ContainerID), HostID: int(x.HostID), Size: int(x.Size)}
	}
	return out
}

// writePidFile writes pid atomically, as callers poll for the file to appear.
func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return atomicfile.WriteVolatile(abs, []byte(strconv.Itoa(pid)), 0o644)
}

// socketPair returns two connected stream sockets, both close-on-exec.
func socketPair() (*os.File, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync-parent"), os.NewFile(uintptr(fds[1]), "sync-child"), nil
}

// listenStart makes the socket in dir that start connects to. The parent creates it
// (init may run in a user namespace that cannot write the state dir) and hands init
// the listener.
func listenStart(dir string) (*os.File, error) {
	path, done, err := shortPath(dir, startSockName)
	if err != nil {
		return nil, err
	}
	defer done()
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("start socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("start socket: bind: %w", err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("start socket: listen: %w", err)
	}
	return os.NewFile(uintptr(fd), "start-listener"), nil
}

// shortPath names dir/name by a path short enough for a unix socket address (108 bytes),
// however deep dir is, through /proc/self/fd. Call done when the path is no longer used.
func shortPath(dir, name string) (path string, done func(), err error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	return "/proc/self/fd/" + strconv.Itoa(fd) + "/" + name, func() { unix.Close(fd) }, nil
}

// dialUnix connects to the unix socket at path (plain syscalls: the net package's
// init and poller are start-up cost this binary does not need).
func dialUnix(path string) (*os.File, error) {
	return dial(path, 0)
}

// dialUnixNonblock is dialUnix for a socket read through the runtime's poller.
func dialUnixNonblock(path string) (*os.File, error) {
	return dial(path, unix.SOCK_NONBLOCK)
}

func dial(path string, flags int) (*os.File, error) {
	if len(path) >= 108 {
		p, done, err := shortPath(filepath.Dir(path), filepath.Base(path))
		if err != nil {
			return nil, err
		}
		defer done()
		path = p
	}
	// Connecting a non-blocking unix socket does not wait: it fails with EAGAIN only
	// when the listener's backlog is full, which init's (one client) never is.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|flags, 0)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// withDeviceRules returns the spec's resources with the device rules every container
// needs appended, as runc does: the standard devices (null, zero, tty, pts...), and each
// device the spec asks init to create.
func withDeviceRules(spec *specs.Spec) *specs.LinuxResources {
	res := specs.LinuxResources{}
	if spec.Linux.Resources != nil {
		res = *spec.Linux.Resources
	}
	rules := append([]specs.LinuxDeviceCgroup{}, res.Devices...)
	for _, r := range cgroup.DefaultDeviceRules() {
		if r.Allow {
			rules = append(rules, r)
		}
	}
	for _, d := range spec.Linux.Devices {
		major, minor := d.Major, d.Minor
		typ := d.Type
		if typ == "u" {
			typ = "c"
		}
		if typ == "p" {
			continue // fifos need no device rule
		}
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: "rwm"})
	}
	res.Devices = rules
	return &res
}

// joinUserNS hands the new namespaces to init's entry point instead of clone: it joins
// the user namespace first, then unshares them there, so that they belong to it (see
// cmd/berth-runtime/entry_amd64.s). It may fork init into a new pid namespace and exit,
// so this process becomes a child subreaper to inherit init.
func joinUserNS(sp *spawnSpec, cfg *initConfig, userNS *os.File) {
	cfg.UserNS, cfg.JoinUserNS = true, true
	flags := sp.cloneFlags
	sp.cloneFlags = 0
	sp.extraArgs = []string{strconv.Itoa(3 + len(sp.extra)), strconv.FormatUint(uint64(flags), 10)}
	sp.extra = append(sp.extra, userNS)
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// initAfterEntry learns init's pid from init itself (it may be the spawned process's
// child in a pid namespace of its own) and reaps the spawned process if it forked.
func initAfterEntry(spawned *Process, sync *syncPipe, flags string) (*Process, error) {
	m, err := sync.expect(msgPid)
	if err != nil {
		spawned.kill()
		return nil, childError(err)
	}
	if m.Pid == spawned.Pid {
		return spawned, nil
	}
	// The spawned process forked init and exits; init is ours as its subreaper.
	if ws, err := spawned.Wait(); err != nil || ws.ExitStatus() != 0 {
		(&Process{Pid: m.Pid}).kill()
		return nil, fmt.Errorf("user namespace entry (flags %s) failed: %v", flags, ws)
	}
	return &Process{Pid: m.Pid}, nil
}
