package cli

import (
	"context"
	"errors"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// attachOptions are the flags of `attach`.
type attachOptions struct {
	NoStdin    bool
	SigProxy   bool
	DetachKeys string
}

func (c *CLI) newAttachCommand() *cobra.Command {
	var o attachOptions
	cmd := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  requiresArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runAttach(cmd, o, args[0])
		},
	}
	flags := cmd.Flags()
	flags.BoolVar(&o.NoStdin, "no-stdin", false, "Do not attach STDIN")
	flags.BoolVar(&o.SigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	flags.StringVar(&o.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// runningContainer inspects a container that is to be attached to, with
// docker's refusals for one that is not running.
func runningContainer(ctx context.Context, cl *client.Client, name string) (container.InspectResponse, error) {
	res, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return res.Container, err
	}
	ctr := res.Container
	switch st := ctr.State; {
	case st == nil || ctr.Config == nil:
		return ctr, errors.New("the daemon's answer lacks the container's state")
	case !st.Running:
		return ctr, errors.New("You cannot attach to a stopped container, start it first")
	case st.Paused:
		return ctr, errors.New("You cannot attach to a paused container, unpause it first")
	case st.Restarting:
		return ctr, errors.New("You cannot attach to a restarting container, wait until it is running")
	}
	return ctr, nil
}

// runAttach relays a running container's streams until it exits (then
// exiting with its status) or the user detaches.
func (c *CLI) runAttach(cmd *cobra.Command, o attachOptions, name string) error {
	ctx := cmd.Context()
	cl, err := c.Client()
	if err != nil {
		return err
	}
	wait := cl.ContainerWait(context.WithoutCancel(ctx), name, client.ContainerWaitOptions{})
	ctr, err := runningContainer(ctx, cl, name)
	if err != nil {
		return err
	}
	if !o.NoStdin && ctr.Config.Tty && !isTerminal(c.env.Stdin) {
		return errors.New("the input device is not a TTY")
	}
	ao := client.ContainerAttachOptions{
		Stream: true, Stdin: !o.NoStdin && ctr.Config.OpenStdin, Stdout: true, Stderr: true, DetachKeys: o.DetachKeys,
	}
	if o.SigProxy && !ctr.Config.Tty {
		sigc, stop := notifyAllSignals()
		defer stop()
		go forwardSignals(context.WithoutCancel(ctx), cl, name, sigc)
	}
	streamDone, err := c.attachStreams(ctx, cl, name, ctr.Config, ao)
	if err != nil {
		return err
	}
	// The container may have stopped between the check and the attach.
	if _, err := runningContainer(ctx, cl, name); err != nil {
		return err
	}
	if ctr.Config.Tty && isTerminal(c.env.Stdout) {
		if h, w, ok := terminalSize(c.env.Stdout); ok {
			// One size off first, so a shell redraws its prompt at once.
			cl.ContainerResize(ctx, name, client.ContainerResizeOptions{Height: h + 1, Width: w + 1})
		}
		defer c.monitorTTYSize(ctx, cl, name, false)()
	}
	// Detaching ends attach with "read escape sequence" and status 1, as in
	// docker.
	if err := <-streamDone; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	select {
	case res := <-wait.Result:
		if res.Error != nil {
			return errors.New(res.Error.Message)
		}
		return exitStatus(int(res.StatusCode))
	case err := <-wait.Error:
		return err
	}
}
