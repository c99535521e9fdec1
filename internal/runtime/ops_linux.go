package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime/cgroup"
)

// ErrNotRunning and ErrRunning classify lifecycle errors for the CLI and callers.
var (
	ErrNotRunning = errors.New("container is not running")
	ErrRunning    = errors.New("container is running")
)

// cgroupOf returns the manager of st's cgroup, from the paths recorded at create (a
// relative cgroupsPath depends on the creating process's own cgroup).
func cgroupOf(st *State) (cgroup.Manager, error) {
	if len(st.CgroupPaths) > 0 {
		return cgroup.Load(st.CgroupPaths)
	}
	path := ""
	if st.Spec != nil && st.Spec.Linux != nil {
		path = st.Spec.Linux.CgroupsPath
	}
	return cgroup.New(path, st.ID)
}

// Status derives the container's current status.
func (r *Runtime) Status(st *State) string {
	if !st.alive() {
		return StatusStopped
	}
	if _, err := os.Lstat(r.Store.startSock(st.ID)); err == nil {
		return StatusCreated
	}
	if cg, err := cgroupOf(st); err == nil {
		if frozen, err := cg.State(); err == nil && frozen {
			return StatusPaused
		}
	}
	return StatusRunning
}

// State returns the runtime-spec state of id.
func (r *Runtime) State(id string) (OCIState, error) {
	st, err := r.Store.Load(id)
	if err != nil {
		return OCIState{}, err
	}
	return st.ociState(r.Status(st)), nil
}

// Start lets a created container's init exec the user's program.
func (r *Runtime) Start(id string) error {
	st, err := r.Store.Load(id)
	if err != nil {
		return err
	}
	switch status := r.Status(st); status {
	case StatusCreated:
	case StatusStopped:
		return fmt.Errorf("cannot start a container that has stopped")
	default:
		return fmt.Errorf("cannot start an already %s container", status)
	}
	return r.StartCreated(st)
}

// StartCreated starts a container the caller has just created (run does), without
// reading its record back.
func (r *Runtime) StartCreated(st *State) error {
	id := st.ID
	conn, err := dialUnix(r.Store.startSock(id))
	if err != nil {
		return fmt.Errorf("cannot start container %s: init is gone: %w", id, err)
	}
	defer conn.Close()
	// Init closes its end when execve succeeds (close-on-exec) or writes why it failed.
	msg, err := readReply(conn, st.Spec, st.ociSpecState(StatusRunning), st.Pid)
	os.Remove(r.Store.startSock(id))
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if msg != "" {
		return errors.New(msg)
	}
	if st.Spec.Hooks != nil {
		if err := runHooks("poststart", st.Spec.Hooks.Poststart, st.hookState(StatusRunning)); err != nil {
			r.Warn("%v", err)
		}
	}
	return nil
}

// Starter is what starting a created container takes, kept by a caller that lives
// beside the container (the shim) instead of its whole record: most containers need
// neither poststart hooks nor a seccomp agent, and then Start need not read and decode
// the record (the spec, a seccomp profile among it) only to find that out.
type Starter struct {
	ID string `json:"id"`
	// NeedsRecord: the spec has poststart hooks or a seccomp listener, which Start
	// serves from the record.
	NeedsRecord bool `json:"needsRecord,omitempty"`
}

// StarterOf is the Starter of a container just created.
func StarterOf(st *State) Starter {
	s := st.Spec
	hooks := s.Hooks != nil && len(s.Hooks.Poststart) > 0
	agent := s.Linux != nil && s.Linux.Seccomp != nil && s.Linux.Seccomp.ListenerPath != ""
	return Starter{ID: st.ID, NeedsRecord: hooks || agent}
}

// StartWith starts a created container as Start does, from its Starter.
func (r *Runtime) StartWith(s Starter) error {
	if s.NeedsRecord {
		return r.Start(s.ID)
	}
	sock := r.Store.startSock(s.ID)
	conn, err := dialUnixNonblock(sock)
	if err != nil {
		if _, serr := r.Store.Load(s.ID); serr != nil {
			return serr // no such container
		}
		return fmt.Errorf("cannot start container %s: it is not in the created state", s.ID)
	}
	defer conn.Close()
	// Init closes its end when execve succeeds (close-on-exec) or writes why it failed.
	// The read goes through the poller: a blocking one would cost the caller an OS
	// thread for good (the scheduler hands the P to a new thread and keeps both).
	msg, err := io.ReadAll(conn)
	os.Remove(sock)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if msg := strings.TrimSpace(string(msg)); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// Kill sends sig to the container's init, or with all to every process in its cgroup.
func (r *Runtime) Kill(id string, sig syscall.Signal, all bool) error {
	st, err := r.Store.Load(id)
	if err != nil {
		return err
	}
	status := r.Status(st)
	if status == StatusStopped {
		return fmt.Errorf("container %s: %w", id, ErrNotRunning)
	}
	if !all {
		return signalInit(st, sig)
	}
	cg, err := cgroupOf(st)
	if err != nil {
		return err
	}
	return signalAll(st, cg, sig, status == StatusPaused)
}

// signalInit signals init through a pidfd, so a recycled pid is never hit.
func signalInit(st *State, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return fmt.Errorf("container %s: %w", st.ID, ErrNotRunning)
	}
	defer unix.Close(fd)
	if !st.alive() {
		return fmt.Errorf("container %s: %w", st.ID, ErrNotRunning)
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		return fmt.Errorf("signal %d to container %s: %w", sig, st.ID, err)
	}
	return nil
}

// signalAll signals every process in the cgroup. A frozen cgroup is thawed after the
// signal so that SIGKILL is acted on, then frozen again unless the signal was SIGKILL.
func signalAll(st *State, cg cgroup.Manager, sig syscall.Signal, paused bool) error {
	pids, err := cg.Pids()
	if err != nil {
		return err
	}
	if len(pids) == 0 && st.alive() {
		pids = []int{st.Pid}
	}
	for _, p := range pids {
		if err := unix.Kill(p, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal %d to pid %d: %w", sig, p, err)
		}
	}
	if paused && sig == unix.SIGKILL {
		return cg.Thaw()
	}
	return nil
}

// Delete removes a container. A created or stopped one goes without force; a running
// or paused one needs force and is killed first.
func (r *Runtime) Delete(id string, force bool) error {
	st, err := r.Store.Load(id)
	if err != nil {
		if force && errors.Is(err, ErrNotExist) {
			return nil
		}
		return err
	}
	cg, err := cgroupOf(st)
	if err != nil {
		return err
	}
	switch status := r.Status(st); status {
	case StatusStopped:
	case StatusCreated:
		if err := killAndWait(st, cg, false); err != nil {
			return err
		}
	default:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, status)
		}
		if err := killAndWait(st, cg, status == StatusPaused); err != nil {
			return err
		}
	}
	return r.destroy(st, cg)
}

// DeleteStopped removes a container whose init the caller has reaped (run does).
func (r *Runtime) DeleteStopped(st *State) error {
	cg, err := cgroupOf(st)
	if err != nil {
		return err
	}
	return r.destroy(st, cg)
}

// destroy removes what a stopped container still holds, then its record.
func (r *Runtime) destroy(st *State, cg cgroup.Manager) error {
	// Stray processes (init gone, children left in a cgroup without a pid namespace).
	if pids, err := cg.Pids(); err == nil && len(pids) > 0 {
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
	}
	if err := cg.Destroy(); err != nil {
		return fmt.Errorf("container %s: remove cgroup: %w", st.ID, err)
	}
	if err := releaseHostMounts(st); err != nil {
		return fmt.Errorf("container %s: %w", st.ID, err)
	}
	if st.Spec.Hooks != nil {
		if err := runHooks("poststop", st.Spec.Hooks.Poststop, st.hookState(StatusStopped)); err != nil {
			r.Warn("%v", err)
		}
	}
	return os.RemoveAll(r.Store.dir(st.ID))
}

// killAndWait SIGKILLs everything in the container and waits for init to be gone.
func killAndWait(st *State, cg cgroup.Manager, paused bool) error {
	fd, err := unix.PidfdOpen(st.Pid, 0)
	if err != nil {
		return nil // already gone
	}
	defer unix.Close(fd)
	if !st.alive() {
		return nil
	}
	unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	if err := signalAll(st, cg, unix.SIGKILL, paused); err != nil {
		return err
	}
	if err := waitPidfd(fd, 10*time.Second); err != nil {
		return fmt.Errorf("container %s: init did not exit after SIGKILL: %w", st.ID, err)
	}
	return nil
}

// waitPidfd waits until the process behind fd has exited.
func waitPidfd(fd int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return errors.New("timed out")
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// Pause freezes every process of a running container.
func (r *Runtime) Pause(id string) error {
	st, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	if r.Status(st) == StatusPaused {
		return fmt.Errorf("container %s is already paused", id)
	}
	return cg.Freeze()
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	st, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	if r.Status(st) != StatusPaused {
		return fmt.Errorf("container %s is not paused", id)
	}
	return cg.Thaw()
}

// Update applies new resource limits to a live container and records them.
func (r *Runtime) Update(id string, res *specs.LinuxResources) error {
	st, cg, err := r.loadRunning(id)
	if err != nil {
		return err
	}
	if err := cg.Set(res); err != nil {
		return err
	}
	st.Spec.Linux.Resources = mergeResources(st.Spec.Linux.Resources, res)
	return r.Store.save(st)
}

// Pids lists the processes in the container's cgroup.
func (r *Runtime) Pids(id string) ([]int, error) {
	_, cg, err := r.loadRunning(id)
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// loadRunning loads a container that has a live init (created, running or paused).
func (r *Runtime) loadRunning(id string) (*State, cgroup.Manager, error) {
	st, err := r.Store.Load(id)
	if err != nil {
		return nil, nil, err
	}
	if !st.alive() {
		return nil, nil, fmt.Errorf("container %s: %w", id, ErrNotRunning)
	}
	cg, err := cgroupOf(st)
	if err != nil {
		return nil, nil, err
	}
	return st, cg, nil
}

// mergeResources overlays the fields set in upd onto cur.
func mergeResources(cur, upd *specs.LinuxResources) *specs.LinuxResources {
	if cur == nil {
		return upd
	}
	out := *cur
	if upd.Memory != nil {
		m := specs.LinuxMemory{}
		if out.Memory != nil {
			m = *out.Memory
		}
		setIf(&m.Limit, upd.Memory.Limit)
		setIf(&m.Reservation, upd.Memory.Reservation)
		setIf(&m.Swap, upd.Memory.Swap)
		setIf(&m.Kernel, upd.Memory.Kernel)
		setIf(&m.KernelTCP, upd.Memory.KernelTCP)
		out.Memory = &m
	}
	if upd.CPU != nil {
		c := specs.LinuxCPU{}
		if out.CPU != nil {
			c = *out.CPU
		}
		setIf(&c.Shares, upd.CPU.Shares)
		setIf(&c.Quota, upd.CPU.Quota)
		setIf(&c.Period, upd.CPU.Period)
		setIf(&c.RealtimeRuntime, upd.CPU.RealtimeRuntime)
		setIf(&c.RealtimePeriod, upd.CPU.RealtimePeriod)
		if upd.CPU.Cpus != "" {
			c.Cpus = upd.CPU.Cpus
		}
		if upd.CPU.Mems != "" {
			c.Mems = upd.CPU.Mems
		}
		out.CPU = &c
	}
	if upd.Pids != nil {
		out.Pids = upd.Pids
	}
	if upd.BlockIO != nil {
		out.BlockIO = upd.BlockIO
	}
	if upd.Unified != nil {
		out.Unified = upd.Unified
	}
	return &out
}

func setIf[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

// Stats reads the container's cgroup counters (memory, cpu, pids, OOM kills). They
// stay readable after the container stops, until it is deleted.
func (r *Runtime) Stats(id string) (*cgroup.Stats, error) {
	st, err := r.Store.Load(id)
	if err != nil {
		return nil, err
	}
	cg, err := cgroupOf(st)
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}
