package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
)

// The handover. Creating a container takes the runtime library's whole machinery: the
// spec parsed, a seccomp profile compiled, cgroups joined, several blocking waits that
// each leave an idle thread (with its stacks) behind. None of that is needed again
// while the container runs, but a Go process never gives its threads back and keeps
// its heap's high-water mark in part. So once the container is created the shim
// execs itself: the fresh image gets only what serving needs (the descriptors it
// holds and the options, passed in a memfd) and idles in about a third of the memory.
// The pid stays the same, so the container is still its child, and the child
// subreaper attribute survives execve.

// handoverEnv names the memfd holding the handover, in the fresh image's environment.
const handoverEnv = "BERTH_SHIM_HANDOVER"

// handover is what the first image passes to the second: the options and the
// numbers of the descriptors it keeps open across execve.
type handover struct {
	Opts    Opts            `json:"opts"`
	Pid     int             `json:"pid"` // the container's init
	Starter runtime.Starter `json:"starter"`
	// SharedPidNS: the container is in the host's pid namespace (see watchChild).
	SharedPidNS bool           `json:"sharedPidNS,omitempty"`
	Listener    int            `json:"listener"` // the control socket
	Console     int            `json:"console"`  // the pty master, or -1
	Stdin       int            `json:"stdin"`    // our end of its stdin pipe, or -1
	Outputs     []handedOutput `json:"outputs,omitempty"`

	files []*os.File // the first image's open files, kept from the collector until execve
}

type handedOutput struct {
	FD     int `json:"fd"`
	Stream int `json:"stream"`
}

// fdOf is f's descriptor. Unlike File.Fd it leaves the descriptor non-blocking, so
// the next image's os.NewFile puts it in the poller again.
func fdOf(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}

// take records p's descriptors.
func (h *handover) take(p *proc) {
	h.Console, h.Stdin = -1, -1
	if p.console != nil {
		h.Console = fdOf(p.console)
		h.files = append(h.files, p.console)
	} else if p.stdin != nil {
		h.Stdin = fdOf(p.stdin)
		h.files = append(h.files, p.stdin)
	}
	if p.console == nil {
		for _, o := range p.outputs {
			h.Outputs = append(h.Outputs, handedOutput{FD: fdOf(o.f), Stream: o.stream})
			h.files = append(h.files, o.f)
		}
	}
}

func (h *handover) setListener(ln *os.File) {
	h.Listener = fdOf(ln)
	h.files = append(h.files, ln)
}

// exec replaces this process with a fresh image of berth-runtime that resumes from
// h. It returns only on failure.
func (h *handover) exec() error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	mfd, err := unix.MemfdCreate("berth-shim-handover", 0)
	if err != nil {
		return fmt.Errorf("shim handover: %w", err)
	}
	defer unix.Close(mfd)
	if _, err := unix.Write(mfd, b); err != nil {
		return fmt.Errorf("shim handover: %w", err)
	}
	for _, f := range h.files {
		if _, err := unix.FcntlInt(uintptr(fdOf(f)), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("shim handover: %w", err)
		}
	}
	if _, err := unix.FcntlInt(launcherFD, unix.F_SETFD, 0); err != nil {
		return fmt.Errorf("shim handover: %w", err)
	}
	env := append(os.Environ(), handoverEnv+"="+strconv.Itoa(mfd))
	err = unix.Exec("/proc/self/exe", os.Args, env)
	return fmt.Errorf("shim handover: exec: %w", err)
}

// handoverFD says whether this image resumes a handover, and from which descriptor.
// The variable is removed, so that nothing the shim starts sees it.
func handoverFD() (int, bool) {
	v, ok := os.LookupEnv(handoverEnv)
	if !ok {
		return 0, false
	}
	os.Unsetenv(handoverEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return -1, true // readHandover reports it
	}
	return fd, true
}

// readHandover reads the handover from fd and closes it. The descriptors it names get
// close-on-exec back: nothing the shim starts later may inherit them.
func readHandover(fd int) (*handover, error) {
	if fd < 0 {
		return nil, errors.New("handover: bad " + handoverEnv)
	}
	f := os.NewFile(uintptr(fd), "handover")
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	var h handover
	if err := json.NewDecoder(f).Decode(&h); err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	fds := []int{launcherFD, h.Listener, h.Console, h.Stdin}
	for _, o := range h.Outputs {
		fds = append(fds, o.FD)
	}
	for _, fd := range fds {
		if fd >= 0 {
			unix.CloseOnExec(fd)
		}
	}
	return &h, nil
}

// proc is the container's init as the handover describes it, its output not read yet.
func (h *handover) proc() *proc {
	p := newProc(h.Opts.Terminal)
	p.pid = h.Pid
	if h.Console >= 0 {
		master := os.NewFile(uintptr(h.Console), "console")
		p.console, p.stdin = master, master
		p.outputs = []output{{master, streamStdout}}
		return p
	}
	if h.Stdin >= 0 {
		p.stdin = os.NewFile(uintptr(h.Stdin), "stdin")
	}
	for _, o := range h.Outputs {
		p.outputs = append(p.outputs, output{os.NewFile(uintptr(o.FD), "output"), o.Stream})
	}
	return p
}

func (h *handover) listener() *os.File {
	return os.NewFile(uintptr(h.Listener), filepath.Join(h.Opts.StateDir, sockName))
}

// abandon undoes the container when the shim cannot serve it: the container killed
// and deleted, the socket and pid file removed.
func (h *handover) abandon() {
	runtime.New(h.Opts.RuntimeRoot).Delete(h.Opts.ID, true)
	os.Remove(filepath.Join(h.Opts.StateDir, sockName))
	os.Remove(filepath.Join(h.Opts.StateDir, pidName))
}
