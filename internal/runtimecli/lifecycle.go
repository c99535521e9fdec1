package runtimecli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/signals"
)

// createFlags are shared by create and run.
type createFlags struct {
	bundle        string
	pidFile       string
	consoleSocket string
	noPivot       bool
	preserveFDs   int
}

func (c *createFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.bundle, "bundle", ".", "path to the bundle directory")
	fs.StringVar(&c.bundle, "b", ".", "path to the bundle directory")
	fs.StringVar(&c.pidFile, "pid-file", "", "file to write the init pid to")
	fs.StringVar(&c.consoleSocket, "console-socket", "", "unix socket to send the pty master to")
	fs.BoolVar(&c.noPivot, "no-pivot", false, "use chroot instead of pivot_root")
	fs.Bool("no-new-keyring", false, "accepted for runc compatibility")
	fs.IntVar(&c.preserveFDs, "preserve-fds", 0, "pass this many fds after stdio to the container")
}

func (c *createFlags) opts(id string) runtime.CreateOpts {
	return runtime.CreateOpts{
		ID: id, Bundle: c.bundle, PidFile: c.pidFile, ConsoleSocket: c.consoleSocket,
		NoPivot: c.noPivot, PreserveFDs: c.preserveFDs,
	}
}

func cmdCreate(g *globals, args []string) error {
	var cf createFlags
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	cf.register(fs)
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	_, err = g.runtime().Create(cf.opts(pos[0]))
	return err
}

func cmdStart(g *globals, args []string) error {
	pos, err := parse(flag.NewFlagSet("start", flag.ContinueOnError), args, 1, 1)
	if err != nil {
		return err
	}
	return g.runtime().Start(pos[0])
}

// cmdRun is create + start; in the foreground it relays signals to the container,
// waits for it, deletes it and exits with its status.
func cmdRun(g *globals, args []string) error {
	var cf createFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cf.register(fs)
	detach := fs.Bool("detach", false, "do not wait for the container")
	fs.BoolVar(detach, "d", false, "do not wait for the container")
	keep := fs.Bool("keep", false, "do not delete the container after it exits")
	fs.Bool("no-subreaper", false, "accepted for runc compatibility")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	r := g.runtime()
	o := cf.opts(pos[0])
	var sigs chan os.Signal
	if !*detach {
		sigs = relaySignals()
	}
	var tty *ttyRelay
	if !*detach && cf.consoleSocket == "" {
		// Offered to Create; used only if the process has a terminal.
		if tty, err = newTTYRelay(); err != nil {
			return err
		}
		o.Console = tty.remote
	}
	created, err := r.Create(o)
	if tty != nil {
		tty.remote.Close()
		if err != nil || !created.State.Spec.Process.Terminal {
			tty.local.Close()
			tty = nil
		}
	}
	if err != nil {
		return err
	}
	if tty != nil {
		if err := tty.start(); err != nil {
			r.Delete(pos[0], true)
			return err
		}
		defer tty.stop()
	}
	if err := r.StartCreated(created.State); err != nil {
		r.Delete(pos[0], true)
		return err
	}
	if *detach {
		return nil
	}
	code := waitRelaying(created.Init, sigs, tty)
	if !*keep {
		// Reaped by us: the container is stopped, whatever its record says.
		if err := r.DeleteStopped(created.State); err != nil {
			return err
		}
	}
	return exitError{code}
}

// forwardedSignals are the signals run and exec pass on to the container's process.
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGWINCH, unix.SIGALRM, unix.SIGCONT, unix.SIGPWR, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU,
}

// relaySignals starts catching forwardedSignals and returns where they arrive. The Go
// runtime enables each signal in a round trip with its signal thread (0.1-0.2 ms each),
// so this runs beside container setup instead of before it; the handlers stay until the
// process exits, which follows right after the container does.
func relaySignals() chan os.Signal {
	sigs := make(chan os.Signal, 32)
	go signal.Notify(sigs, forwardedSignals...)
	return sigs
}

// waitRelaying forwards signals to p until it exits and returns its status the way a
// shell reports it (128+signal when killed).
func waitRelaying(p *runtime.Process, sigs chan os.Signal, tty *ttyRelay) int {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				sig, ok := s.(syscall.Signal)
				if !ok {
					continue
				}
				if sig == unix.SIGWINCH && tty != nil {
					tty.resize()
					continue
				}
				p.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	ws, err := p.Wait()
	close(done)
	if tty != nil {
		tty.drain()
	}
	switch {
	case err != nil:
		return 255
	case ws.Signaled():
		return 128 + int(ws.Signal())
	default:
		return ws.ExitStatus()
	}
}

func cmdState(g *globals, args []string) error {
	pos, err := parse(flag.NewFlagSet("state", flag.ContinueOnError), args, 1, 1)
	if err != nil {
		return err
	}
	st, err := g.runtime().State(pos[0])
	if err != nil {
		return err
	}
	return printJSON(g.stdout, st)
}

func cmdKill(g *globals, args []string) error {
	fs := flag.NewFlagSet("kill", flag.ContinueOnError)
	all := fs.Bool("all", false, "signal every process in the container")
	fs.BoolVar(all, "a", false, "signal every process in the container")
	pos, err := parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	sig := unix.SIGTERM
	if len(pos) == 2 {
		if sig, err = parseSignal(pos[1]); err != nil {
			return err
		}
	}
	return g.runtime().Kill(pos[0], sig, *all)
}

// parseSignal accepts "9", "KILL", "SIGKILL" and "sigkill".
func parseSignal(s string) (syscall.Signal, error) { return signals.Parse(s) }

func cmdDelete(g *globals, args []string) error {
	fs := flag.NewFlagSet("delete", flag.ContinueOnError)
	force := fs.Bool("force", false, "kill the container if it is running")
	fs.BoolVar(force, "f", false, "kill the container if it is running")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	err = g.runtime().Delete(pos[0], *force)
	if errors.Is(err, runtime.ErrNotExist) {
		return fmt.Errorf("container %s does not exist", pos[0])
	}
	return err
}

func cmdPause(g *globals, args []string) error {
	pos, err := parse(flag.NewFlagSet("pause", flag.ContinueOnError), args, 1, 1)
	if err != nil {
		return err
	}
	return g.runtime().Pause(pos[0])
}

func cmdResume(g *globals, args []string) error {
	pos, err := parse(flag.NewFlagSet("resume", flag.ContinueOnError), args, 1, 1)
	if err != nil {
		return err
	}
	return g.runtime().Resume(pos[0])
}
