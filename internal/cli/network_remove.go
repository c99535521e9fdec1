package cli

import (
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func (c *CLI) newNetworkRemoveCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm NETWORK [NETWORK...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more networks",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runNetworkRemove(cmd, args, force)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Do not error if the network does not exist")
	return cmd
}

// runNetworkRemove removes the networks one after the other, as docker
// does: each name removed is printed on stdout, each failure on stderr as it
// happens, and any failure makes the exit status 1, docker 28 then ending
// with the line "exit status 1". With --force a network that does not exist
// is no failure (and is not printed).
func (c *CLI) runNetworkRemove(cmd *cobra.Command, names []string, force bool) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	failed := false
	for _, name := range names {
		_, err := cl.NetworkRemove(cmd.Context(), name, client.NetworkRemoveOptions{})
		switch {
		case err == nil:
			fmt.Fprintln(cmd.OutOrStdout(), name)
		case client.IsErrConnectionFailed(err):
			return err
		case force && cerrdefs.IsNotFound(err):
		default:
			fmt.Fprintln(cmd.ErrOrStderr(), err)
			failed = true
		}
	}
	if failed {
		return statusError{code: 1, msg: "exit status 1"}
	}
	return nil
}
