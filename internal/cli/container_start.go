package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// startOptions are the flags of `start`.
type startOptions struct {
	Attach, Interactive bool
	DetachKeys          string
}

func (c *CLI) newStartCommand() *cobra.Command {
	var o startOptions
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Attach || o.Interactive {
				if len(args) > 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
				return c.startAttached(cmd, o, args[0])
			}
			return c.startAll(cmd, args)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	flags.BoolVarP(&o.Interactive, "interactive", "i", false, "Attach container's STDIN")
	flags.StringVar(&o.DetachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// startAll starts each container in turn, printing the names that started;
// each failure is printed as it happens, and the command fails at the end
// naming them.
func (c *CLI) startAll(cmd *cobra.Command, names []string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	var failed []string
	for _, name := range names {
		if _, err := cl.ContainerStart(cmd.Context(), name, client.ContainerStartOptions{}); err != nil {
			if client.IsErrConnectionFailed(err) {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			failed = append(failed, name)
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("Error: failed to start containers: %s", strings.Join(failed, ", "))
	}
	return nil
}

// startAttached is `start -a` (and -i): attach to stdout and stderr (and
// stdin if the container keeps it open and -i asks), register the wait,
// start, relay, and exit with the container's status.
func (c *CLI) startAttached(cmd *cobra.Command, o startOptions, name string) error {
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	cl, err := c.Client()
	if err != nil {
		return err
	}
	info, err := cl.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	ctr := info.Container
	if ctr.Config == nil || ctr.HostConfig == nil {
		return fmt.Errorf("container %s: the daemon's answer lacks its configuration", name)
	}
	if !ctr.Config.Tty {
		sigc, stop := notifyAllSignals()
		defer stop()
		go forwardSignals(context.WithoutCancel(ctx), cl, ctr.ID, sigc)
	}
	ao := client.ContainerAttachOptions{
		Stream: true, Stdin: o.Interactive && ctr.Config.OpenStdin, Stdout: true, Stderr: true, DetachKeys: o.DetachKeys,
	}
	streamDone, err := c.attachStreams(ctx, cl, ctr.ID, ctr.Config, ao)
	if err != nil {
		return err
	}
	status := c.waitExitOrRemoved(ctx, cl, ctr.ID, ctr.HostConfig.AutoRemove)
	if _, err := cl.ContainerStart(ctx, ctr.ID, client.ContainerStartOptions{}); err != nil {
		cancel()
		<-streamDone
		if ctr.HostConfig.AutoRemove {
			<-status
		}
		return err
	}
	if ctr.Config.Tty && isTerminal(c.env.Stdout) {
		defer c.monitorTTYSize(ctx, cl, ctr.ID, false)()
	}
	if err := <-streamDone; err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	return exitStatus(<-status)
}
