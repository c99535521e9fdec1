package cli

import (
	"fmt"
	"io"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// pushOptions are the flags of `berth push`.
type pushOptions struct {
	Ref   string
	Quiet bool
}

func (c *CLI) newPushCommand() *cobra.Command {
	var opts pushOptions
	cmd := &cobra.Command{
		Use:   "push [OPTIONS] NAME[:TAG]",
		Short: "Upload an image to a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			return c.runPush(cmd, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress verbose output")
	return cmd
}

// runPush pushes one tag, showing the daemon's progress; quiet, it prints
// only the reference pushed.
func (c *CLI) runPush(cmd *cobra.Command, opts pushOptions) error {
	ref, err := reference.ParseNormalizedNamed(opts.Ref)
	if err != nil {
		return err
	}
	if _, ok := ref.(reference.Digested); ok {
		return fmt.Errorf("cannot push a digest reference")
	}
	out := cmd.OutOrStdout()
	if reference.IsNameOnly(ref) {
		ref = reference.TagNameOnly(ref)
		if t, ok := ref.(reference.Tagged); ok && !opts.Quiet {
			fmt.Fprintf(out, "Using default tag: %s\n", t.Tag())
		}
	}
	auth, err := c.registryAuth(ref)
	if err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	resp, err := cl.ImagePush(cmd.Context(), reference.FamiliarString(ref), client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		return err
	}
	defer resp.Close()
	if !opts.Quiet {
		return newProgressDisplay(out).Stream(resp)
	}
	if err := newProgressDisplay(io.Discard).Stream(resp); err != nil {
		return err
	}
	fmt.Fprintln(out, ref.String())
	return nil
}
