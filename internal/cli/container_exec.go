package cli

import (
	"errors"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/opts"
)

// execOptions are the flags of `exec`.
type execOptions struct {
	DetachKeys                           string
	Interactive, TTY, Detach, Privileged bool
	User, Workdir                        string
	Env, EnvFile                         *opts.List
}

func (c *CLI) newExecCommand() *cobra.Command {
	o := execOptions{Env: opts.NewList(opts.EnvValidator(c.lookupEnv)), EnvFile: opts.NewList(nil)}
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  requiresMinArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runExec(cmd, o, args[0], args[1:])
		},
	}
	flags := cmd.Flags()
	flags.SetInterspersed(false)
	flags.StringVar(&o.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	flags.BoolVarP(&o.Interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	flags.BoolVarP(&o.TTY, "tty", "t", false, "Allocate a pseudo-TTY")
	flags.BoolVarP(&o.Detach, "detach", "d", false, "Detached mode: run command in the background")
	flags.StringVarP(&o.User, "user", "u", "", `Username or UID (format: "<name|uid>[:<group|gid>]")`)
	flags.BoolVar(&o.Privileged, "privileged", false, "Give extended privileges to the command")
	flags.VarP(o.Env, "env", "e", "Set environment variables")
	flags.Var(o.EnvFile, "env-file", "Read in a file of environment variables")
	flags.StringVarP(&o.Workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

// runExec creates the exec, then starts it detached (-d) or attached,
// relaying its streams, and exits with the exec's exit code as the daemon
// records it (GET /exec/{id}/json).
func (c *CLI) runExec(cmd *cobra.Command, o execOptions, name string, command []string) error {
	ctx := cmd.Context()
	env, err := readKVFiles(o.EnvFile.Values(), c.lookupEnv)
	if err != nil {
		return err
	}
	env = append(env, o.Env.Values()...)
	create := client.ExecCreateOptions{
		User: o.User, Privileged: o.Privileged, TTY: o.TTY, Env: env, WorkingDir: o.Workdir,
		Cmd: command, DetachKeys: o.DetachKeys,
	}
	if !o.Detach {
		create.AttachStdout, create.AttachStderr, create.AttachStdin = true, true, o.Interactive
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	if _, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err != nil {
		return err
	}
	if !o.Detach && create.AttachStdin && o.TTY && !isTerminal(c.env.Stdin) {
		return errors.New("the input device is not a TTY")
	}
	if o.TTY {
		if h, w, ok := terminalSize(c.env.Stdout); ok {
			create.ConsoleSize = client.ConsoleSize{Height: h, Width: w}
		}
	}
	res, err := cl.ExecCreate(ctx, name, create)
	if err != nil {
		return err
	}
	if res.ID == "" {
		return errors.New("exec ID empty")
	}
	if o.Detach {
		_, err := cl.ExecStart(ctx, res.ID, client.ExecStartOptions{Detach: true, TTY: o.TTY, ConsoleSize: create.ConsoleSize})
		return err
	}
	resp, err := cl.ExecAttach(ctx, res.ID, client.ExecAttachOptions{TTY: o.TTY, ConsoleSize: create.ConsoleSize})
	if err != nil {
		return err
	}
	h := &hijackedIO{tty: o.TTY, detachKeys: o.DetachKeys, stderr: c.env.Stderr, out: c.env.Stdout, errOut: c.env.Stderr}
	if o.TTY {
		h.errOut = c.env.Stdout
	}
	if create.AttachStdin {
		h.in = c.env.Stdin
	}
	done := make(chan error, 1)
	go func() {
		defer resp.Close()
		done <- h.stream(ctx, &resp.HijackedResponse)
	}()
	if o.TTY && isTerminal(c.env.Stdin) {
		defer c.monitorTTYSize(ctx, cl, res.ID, true)()
	}
	if err := <-done; err != nil {
		return err
	}
	ins, err := cl.ExecInspect(ctx, res.ID, client.ExecInspectOptions{})
	if err != nil {
		if client.IsErrConnectionFailed(err) {
			return statusError{code: -1}
		}
		return err
	}
	return exitStatus(ins.ExitCode)
}

// readKVFiles reads --env-file files in order.
func readKVFiles(files []string, lookup opts.Lookup) ([]string, error) {
	var out []string
	for _, f := range files {
		lines, err := opts.ReadKVFile(f, lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	return out, nil
}
