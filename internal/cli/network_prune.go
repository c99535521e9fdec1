package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// networkPruneOptions are the flags of `network prune`.
type networkPruneOptions struct {
	Force   bool
	Filters filterFlag
}

func (c *CLI) newNetworkPruneCommand() *cobra.Command {
	var o networkPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all unused networks",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			const warning = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?"
			if !o.Force && !confirm(cmd.InOrStdin(), out, warning) {
				return errors.New("network prune has been cancelled")
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.NetworkPrune(cmd.Context(), client.NetworkPruneOptions{Filters: o.Filters.filters})
			if err != nil {
				return err
			}
			// Networks hold no disk space: docker prints no total.
			if deleted := res.Report.NetworksDeleted; len(deleted) > 0 {
				fmt.Fprintln(out, "Deleted Networks:\n"+strings.Join(deleted, "\n")+"\n")
			}
			return nil
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Force, "force", "f", false, "Do not prompt for confirmation")
	flags.Var(&o.Filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}
