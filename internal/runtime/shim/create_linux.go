package shim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
)

// creatorFD is where the creator finds its socket to the shim.
const creatorFD = 3

// CreateMain is the body of "berth-runtime shim-create ID STATEDIR" (the arguments
// only name the process for ps): the creator a shim starts for each container. It
// reads the options from the shim (one message on fd 3), creates the container with
// stdio it holds and the container's control socket, sends all of it to the shim (see
// handover_linux.go) and exits, leaving the container's init to the shim. On failure
// it sends the error instead, having removed whatever it made.
func CreateMain(args []string) int {
	if _, err := unix.FcntlInt(creatorFD, unix.F_GETFD, 0); err != nil {
		fmt.Fprintln(os.Stderr, "berth-runtime shim-create: started without its shim on fd 3 (a shim starts it)")
		return 1
	}
	unix.CloseOnExec(creatorFD)
	sock := os.NewFile(creatorFD, "shim")
	defer sock.Close()
	fail := func(err error) int {
		r := replyError(err)
		r.Error = strings.ReplaceAll(r.Error, "\n", " ")
		b, _ := json.Marshal(r)
		unix.Write(creatorFD, b)
		return 1
	}
	buf := make([]byte, maxHandover)
	n, err := unix.Read(creatorFD, buf)
	if err != nil {
		return fail(fmt.Errorf("shim-create: read options: %w", err))
	}
	var o Opts
	if err := json.Unmarshal(buf[:n], &o); err != nil {
		return fail(fmt.Errorf("shim-create: read options: %w", err))
	}
	h, err := create(o)
	if err == nil {
		if err = h.send(sock); err != nil {
			abandon(o)
		}
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// create creates the container with stdio the creator holds and a socket to serve,
// ready to be handed over. On failure nothing is left: no container, no socket.
func create(o Opts) (_ *handover, err error) {
	rt := runtime.New(o.RuntimeRoot)
	pio, err := newProcIO(o.Terminal, o.OpenStdin)
	if err != nil {
		return nil, err
	}
	created, err := rt.Create(runtime.CreateOpts{ID: o.ID, Bundle: o.Bundle, Stdio: pio.child, Console: pio.console})
	if err != nil {
		pio.close()
		return nil, err
	}
	h := &handover{Opts: o, Pid: created.State.Pid, Starter: runtime.StarterOf(created.State), SharedPidNS: SharesPidNS(created.State.Spec)}
	defer func() {
		if err != nil {
			abandon(o)
		}
	}()
	if created.State.Spec.Process.Terminal != o.Terminal {
		pio.close()
		return nil, fmt.Errorf("config.json has process.terminal %t but the shim was asked for terminal %t", created.State.Spec.Process.Terminal, o.Terminal)
	}
	p := newProc(o.Terminal)
	if err := pio.handTo(p); err != nil {
		pio.close()
		return nil, err
	}
	h.take(p)
	ln, err := listen(filepath.Join(o.StateDir, sockName))
	if err != nil {
		return nil, err
	}
	h.setListener(ln)
	return h, nil
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
