package cli

import (
	"context"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// networkInspectOptions are the flags of `network inspect`.
type networkInspectOptions struct {
	Format  string
	Verbose bool
}

func (c *CLI) newNetworkInspectCommand() *cobra.Command {
	var o networkInspectOptions
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] NETWORK [NETWORK...]",
		Short: "Display detailed information on one or more networks",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(cmd, args, o.Format, c.verboseNetworkInspector(o.Verbose))
		},
	}
	cmd.Flags().StringVarP(&o.Format, "format", "f", "", inspectFormatHelp)
	cmd.Flags().BoolVarP(&o.Verbose, "verbose", "v", false, "Verbose output for diagnostics")
	return cmd
}

// verboseNetworkInspector is networkInspector with -v: the daemon adds what
// it knows for diagnostics (swarm services; nothing more on berth).
func (c *CLI) verboseNetworkInspector(verbose bool) inspectFunc {
	return func(ctx context.Context, name string) (any, []byte, error) {
		cl, err := c.Client()
		if err != nil {
			return nil, nil, err
		}
		res, err := cl.NetworkInspect(ctx, name, client.NetworkInspectOptions{Verbose: verbose})
		return res.Network, res.Raw, err
	}
}
