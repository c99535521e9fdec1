package cli

import (
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// removeImagesOptions are the flags of `berth rmi` (`berth image rm`).
type removeImagesOptions struct {
	Images  []string
	Force   bool
	NoPrune bool
}

func (c *CLI) newRemoveImagesCommand() *cobra.Command {
	var opts removeImagesOptions
	cmd := &cobra.Command{
		Use:   "rmi [OPTIONS] IMAGE [IMAGE...]",
		Short: "Remove one or more images",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Images = args
			return c.runRemoveImages(cmd, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Force, "force", "f", false, "Force removal of the image")
	cmd.Flags().BoolVar(&opts.NoPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

// runRemoveImages removes each image in turn, printing what the daemon
// untagged and deleted; failures are reported together at the end (exit 1),
// except, with --force, images that do not exist.
func (c *CLI) runRemoveImages(cmd *cobra.Command, opts removeImagesOptions) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	var errs []error
	for _, name := range opts.Images {
		res, err := cl.ImageRemove(cmd.Context(), name, client.ImageRemoveOptions{Force: opts.Force, PruneChildren: !opts.NoPrune})
		if err != nil {
			if client.IsErrConnectionFailed(err) {
				return err
			}
			if !opts.Force || !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		for _, d := range res.Items {
			if d.Deleted != "" {
				fmt.Fprintf(out, "Deleted: %s\n", d.Deleted)
			} else {
				fmt.Fprintf(out, "Untagged: %s\n", d.Untagged)
			}
		}
	}
	return errors.Join(errs...)
}
