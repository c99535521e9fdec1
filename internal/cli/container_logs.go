package cli

import (
	"io"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// logsOptions are the flags of `logs`.
type logsOptions struct {
	Follow, Timestamps, Details bool
	Since, Until, Tail          string
}

func (c *CLI) newLogsCommand() *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  requiresArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runLogs(cmd, o, args[0])
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	flags.StringVar(&o.Since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	flags.StringVar(&o.Until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	flags.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	flags.BoolVar(&o.Details, "details", false, "Show extra details provided to logs")
	flags.StringVarP(&o.Tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	return cmd
}

// runLogs copies the container's log to stdout and stderr: as it is for a
// container with a TTY (one stream), taken apart from its stdcopy frames
// otherwise.
func (c *CLI) runLogs(cmd *cobra.Command, o logsOptions, name string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ins, err := cl.ContainerInspect(cmd.Context(), name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	body, err := cl.ContainerLogs(cmd.Context(), ins.Container.ID, client.ContainerLogsOptions{
		ShowStdout: true, ShowStderr: true, Since: o.Since, Until: o.Until, Timestamps: o.Timestamps,
		Follow: o.Follow, Tail: o.Tail, Details: o.Details,
	})
	if err != nil {
		return err
	}
	defer body.Close()
	if ins.Container.Config != nil && ins.Container.Config.Tty {
		_, err = io.Copy(cmd.OutOrStdout(), body)
		return err
	}
	_, err = stdcopy.StdCopy(cmd.OutOrStdout(), cmd.ErrOrStderr(), body)
	return err
}
