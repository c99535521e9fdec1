package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/opts"
)

// runOptions are the flags of `run` beyond create's.
type runOptions struct {
	createOptions
	Detach     bool
	SigProxy   bool
	DetachKeys string
}

func (c *CLI) newRunCommand() *cobra.Command {
	var o runOptions
	var copts *opts.Container
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.parseCreate(cmd, copts, o.createOptions, args)
			if err != nil {
				return err
			}
			return c.runContainer(cmd, o, len(copts.Attach()) > 0, cfg)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Detach, "detach", "d", false, "Run container in background and print container ID")
	flags.BoolVar(&o.SigProxy, "sig-proxy", true, "Proxy received signals to the process")
	flags.StringVar(&o.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	copts = c.addCreateFlags(cmd, &o.createOptions)
	return cmd
}

// runContainer is docker's run: create (pulling the image if need be), then,
// unless detached, attach to the streams -a (or -i) names; register a wait
// for the next exit (or the removal, with --rm) — both before the start, so
// no output and no exit is missed — and start. Detached, it prints the ID;
// attached, it relays the streams and exits with the container's status.
func (c *CLI) runContainer(cmd *cobra.Command, o runOptions, attachFlag bool, cfg *opts.Config) error {
	config := cfg.Config
	config.ArgsEscaped = false
	if !o.Detach {
		if config.AttachStdin && config.Tty && !isTerminal(c.env.Stdin) {
			return errors.New("the input device is not a TTY")
		}
	} else {
		if attachFlag {
			return errors.New("conflicting options: cannot specify both --attach and --detach")
		}
		config.AttachStdin, config.AttachStdout, config.AttachStderr, config.StdinOnce = false, false, false, false
	}
	ctx := cmd.Context()
	id, err := c.createContainer(ctx, cfg, o.createOptions)
	if err != nil {
		return runStatusError(cmd, err)
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	// Detached, the CLI exits once the container has started: no signal of its can
	// matter to the container, and nobody reads its exit.
	if o.SigProxy && !config.Tty && !o.Detach {
		sigc, stop := notifyAllSignals()
		defer stop()
		go forwardSignals(context.WithoutCancel(ctx), cl, id, sigc)
	}

	streamCtx, cancelStream := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStream()
	attach := config.AttachStdin || config.AttachStdout || config.AttachStderr
	var streamDone <-chan error
	if attach {
		streamDone, err = c.attachStreams(streamCtx, cl, id, config, client.ContainerAttachOptions{
			Stream: true, Stdin: config.AttachStdin, Stdout: config.AttachStdout, Stderr: config.AttachStderr,
			DetachKeys: o.DetachKeys,
		})
		if err != nil {
			return err
		}
	}

	statusCtx, cancelStatus := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelStatus()
	var status <-chan int
	if attach || cfg.HostConfig.AutoRemove { // with --rm, a failed start waits for the removal
		status = c.waitExitOrRemoved(statusCtx, cl, id, cfg.HostConfig.AutoRemove)
	}
	if !attach {
		fmt.Fprintln(c.env.Stdout, id)
	}

	if _, err := cl.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		if attach {
			cancelStream()
			<-streamDone
		}
		if cfg.HostConfig.AutoRemove {
			<-status
		}
		return runStatusError(cmd, err)
	}
	if !attach {
		return nil
	}
	if config.Tty && isTerminal(c.env.Stdout) {
		defer c.monitorTTYSize(streamCtx, cl, id, false)()
	}
	select {
	case err := <-streamDone:
		if errors.Is(err, errDetached) {
			return nil
		}
		if err != nil {
			return err
		}
		return exitStatus(<-status)
	case code := <-status:
		// The output may still be arriving: relay it to the end, unless
		// no output is attached (then only stdin is left, and it ends).
		if !config.AttachStdout && !config.AttachStderr {
			cancelStream()
		}
		<-streamDone
		return exitStatus(code)
	}
}

// exitStatus is the CLI's exit for the container's status.
func exitStatus(code int) error {
	if code == 0 {
		return nil
	}
	return statusError{code: code}
}

// attachStreams attaches to the container's streams and relays them in the
// background; the channel receives the relay's end.
func (c *CLI) attachStreams(ctx context.Context, cl *client.Client, id string, config *container.Config, o client.ContainerAttachOptions) (<-chan error, error) {
	resp, err := cl.ContainerAttach(ctx, id, o)
	if err != nil {
		return nil, err
	}
	h := &hijackedIO{tty: config.Tty, detachKeys: o.DetachKeys, stderr: c.env.Stderr}
	if o.Stdin {
		h.in = c.env.Stdin
	}
	if o.Stdout {
		h.out = c.env.Stdout
	}
	if o.Stderr {
		h.errOut = c.env.Stderr
		if config.Tty {
			h.errOut = c.env.Stdout
		}
	}
	if err := h.prepare(); err != nil {
		resp.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		defer resp.Close()
		done <- h.stream(ctx, &resp.HijackedResponse)
	}()
	return done, nil
}

// waitExitOrRemoved asks the daemon to report the container's next exit (or,
// with removed, its removal) and returns the channel its status arrives on:
// 125 when the wait itself failed. The request is answered with its headers
// at once, so once this returns the wait is registered.
func (c *CLI) waitExitOrRemoved(ctx context.Context, cl *client.Client, id string, removed bool) <-chan int {
	cond := container.WaitConditionNextExit
	if removed {
		cond = container.WaitConditionRemoved
	}
	wait := cl.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: cond})
	status := make(chan int, 1)
	go func() {
		select {
		case <-ctx.Done():
		case res := <-wait.Result:
			if res.Error != nil {
				fmt.Fprintf(c.env.Stderr, "Error waiting for container: %s\n", res.Error.Message)
				status <- 125
				return
			}
			status <- int(res.StatusCode)
		case err := <-wait.Error:
			if errors.Is(err, context.Canceled) {
				return
			}
			fmt.Fprintf(c.env.Stderr, "error waiting for container: %v\n", err)
			status <- 125
		}
	}()
	return status
}
