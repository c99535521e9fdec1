package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/sys/mountinfo"

	"github.com/berth-engine/berth/internal/atomicfile"
	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/logs"
	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/network"
	"github.com/berth-engine/berth/internal/oci"
	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/runtime/cgroup"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/signals"
)

// defaultStopTimeout is how long stop waits after the stop signal before it
// kills, unless the container or the request says otherwise.
const defaultStopTimeout = 10

// runner is the daemon's part that runs containers: the berth-runtime binary
// (for shims), the runtime library over its state root (for kill, pause,
// update, stats), and the shims of running containers.
type runner struct {
	bin string // berth-runtime; empty if not found
	// initBin is a copy of bin that containers run as --init: the runtime
	// refuses to exec its own binary inside a container (CVE-2019-5736), and
	// a copy, bound read-only, gives a container no way to the real one.
	initBin string
	rt      *runtime.Runtime

	// group launches containers into shims shared by up to shimCapacity containers.
	group *shim.Group

	mu    sync.Mutex
	shims map[string]*shim.Client
	// ops serialises lifecycle operations (start, stop, kill, remove...) per container.
	ops map[string]*sync.Mutex
}

// shimCapacity is how many containers one shim serves at most: its fixed cost (a Go
// runtime, about 0.8 MB) is spread over them, and a shim killed by hand takes no more
// than that many containers' stdio with it.
const shimCapacity = 16

// findRuntime finds berth-runtime beside berthd's own binary, else on PATH.
func findRuntime() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "berth-runtime")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("berth-runtime"); err == nil {
		return p
	}
	return ""
}

// prepareInit keeps an up-to-date copy of the runtime binary at dst for --init.
func prepareInit(bin, dst string) (string, error) {
	src, err := os.Stat(bin)
	if err != nil {
		return "", err
	}
	if cur, err := os.Stat(dst); err == nil && cur.Size() == src.Size() && cur.ModTime().Equal(src.ModTime()) {
		return dst, nil
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(dst, data, 0o755); err != nil {
		return "", err
	}
	if err := os.Chtimes(dst, src.ModTime(), src.ModTime()); err != nil {
		return "", err
	}
	return dst, nil
}

// opLock returns the lock of container id's lifecycle operations.
func (r *runner) opLock(id string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.ops[id]
	if !ok {
		m = &sync.Mutex{}
		r.ops[id] = m
	}
	return m
}

// forget drops what the runner keeps for a removed container.
func (r *runner) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.ops, id)
	delete(r.shims, id)
}

func (r *runner) shim(id string) *shim.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shims[id]
}

func (r *runner) setShim(id string, c *shim.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c == nil {
		delete(r.shims, id)
	} else {
		r.shims[id] = c
	}
}

// ociDefaults are the daemon-wide container settings from its configuration.
func (d *Daemon) ociDefaults() oci.Defaults {
	// --init runs a copy of berth-runtime as the container's pid 1 (see runtime/pid1).
	def := oci.Defaults{NoNewPrivileges: d.cfg.NoNewPrivileges, Init: d.cfg.Init, InitPath: d.run.initBin, CgroupParent: d.cfg.CgroupParent}
	for _, u := range d.cfg.DefaultUlimits {
		def.Ulimits = append(def.Ulimits, u)
	}
	return def
}

func (d *Daemon) rootfsDir(id string) string { return filepath.Join(d.bundleDir(id), "rootfs") }

// unmountRootfs unmounts a container's root file system (and anything below it) and its
// shareable /dev/shm, if any.
func (d *Daemon) unmountRootfs(id string) {
	target := d.rootfsDir(id)
	if err := mount.UnmountAll(target, 0); err != nil {
		mount.UnmountAll(target, syscall.MNT_DETACH)
	}
	d.unmountShm(id)
}

// volatileOverlay returns mounts with overlay's volatile option: its unmount then does
// not flush the writable layer to disk (a sync of the whole file system under it,
// milliseconds on every exit). For a container removed when it exits (run --rm),
// whose layer nobody will read again; after a crash overlay refuses to mount such a
// layer, and berthd removes it anyway.
func volatileOverlay(mounts []mount.Mount) []mount.Mount {
	out := slices.Clone(mounts)
	for i, m := range out {
		if m.Type == "overlay" && !slices.Contains(m.Options, "volatile") {
			out[i].Options = append(slices.Clone(m.Options), "volatile")
		}
	}
	return out
}

// ContainerStart starts a created or stopped container.
func (d *Daemon) ContainerStart(ctx context.Context, name, detachKeys string) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	op := d.run.opLock(c.ID)
	op.Lock()
	defer op.Unlock()
	st := c.Snapshot().State
	switch st.Status {
	case ctr.Running, ctr.Restarting:
		return cerrdefs.ErrNotModified.WithMessage("container already started")
	case ctr.Paused:
		return cerrdefs.ErrConflict.WithMessage("cannot start a paused container, try unpause instead")
	case ctr.Removing, ctr.Dead:
		return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container is marked for removal and cannot be started"))
	}
	if err := d.start(ctx, c, false); err != nil {
		if c.Snapshot().HostConfig.AutoRemove {
			// docker run --rm waits for the removal: a container that could not
			// start goes at once, as Docker's does.
			op.Unlock()
			if rerr := d.removeContainer(context.WithoutCancel(ctx), c, true); rerr != nil {
				d.log.Warn("auto-remove after a failed start", "id", c.ID, "err", rerr)
			}
			op.Lock()
		}
		return err
	}
	return nil
}

// start runs the container: root file system mounted, spec written, shim
// launched, pending attaches connected, program started, monitor watching. The
// caller holds the container's operation lock. On failure nothing runs and
// nothing stays mounted; the container records the error as Docker does.
func (d *Daemon) start(ctx context.Context, c *ctr.Container, restart bool) (err error) {
	ctx = context.WithoutCancel(ctx) // a client hanging up must not leave a half-started container
	if d.run.bin == "" {
		return errors.New("cannot start containers: no berth-runtime binary beside berthd or on PATH")
	}
	// The shim's runtime moves the container into its cgroups in ~10 ms: let the
	// kernel's lock for that get ready meanwhile (see cgroup.PrimeMigration).
	go cgroup.PrimeMigration()
	s := c.Snapshot()
	bundle := d.bundleDir(s.ID)
	rootfs := d.rootfsDir(s.ID)
	defer func() {
		if err == nil {
			return
		}
		d.unmountRootfs(s.ID)
		c.Lock()
		c.State.Error = err.Error()
		if !restart {
			c.State.ExitCode = 128
			if c.State.Status == ctr.Created || c.State.Status == ctr.Restarting {
				c.State.Status = ctr.Exited
			}
		}
		d.containers.Save(c)
		c.Unlock()
		d.waiters.changed(s.ID, false, false)
	}()
	if err := os.MkdirAll(rootfs, 0o711); err != nil {
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	mounts, err := d.snaps.Mounts(ctx, s.SnapshotKey)
	if err != nil {
		return fmt.Errorf("container %s: root file system: %w", s.ID, err)
	}
	if s.HostConfig.AutoRemove {
		mounts = volatileOverlay(mounts)
	}
	d.unmountRootfs(s.ID) // a previous run's, if a crash left it
	if err := mount.All(mounts, rootfs); err != nil {
		return fmt.Errorf("container %s: mount root file system: %w", s.ID, err)
	}
	userMounts, err := d.resolveMounts(ctx, s)
	if err != nil {
		return err
	}
	joined, err := d.joinedNamespaces(s)
	if err != nil {
		return err
	}
	links, err := d.resolveLinks(s)
	if err != nil {
		return err
	}
	cfg := s.Config
	if len(links) > 0 {
		c := *s.Config
		c.Env = append(linkEnv(strings.TrimPrefix(s.Name, "/"), links), s.Config.Env...) // the container's own win
		cfg = &c
	}
	spec, err := oci.Spec(oci.Input{
		ID:         s.ID,
		Config:     cfg,
		HostConfig: s.HostConfig,
		Rootfs:     rootfs,
		Mounts:     userMounts,
		Files:      d.etcFiles(s),
		Join:       joined,
		Defaults:   d.ociDefaults(),
		Host:       d.host,
	})
	if err != nil {
		return err
	}
	spec.Root.Path = rootfs
	data, err := jsonMarshal(spec)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteVolatile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	os.Remove(filepath.Join(bundle, "exit.json"))
	client, err := d.run.group.Launch(ctx, shim.Opts{
		Runtime:     d.run.bin,
		ID:          s.ID,
		Bundle:      bundle,
		RuntimeRoot: d.run.rt.Store.Root,
		StateDir:    bundle,
		Terminal:    s.Config.Tty,
		OpenStdin:   s.Config.OpenStdin,
		// Docker closes stdin when the attached client ends its input only
		// without a TTY: a terminal session can be detached from and rejoined.
		StdinOnce: s.Config.StdinOnce && !s.Config.Tty,
		Log:       d.logConfig(s),
		HostPidNS: shim.SharesPidNS(spec),
	})
	if err != nil {
		return translateStartError(err)
	}
	// Its network namespace exists now, its program has not started: give it its
	// networks before anything runs in there.
	sb, err := d.joinNetworks(s, client.Pid(), links)
	if err != nil {
		d.discardCreated(s.ID, client)
		return err
	}
	d.run.setShim(s.ID, client)
	d.attachPending(s.ID, client)
	pid, err := client.Start(ctx)
	if err != nil {
		d.run.setShim(s.ID, nil)
		shutdownShim(client)
		if d.net != nil {
			d.net.Leave(sb)
		}
		return translateStartError(err)
	}
	c.Lock()
	c.State = ctr.State{Status: ctr.Running, Pid: pid, StartedAt: time.Now().UTC()}
	c.Network = sb
	if !restart {
		c.RestartCount = 0
	}
	err = d.containers.Save(c)
	c.Unlock()
	if err != nil {
		d.log.Warn("save container state", "id", s.ID, "err", err)
	}
	healthCtx, stopHealth := context.WithCancel(context.Background())
	d.startHealthCheck(healthCtx, c, client)
	d.waiters.changed(s.ID, false, false)
	d.volumeMountEvents(s, eventtypes.ActionMount)
	d.containerEvent(s, eventtypes.ActionStart, nil)
	go func() {
		d.monitor(c, client)
		stopHealth()
	}()
	return nil
}

// joinedNamespaces are the namespaces of other containers this one shares
// (--network, --ipc, --pid container:X): X must be running.
func (d *Daemon) joinedNamespaces(s *ctr.Container) (oci.Joined, error) {
	var j oci.Joined
	donor := func(ref string) (*ctr.Container, error) {
		c, err := d.containers.Get(ref)
		if err != nil {
			return nil, err
		}
		ds := c.Snapshot()
		if ds.ID == s.ID {
			return nil, cerrdefs.ErrInvalidArgument.WithMessage("cannot join own namespaces")
		}
		if !ds.State.Running() {
			return nil, cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot join namespaces of a non running container: container %s is %s", strings.TrimPrefix(ds.Name, "/"), ds.State.Status))
		}
		return ds, nil
	}
	hc := s.HostConfig
	if hc.NetworkMode.IsContainer() {
		ds, err := donor(hc.NetworkMode.ConnectedContainer())
		if err != nil {
			return j, err
		}
		j.Network = fmt.Sprintf("/proc/%d/ns/net", ds.State.Pid)
	}
	switch {
	case hc.IpcMode.IsContainer():
		ds, err := donor(hc.IpcMode.Container())
		if err != nil {
			return j, err
		}
		if !ds.HostConfig.IpcMode.IsShareable() {
			return j, cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("cannot join IPC of container %s: non-shareable IPC (hint: use IpcMode:shareable for the donor container)", strings.TrimPrefix(ds.Name, "/")))
		}
		j.IPC = fmt.Sprintf("/proc/%d/ns/ipc", ds.State.Pid)
		j.Shm = d.shmDir(ds.ID)
	case hc.IpcMode.IsShareable():
		// Its /dev/shm lives on the host, where a container joining its IPC finds it.
		if err := d.mountShm(s); err != nil {
			return j, err
		}
		j.Shm = d.shmDir(s.ID)
	}
	if hc.PidMode.IsContainer() {
		ds, err := donor(hc.PidMode.Container())
		if err != nil {
			return j, err
		}
		j.PID = fmt.Sprintf("/proc/%d/ns/pid", ds.State.Pid)
	}
	return j, nil
}

// shmDir is where a container with --ipc shareable has its /dev/shm on the host.
func (d *Daemon) shmDir(id string) string { return filepath.Join(d.containers.Dir(id), "shm") }

// mountShm mounts the tmpfs of a shareable /dev/shm (size --shm-size, 64 MiB by
// default), unless a previous start left it mounted.
func (d *Daemon) mountShm(s *ctr.Container) error {
	dir := d.shmDir(s.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if mounted, _ := mountinfo.Mounted(dir); mounted {
		return nil
	}
	size := s.HostConfig.ShmSize
	if size <= 0 {
		size = oci.DefaultShmSize
	}
	if err := syscall.Mount("shm", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, fmt.Sprintf("mode=1777,size=%d", size)); err != nil {
		return fmt.Errorf("container %s: mount /dev/shm: %w", s.ID, err)
	}
	return nil
}

// unmountShm undoes mountShm, if it was done.
func (d *Daemon) unmountShm(id string) {
	if mounted, _ := mountinfo.Mounted(d.shmDir(id)); mounted {
		syscall.Unmount(d.shmDir(id), syscall.MNT_DETACH)
	}
}

// etcFiles are the hosts, hostname and resolv.conf bound into the container: its
// own, or with --network container:X those of X, as Docker's.
func (d *Daemon) etcFiles(s *ctr.Container) oci.EtcFiles {
	files := oci.EtcFiles{Hosts: s.HostsPath, Hostname: s.HostnamePath, ResolvConf: s.ResolvConfPath}
	if nm := s.HostConfig.NetworkMode; nm.IsContainer() {
		if c, err := d.containers.Get(nm.ConnectedContainer()); err == nil {
			ds := c.Snapshot()
			files.Hosts, files.ResolvConf = ds.HostsPath, ds.ResolvConfPath
		}
	}
	return files
}

// discardCreated ends a container created by its shim but never started: its init
// killed, the shim told to go once it has recorded the exit.
func (d *Daemon) discardCreated(id string, client *shim.Client) {
	if err := d.run.rt.Kill(id, syscall.SIGKILL, true); err != nil {
		d.log.Warn("kill a container that could not start", "id", id, "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client.Wait(ctx)
	shutdownShim(client)
}

// translateStartError turns the runtime's reason a program did not start into
// Docker's words and status: a missing executable is "not found" (docker run
// exits 127), one that cannot be run "permission denied" (126).
func translateStartError(err error) error {
	msg := err.Error()
	switch {
	case containsAny(msg, "no such file or directory", "executable file not found"):
		return cerrdefs.ErrNotFound.WithMessage("failed to create task for container: failed to create shim task: OCI runtime create failed: " + msg + ": unknown")
	case containsAny(msg, "permission denied"):
		return cerrdefs.ErrPermissionDenied.WithMessage("failed to create task for container: failed to create shim task: OCI runtime create failed: " + msg + ": unknown")
	}
	return fmt.Errorf("failed to create task for container: %w", err)
}

// logConfig is the log driver the container writes to, with its options.
func (d *Daemon) logConfig(s *ctr.Container) shim.LogConfig {
	attrs, _ := logAttrs(s) // checked at create
	return shim.LogConfig{Driver: logDriver(s.HostConfig), Path: s.LogPath, Opts: s.HostConfig.LogConfig.Config, Attrs: attrs}
}

// defaultLogDriver is the driver of containers that choose none: daemon.json's
// log-driver, else berth's default (logs.DefaultDriver).
func (d *Daemon) defaultLogDriver() string {
	if d.cfg.LogDriver != "" {
		return d.cfg.LogDriver
	}
	return logs.DefaultDriver
}

// logDriver is the container's log driver (recorded at create; an older
// record without one gets berth's default).
func logDriver(hc *container.HostConfig) string {
	if hc.LogConfig.Type == "" {
		return logs.DefaultDriver
	}
	return hc.LogConfig.Type
}

// monitor waits for the container's exit and records it.
func (d *Daemon) monitor(c *ctr.Container, client *shim.Client) {
	exit, err := client.Wait(context.Background())
	if err != nil {
		// The shim went away without an exit: reap what is left.
		d.log.Warn("container shim lost", "id", c.ID, "err", err)
		exit, _ = shim.Reap(client.StateDir(), d.run.rt.Store.Root, c.ID)
		if exit.Code == 0 {
			exit.Code = 255
		}
		if exit.ExitedAt.IsZero() {
			exit.ExitedAt = time.Now()
		}
	}
	d.handleExit(c, client, exit)
}

// handleExit records an exit, releases what the run held, and applies the
// restart policy or --rm.
func (d *Daemon) handleExit(c *ctr.Container, client *shim.Client, exit shim.Exit) {
	op := d.run.opLock(c.ID)
	op.Lock()
	d.run.setShim(c.ID, nil)
	if client != nil {
		if c.Snapshot().HostConfig.AutoRemove {
			// Nothing will start in its directory again: no need to wait for it.
			go shutdownShim(client)
		} else {
			// Its exit removes its socket, which a new start's shim would own.
			shutdownShim(client)
		}
	}
	d.unmountRootfs(c.ID)
	d.releaseMounts(c)
	c.Lock()
	stoppedByUser := c.State.StoppedByUser
	c.State = ctr.State{
		Status: ctr.Exited, ExitCode: exit.Code, OOMKilled: exit.OOMKilled,
		StartedAt: c.State.StartedAt, FinishedAt: exit.ExitedAt.UTC(), StoppedByUser: stoppedByUser,
		Health: c.State.Health,
	}
	if d.net != nil && c.Network != nil {
		d.net.Leave(c.Network)
	}
	c.Network = nil
	hc := c.HostConfig
	restart := !stoppedByUser && shouldRestart(hc.RestartPolicy, exit.Code, c.RestartCount)
	if restart {
		c.State.Status = ctr.Restarting
		c.RestartCount++
	}
	autoRemove := hc.AutoRemove && !restart
	// A container about to be removed is not worth a disk write: if berthd dies before
	// the removal, its record still says running, and the next berthd finds the exit
	// its shim recorded and removes it then.
	if !autoRemove {
		if err := d.containers.Save(c); err != nil {
			d.log.Warn("save container state", "id", c.ID, "err", err)
		}
	}
	c.Unlock()
	s := c.Snapshot()
	if exit.OOMKilled {
		d.containerEvent(s, eventtypes.ActionOOM, nil)
	}
	d.containerEvent(s, eventtypes.ActionDie, map[string]string{"exitCode": strconv.Itoa(exit.Code)})
	d.volumeMountEvents(s, eventtypes.ActionUnmount)
	d.waiters.changed(c.ID, true, false)
	op.Unlock()

	switch {
	case autoRemove:
		if err := d.autoRemove(c); err != nil {
			d.log.Warn("auto-remove", "id", c.ID, "err", err)
		}
	case restart:
		go d.restartLater(c, s.RestartCount)
	}
}

// shouldRestart applies a restart policy to an exit.
func shouldRestart(p container.RestartPolicy, code, restarts int) bool {
	switch p.Name {
	case container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		return true
	case container.RestartPolicyOnFailure:
		return code != 0 && (p.MaximumRetryCount == 0 || restarts < p.MaximumRetryCount)
	}
	return false
}

// restartLater starts a container again after Docker's back-off: 100 ms
// doubling with each restart, at most a minute.
func (d *Daemon) restartLater(c *ctr.Container, n int) {
	delay := 100 * time.Millisecond
	for i := 1; i < n && delay < time.Minute; i++ {
		delay *= 2
	}
	time.Sleep(min(delay, time.Minute))
	op := d.run.opLock(c.ID)
	op.Lock()
	defer op.Unlock()
	if _, err := d.containers.Get(c.ID); err != nil {
		return // removed meanwhile
	}
	if st := c.Snapshot().State; st.Status != ctr.Restarting || st.StoppedByUser {
		return
	}
	if err := d.start(context.Background(), c, true); err != nil {
		d.log.Warn("restart by policy", "id", c.ID, "err", err)
		c.Lock()
		c.State.Status = ctr.Exited
		d.containers.Save(c)
		c.Unlock()
		d.waiters.changed(c.ID, false, false)
	}
}

func shutdownShim(c *shim.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.Shutdown(ctx)
}

// stopSignal is the signal stop sends first.
func stopSignal(s *ctr.Container, override string) (syscall.Signal, error) {
	name := override
	if name == "" {
		name = s.Config.StopSignal
	}
	if name == "" {
		return syscall.SIGTERM, nil
	}
	sig, err := signals.Parse(name)
	if err != nil {
		return 0, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid signal: %s", name))
	}
	return sig, nil
}

// ContainerStop stops a running container: its stop signal, then SIGKILL
// after the timeout.
func (d *Daemon) ContainerStop(ctx context.Context, name string, opts StopOptions) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	if !c.Snapshot().State.Running() {
		return cerrdefs.ErrNotModified.WithMessage("container already stopped")
	}
	if err := d.stop(ctx, c, opts); err != nil {
		return err
	}
	d.containerEvent(c.Snapshot(), eventtypes.ActionStop, nil)
	return nil
}

// stop signals the container and waits for its exit, killing it when the
// timeout passes.
func (d *Daemon) stop(ctx context.Context, c *ctr.Container, opts StopOptions) error {
	s := c.Snapshot()
	sig, err := stopSignal(s, opts.Signal)
	if err != nil {
		return err
	}
	timeout := defaultStopTimeout
	if s.Config.StopTimeout != nil {
		timeout = *s.Config.StopTimeout
	}
	if opts.Timeout != nil {
		timeout = *opts.Timeout
	}
	c.Lock()
	c.State.StoppedByUser = true
	if c.State.Status == ctr.Restarting {
		// Between two runs: nothing to signal; the pending restart gives up.
		c.State.Status = ctr.Exited
		d.containers.Save(c)
		c.Unlock()
		d.waiters.changed(c.ID, false, false)
		return nil
	}
	d.containers.Save(c)
	c.Unlock()
	exited, _ := d.waiters.watchExit(c.ID)
	if s.State.Status == ctr.Paused {
		d.run.rt.Resume(c.ID)
	}
	if err := d.signal(c, sig); err != nil && !gone(err) {
		return err
	}
	if timeout >= 0 {
		select {
		case <-exited:
			return nil
		case <-time.After(time.Duration(timeout) * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := d.signal(c, syscall.SIGKILL); err != nil && !gone(err) {
			return err
		}
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gone tells whether a signal failed only because the container has already
// exited (its runtime record may be gone too, once the shim cleaned up).
func gone(err error) bool {
	return errors.Is(err, runtime.ErrNotRunning) || errors.Is(err, runtime.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// signal sends sig to the container's init and publishes the kill event.
func (d *Daemon) signal(c *ctr.Container, sig syscall.Signal) error {
	err := d.run.rt.Kill(c.ID, sig, false)
	if err == nil {
		d.containerEvent(c.Snapshot(), eventtypes.ActionKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	}
	return err
}

// killAndWait kills a running container and waits for its exit to be recorded.
func (d *Daemon) killAndWait(ctx context.Context, c *ctr.Container) error {
	zero := 0
	return d.stop(ctx, c, StopOptions{Signal: "KILL", Timeout: &zero})
}

// ContainerKill sends a signal (SIGKILL by default) to a running container;
// with SIGKILL it returns once the container's exit is recorded.
func (d *Daemon) ContainerKill(ctx context.Context, name, signal string) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	sig := syscall.SIGKILL
	if signal != "" {
		if sig, err = signals.Parse(signal); err != nil {
			return cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid signal: %s", signal))
		}
	}
	s := c.Snapshot()
	if !s.State.Running() || s.State.Status == ctr.Restarting {
		return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", s.ID))
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM || sig == syscall.SIGINT {
		c.Lock()
		c.State.StoppedByUser = true
		d.containers.Save(c)
		c.Unlock()
	}
	// A SIGKILL is answered once the exit is recorded, as Docker does: a client
	// inspecting the container next finds it stopped with its exit code.
	var exited <-chan struct{}
	if sig == syscall.SIGKILL {
		exited, _ = d.waiters.watchExit(c.ID)
	}
	if err := d.signal(c, sig); err != nil {
		if gone(err) {
			return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", s.ID))
		}
		return err
	}
	if exited != nil {
		if s.State.Status == ctr.Paused {
			d.run.rt.Resume(c.ID) // a frozen process dies of its SIGKILL only once thawed (cgroup v1)
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ContainerRestart stops the container if it runs, then starts it.
func (d *Daemon) ContainerRestart(ctx context.Context, name string, opts StopOptions) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	if c.Snapshot().State.Running() {
		if err := d.stop(ctx, c, opts); err != nil {
			return err
		}
	}
	op := d.run.opLock(c.ID)
	op.Lock()
	defer op.Unlock()
	if err := d.start(ctx, c, false); err != nil {
		return err
	}
	d.containerEvent(c.Snapshot(), eventtypes.ActionRestart, nil)
	return nil
}

// ContainerPause freezes a running container.
func (d *Daemon) ContainerPause(ctx context.Context, name string) error {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return err
	}
	defer unlock()
	s := c.Snapshot()
	switch s.State.Status {
	case ctr.Paused:
		return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is already paused", s.ID))
	case ctr.Running:
	default:
		return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", s.ID))
	}
	if err := d.run.rt.Pause(s.ID); err != nil {
		return fmt.Errorf("cannot pause container %s: %w", s.ID, err)
	}
	d.setStatus(c, ctr.Paused)
	d.containerEvent(s, eventtypes.ActionPause, nil)
	return nil
}

// ContainerUnpause thaws a paused container.
func (d *Daemon) ContainerUnpause(ctx context.Context, name string) error {
	c, unlock, err := d.lockContainer(name)
	if err != nil {
		return err
	}
	defer unlock()
	s := c.Snapshot()
	if s.State.Status != ctr.Paused {
		return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not paused", s.ID))
	}
	if err := d.run.rt.Resume(s.ID); err != nil {
		return fmt.Errorf("cannot unpause container %s: %w", s.ID, err)
	}
	d.setStatus(c, ctr.Running)
	d.containerEvent(s, eventtypes.ActionUnPause, nil)
	return nil
}

func (d *Daemon) setStatus(c *ctr.Container, st ctr.Status) {
	c.Lock()
	c.State.Status = st
	d.containers.Save(c)
	c.Unlock()
	d.waiters.changed(c.ID, false, false)
}

// swapStatus sets the status to st only if it is still from, and tells whether
// it did: an exit recorded meanwhile is not overwritten.
func (d *Daemon) swapStatus(c *ctr.Container, from, st ctr.Status) bool {
	c.Lock()
	if c.State.Status != from {
		c.Unlock()
		return false
	}
	c.State.Status = st
	d.containers.Save(c)
	c.Unlock()
	d.waiters.changed(c.ID, false, false)
	return true
}

// reconcileContainers brings the records in line with what runs after berthd
// starts: a running container whose shim answers is watched again; one whose
// shim is gone gets the exit the shim recorded, or 255 (and is cleaned up).
// Containers whose restart policy asks for it are started.
func (d *Daemon) reconcileContainers() {
	var sandboxes []*network.Sandbox
	defer func() {
		// Every network and every running container's published ports, in one batch.
		if d.net != nil {
			if err := d.net.Restore(sandboxes); err != nil {
				d.log.Warn("restore networking", "err", err)
			}
		}
	}()
	for _, c := range d.containers.List() {
		s := c.Snapshot()
		switch s.State.Status {
		case ctr.Running, ctr.Paused:
			dir := d.bundleDir(s.ID)
			client, err := shim.Connect(context.Background(), dir)
			if err == nil {
				if s.Network != nil {
					sb := *s.Network
					sb.NetNS = fmt.Sprintf("/proc/%d/ns/net", s.State.Pid)
					sandboxes = append(sandboxes, &sb)
				}
				d.run.setShim(s.ID, client)
				healthCtx, stopHealth := context.WithCancel(context.Background())
				d.startHealthCheck(healthCtx, c, client)
				go func() {
					d.monitor(c, client)
					stopHealth()
				}()
				continue
			}
			exit, rerr := shim.ReadExit(dir)
			if rerr != nil {
				exit, _ = shim.Reap(dir, d.run.rt.Store.Root, s.ID)
				if exit.Code == 0 {
					exit.Code = 255
				}
			}
			if exit.ExitedAt.IsZero() {
				exit.ExitedAt = time.Now()
			}
			d.handleExit(c, nil, exit)
		case ctr.Restarting:
			go d.restartLater(c, s.RestartCount)
		case ctr.Removing:
			c.Lock()
			c.State.Status = ctr.Dead
			d.containers.Save(c)
			c.Unlock()
		case ctr.Created, ctr.Exited:
			d.unmountRootfs(s.ID)
			if s.State.Status == ctr.Exited && !s.State.StoppedByUser &&
				(s.HostConfig.RestartPolicy.Name == container.RestartPolicyAlways || s.HostConfig.RestartPolicy.Name == container.RestartPolicyUnlessStopped) {
				go func() {
					op := d.run.opLock(s.ID)
					op.Lock()
					defer op.Unlock()
					if err := d.start(context.Background(), c, true); err != nil {
						d.log.Warn("restart by policy after berthd started", "id", s.ID, "err", err)
					}
				}()
			}
		}
	}
}
