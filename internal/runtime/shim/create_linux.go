package shim

import (
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
)

// created is a container just created by the shim, with what serving it takes.
type created struct {
	opts        Opts
	init        *proc // its init, output not read yet
	starter     runtime.Starter
	sharedPidNS bool     // in the host's pid namespace (see watchChild)
	ln          *os.File // the container's control socket
}

// create creates the container with stdio the shim holds and a socket to serve. On
// failure nothing is left: no container, no socket, no process. A panic in the
// runtime library is an error here: the shim's other containers go on.
func create(o Opts) (c *created, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("shim: creating container %s failed: %v", o.ID, r)
			abandon(o, 0)
		}
	}()
	rt := runtime.New(o.RuntimeRoot)
	pio, err := newProcIO(o.Terminal, o.OpenStdin)
	if err != nil {
		return nil, err
	}
	made, err := rt.Create(runtime.CreateOpts{ID: o.ID, Bundle: o.Bundle, Stdio: pio.child, Console: pio.console})
	if err != nil {
		pio.close()
		return nil, err
	}
	pid := made.State.Pid
	if made.State.Spec.Process.Terminal != o.Terminal {
		pio.close()
		abandon(o, pid)
		return nil, fmt.Errorf("config.json has process.terminal %t but the shim was asked for terminal %t", made.State.Spec.Process.Terminal, o.Terminal)
	}
	p := newProc(o.Terminal)
	p.pid = pid
	if err := pio.handTo(p); err != nil {
		pio.close()
		abandon(o, pid)
		return nil, err
	}
	ln, err := listen(filepath.Join(o.StateDir, sockName))
	if err != nil {
		p.closeFiles()
		abandon(o, pid)
		return nil, err
	}
	return &created{
		opts:        o,
		init:        p,
		starter:     runtime.StarterOf(made.State),
		sharedPidNS: SharesPidNS(made.State.Spec),
		ln:          ln,
	}, nil
}

// undo removes a container that was created but will not be served.
func (c *created) undo() {
	c.init.closeFiles()
	c.ln.Close()
	abandon(c.opts, c.init.pid)
}

// abandon kills and deletes a container that will not be served, reaps its init (our
// child) if pid says which, and removes its socket and pid file.
func abandon(o Opts, pid int) {
	runtime.New(o.RuntimeRoot).Delete(o.ID, true)
	if pid > 0 {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == 0 || err == unix.EINTR { // Delete could not kill it yet
			go unix.Wait4(pid, &ws, 0, nil)
		}
	}
	os.Remove(filepath.Join(o.StateDir, sockName))
	os.Remove(filepath.Join(o.StateDir, pidName))
}

// SharesPidNS says whether a container with this spec has no pid namespace of its
// own, so that its orphans are reparented to its shim: such a container needs a shim
// of its own (see Group.Launch).
func SharesPidNS(spec *specs.Spec) bool {
	if spec.Linux == nil {
		return true
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.PIDNamespace {
			return false
		}
	}
	return true
}
