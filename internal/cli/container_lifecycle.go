package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// The verbs that act on a list of containers (stop, kill, rm, pause,
// unpause) do it in parallel, as docker does, and report in the order
// given: each name that succeeded on stdout, the failures together at the
// end (exit 1).

// forEachContainer runs op on every name, at most 50 at a time, and returns
// the results in the order of names.
func forEachContainer(ctx context.Context, names []string, op func(ctx context.Context, name string) error) []error {
	errs := make([]error, len(names))
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = op(ctx, name)
			<-sem
		}()
	}
	wg.Wait()
	return errs
}

// reportEach prints each name whose operation succeeded and joins the
// failures.
func reportEach(cmd *cobra.Command, names []string, errs []error) error {
	var failed []error
	for i, name := range names {
		if errs[i] != nil {
			failed = append(failed, errs[i])
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), name)
	}
	return errors.Join(failed...)
}

// stopOptions are the flags of `stop` and `restart`.
type stopOptions struct {
	Signal  string
	Timeout int
	Names   []string
}

func (c *CLI) newStopCommand() *cobra.Command {
	return c.stopLikeCommand("stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
		func(ctx context.Context, cl *client.Client, name string, o stopOptions, timeout *int) error {
			_, err := cl.ContainerStop(ctx, name, client.ContainerStopOptions{Signal: o.Signal, Timeout: timeout})
			return err
		})
}

func (c *CLI) newRestartCommand() *cobra.Command {
	return c.stopLikeCommand("restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
		func(ctx context.Context, cl *client.Client, name string, o stopOptions, timeout *int) error {
			_, err := cl.ContainerRestart(ctx, name, client.ContainerRestartOptions{Signal: o.Signal, Timeout: timeout})
			return err
		})
}

// stopLikeCommand is stop or restart: -s/--signal, -t/--timeout (and the
// deprecated --time); without -t the daemon uses the container's own stop
// timeout. Restart goes through the containers one after the other.
func (c *CLI) stopLikeCommand(use, short string, op func(context.Context, *client.Client, string, stopOptions, *int) error) *cobra.Command {
	var o stopOptions
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			if flags.Changed("time") && flags.Changed("timeout") {
				return errors.New("conflicting options: cannot specify both --timeout and --time")
			}
			var timeout *int
			if flags.Changed("time") || flags.Changed("timeout") {
				timeout = &o.Timeout
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			do := func(ctx context.Context, name string) error { return op(ctx, cl, name, o, timeout) }
			if cmd.Name() == "restart" {
				errs := make([]error, len(args))
				for i, name := range args {
					errs[i] = do(cmd.Context(), name)
				}
				return reportEach(cmd, args, errs)
			}
			return reportEach(cmd, args, forEachContainer(cmd.Context(), args, do))
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.Signal, "signal", "s", "", "Signal to send to the container")
	flags.IntVarP(&o.Timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	flags.IntVar(&o.Timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	flags.MarkDeprecated("time", "use --timeout instead")
	return cmd
}

func (c *CLI) newKillCommand() *cobra.Command {
	var signal string
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			return reportEach(cmd, args, forEachContainer(cmd.Context(), args, func(ctx context.Context, name string) error {
				_, err := cl.ContainerKill(ctx, name, client.ContainerKillOptions{Signal: signal})
				return err
			}))
		},
	}
	cmd.Flags().StringVarP(&signal, "signal", "s", "", "Signal to send to the container")
	return cmd
}

// rmOptions are the flags of `rm`.
type rmOptions struct {
	Volumes, Link, Force bool
}

func (c *CLI) newRmCommand() *cobra.Command {
	var o rmOptions
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			errs := forEachContainer(cmd.Context(), args, func(ctx context.Context, name string) error {
				name = strings.Trim(name, "/")
				if name == "" {
					return errors.New("container name cannot be empty")
				}
				_, err := cl.ContainerRemove(ctx, name, client.ContainerRemoveOptions{
					RemoveVolumes: o.Volumes, RemoveLinks: o.Link, Force: o.Force,
				})
				return err
			})
			// With --force, a container that does not exist is reported but
			// is no failure.
			for i, err := range errs {
				if err != nil && o.Force && cerrdefs.IsNotFound(err) {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					errs[i] = errSkip
				}
			}
			var failed []error
			for i, name := range args {
				switch {
				case errs[i] == errSkip:
				case errs[i] != nil:
					failed = append(failed, errs[i])
				default:
					fmt.Fprintln(cmd.OutOrStdout(), name)
				}
			}
			return errors.Join(failed...)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	flags.BoolVarP(&o.Link, "link", "l", false, "Remove the specified link")
	flags.BoolVarP(&o.Force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	return cmd
}

// errSkip marks a result that is neither printed nor a failure.
var errSkip = errors.New("skipped")

func (c *CLI) newPauseCommand() *cobra.Command {
	return c.eachContainerCommand("pause CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
		func(ctx context.Context, cl *client.Client, name string) error {
			_, err := cl.ContainerPause(ctx, name, client.ContainerPauseOptions{})
			return err
		})
}

func (c *CLI) newUnpauseCommand() *cobra.Command {
	return c.eachContainerCommand("unpause CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers",
		func(ctx context.Context, cl *client.Client, name string) error {
			_, err := cl.ContainerUnpause(ctx, name, client.ContainerUnpauseOptions{})
			return err
		})
}

// eachContainerCommand is a flagless verb applying op to each container.
func (c *CLI) eachContainerCommand(use, short string, op func(context.Context, *client.Client, string) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			return reportEach(cmd, args, forEachContainer(cmd.Context(), args, func(ctx context.Context, name string) error {
				return op(ctx, cl, name)
			}))
		},
	}
}

func (c *CLI) newWaitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range args {
				w := cl.ContainerWait(cmd.Context(), name, client.ContainerWaitOptions{})
				select {
				case res := <-w.Result:
					fmt.Fprintf(cmd.OutOrStdout(), "%d\n", res.StatusCode)
				case err := <-w.Error:
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
}

func (c *CLI) newRenameCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  requiresArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			oldName, newName := strings.TrimSpace(args[0]), strings.TrimSpace(args[1])
			if oldName == "" || newName == "" {
				return errors.New("Error: Neither old nor new names may be empty")
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			if _, err := cl.ContainerRename(cmd.Context(), oldName, client.ContainerRenameOptions{NewName: newName}); err != nil {
				if client.IsErrConnectionFailed(err) {
					return err
				}
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return fmt.Errorf("Error: failed to rename container named %s", oldName)
			}
			return nil
		},
	}
}
