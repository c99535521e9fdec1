package runtimecli

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/runtime"
)

func cmdExec(g *globals, args []string) error {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(nopWriter{})
	var (
		consoleSocket, cwd, user, processPath, pidFile string
		env, capsAdd, gids                             stringList
		tty, detach, nnp                               bool
		preserveFDs                                    int
	)
	fs.StringVar(&consoleSocket, "console-socket", "", "unix socket to send the pty master to")
	fs.StringVar(&cwd, "cwd", "", "working directory in the container")
	fs.Var(&env, "env", "set an environment variable (repeatable)")
	fs.Var(&env, "e", "set an environment variable (repeatable)")
	fs.BoolVar(&tty, "tty", false, "allocate a pseudo-TTY")
	fs.BoolVar(&tty, "t", false, "allocate a pseudo-TTY")
	fs.StringVar(&user, "user", "", "UID[:GID] to run as")
	fs.StringVar(&user, "u", "", "UID[:GID] to run as")
	fs.Var(&gids, "additional-gids", "additional gid (repeatable)")
	fs.Var(&gids, "g", "additional gid (repeatable)")
	fs.StringVar(&processPath, "process", "", "path to a process.json")
	fs.StringVar(&processPath, "p", "", "path to a process.json")
	fs.BoolVar(&detach, "detach", false, "do not wait for the process")
	fs.BoolVar(&detach, "d", false, "do not wait for the process")
	fs.StringVar(&pidFile, "pid-file", "", "file to write the process pid to")
	fs.String("process-label", "", "SELinux label (no SELinux on this kernel)")
	fs.String("apparmor", "", "AppArmor profile")
	fs.BoolVar(&nnp, "no-new-privs", false, "set no_new_privs")
	fs.Var(&capsAdd, "cap", "add a capability (repeatable)")
	fs.Var(&capsAdd, "c", "add a capability (repeatable)")
	fs.IntVar(&preserveFDs, "preserve-fds", 0, "pass this many fds after stdio to the process")
	fs.Bool("ignore-paused", false, "accepted for runc compatibility")
	fs.String("cgroup", "", "accepted for runc compatibility")
	// Flags stop at the container id: what follows is the command.
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("exec: %v", err)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return fmt.Errorf("exec: container id is required")
	}
	id, cmdArgs := rest[0], rest[1:]
	if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	for _, name := range []string{"apparmor", "process-label"} {
		if f := fs.Lookup(name); f.Value.String() != "" {
			return fmt.Errorf("exec: --%s is set but this kernel has no such security module", name)
		}
	}

	r := g.runtime()
	var proc *specs.Process
	if processPath != "" {
		b, err := os.ReadFile(processPath)
		if err != nil {
			return fmt.Errorf("exec: --process: %w", err)
		}
		proc = &specs.Process{}
		if err := json.Unmarshal(b, proc); err != nil {
			return fmt.Errorf("exec: --process %s: invalid JSON: %w", processPath, err)
		}
	} else {
		if len(cmdArgs) == 0 {
			return fmt.Errorf("exec: a command is required (or --process)")
		}
		st, err := r.Store.Load(id)
		if err != nil {
			return err
		}
		// runc's rule: start from the container's process and override what is given.
		base := *st.Spec.Process
		proc = &base
		proc.Args = cmdArgs
		proc.Terminal = tty
		proc.Env = append(append([]string{}, base.Env...), env...)
		if cwd != "" {
			proc.Cwd = cwd
		}
		if user != "" {
			if err := parseUser(user, &proc.User); err != nil {
				return err
			}
		}
		for _, gs := range gids {
			gid, err := strconv.ParseUint(gs, 10, 32)
			if err != nil {
				return fmt.Errorf("exec: invalid additional gid %q", gs)
			}
			proc.User.AdditionalGids = append(proc.User.AdditionalGids, uint32(gid))
		}
		if nnp {
			proc.NoNewPrivileges = true
		}
		if len(capsAdd) > 0 {
			proc.Capabilities = addCaps(proc.Capabilities, capsAdd)
		}
	}
	o := runtime.ExecOpts{ID: id, Process: proc, PidFile: pidFile, ConsoleSocket: consoleSocket, PreserveFDs: preserveFDs}
	var relay *ttyRelay
	var err error
	if proc.Terminal && consoleSocket == "" && !detach {
		if relay, err = newTTYRelay(); err != nil {
			return err
		}
		o.Console = relay.remote
	}
	var sigs chan os.Signal
	if !detach {
		sigs = relaySignals()
	}
	cmd, err := r.Exec(o)
	if relay != nil {
		relay.remote.Close()
		if err == nil {
			err = relay.start()
			defer relay.stop()
		}
	}
	if err != nil {
		return err
	}
	if detach {
		return nil
	}
	return exitError{waitRelaying(cmd, sigs, relay)}
}

// parseUser parses UID[:GID] (numbers only: names would need the container's passwd).
func parseUser(s string, u *specs.User) error {
	uidS, gidS, hasGID := strings.Cut(s, ":")
	uid, err := strconv.ParseUint(uidS, 10, 32)
	if err != nil {
		return fmt.Errorf("exec: invalid --user %q: want UID[:GID]", s)
	}
	u.UID = uint32(uid)
	if hasGID {
		gid, err := strconv.ParseUint(gidS, 10, 32)
		if err != nil {
			return fmt.Errorf("exec: invalid --user %q: want UID[:GID]", s)
		}
		u.GID = uint32(gid)
	}
	return nil
}

// addCaps adds each capability to every set, as runc exec --cap does.
func addCaps(c *specs.LinuxCapabilities, add []string) *specs.LinuxCapabilities {
	out := specs.LinuxCapabilities{}
	if c != nil {
		out = *c
	}
	for _, name := range add {
		name = strings.ToUpper(name)
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		out.Bounding = append(out.Bounding, name)
		out.Effective = append(out.Effective, name)
		out.Permitted = append(out.Permitted, name)
		out.Inheritable = append(out.Inheritable, name)
		out.Ambient = append(out.Ambient, name)
	}
	return &out
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
