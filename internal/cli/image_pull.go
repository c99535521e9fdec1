package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

// pullOptions are the flags of `berth pull`.
type pullOptions struct {
	Ref      string
	Quiet    bool
	Platform string
}

func (c *CLI) newPullCommand() *cobra.Command {
	var opts pullOptions
	cmd := &cobra.Command{
		Use:   "pull [OPTIONS] NAME[:TAG|@DIGEST]",
		Short: "Download an image from a registry",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			return c.runPull(cmd, opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress verbose output")
	flags.StringVar(&opts.Platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// runPull pulls one reference, showing the daemon's progress, and ends with
// the reference in full ("docker.io/library/busybox:latest"), as docker does.
func (c *CLI) runPull(cmd *cobra.Command, opts pullOptions) error {
	ref, err := reference.ParseNormalizedNamed(opts.Ref)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if reference.IsNameOnly(ref) {
		ref = reference.TagNameOnly(ref)
		if t, ok := ref.(reference.Tagged); ok && !opts.Quiet {
			fmt.Fprintln(out, "Using default tag:", t.Tag())
		}
	}
	pullOpts := client.ImagePullOptions{}
	if opts.Platform != "" {
		p, err := parsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		pullOpts.Platforms = []ocispec.Platform{p}
	}
	if pullOpts.RegistryAuth, err = c.registryAuth(ref); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	resp, err := cl.ImagePull(cmd.Context(), reference.FamiliarString(ref), pullOpts)
	if err != nil {
		return err
	}
	defer resp.Close()
	display := io.Writer(out)
	if opts.Quiet {
		display = io.Discard
	}
	if err := newProgressDisplay(display).Stream(resp); err != nil {
		return err
	}
	fmt.Fprintln(out, ref.String())
	return nil
}

// parsePlatform reads os[/arch[/variant]] ("linux/arm64/v8").
func parsePlatform(s string) (ocispec.Platform, error) {
	parts := strings.Split(strings.ToLower(s), "/")
	if len(parts) > 3 || slicesContainsEmpty(parts) {
		return ocispec.Platform{}, fmt.Errorf("invalid platform %q: expected os[/arch[/variant]]", s)
	}
	p := ocispec.Platform{OS: parts[0]}
	if len(parts) > 1 {
		p.Architecture = parts[1]
	}
	if len(parts) > 2 {
		p.Variant = parts[2]
	}
	return p, nil
}

func slicesContainsEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}
