package cli

import (
	"os"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// importOptions are the flags of `berth import`.
type importOptions struct {
	Source    string // a file, an http(s) URL the daemon fetches, or "-" for stdin
	Reference string
	Changes   []string
	Message   string
	Platform  string
}

func (c *CLI) newImportCommand() *cobra.Command {
	var opts importOptions
	cmd := &cobra.Command{
		Use:   "import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
		Short: "Import the contents from a tarball to create a filesystem image",
		Args:  rangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Source = args[0]
			if len(args) == 2 {
				opts.Reference = args[1]
			}
			return c.runImport(cmd, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringArrayVarP(&opts.Changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	flags.StringVarP(&opts.Message, "message", "m", "", "Set commit message for imported image")
	flags.StringVar(&opts.Platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

// runImport sends a root file system tarball and prints the new image's ID.
func (c *CLI) runImport(cmd *cobra.Command, opts importOptions) error {
	var src client.ImageImportSource
	switch {
	case opts.Source == "-":
		src = client.ImageImportSource{Source: cmd.InOrStdin(), SourceName: "-"}
	case strings.HasPrefix(opts.Source, "https://"), strings.HasPrefix(opts.Source, "http://"):
		src = client.ImageImportSource{SourceName: opts.Source}
	default:
		f, err := os.Open(opts.Source)
		if err != nil {
			return err
		}
		defer f.Close()
		src = client.ImageImportSource{Source: f, SourceName: "-"}
	}
	importOpts := client.ImageImportOptions{Message: opts.Message, Changes: opts.Changes}
	if opts.Platform != "" {
		p, err := parsePlatform(opts.Platform)
		if err != nil {
			return err
		}
		importOpts.Platform = p
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body, err := cl.ImageImport(cmd.Context(), src, opts.Reference, importOpts)
	if err != nil {
		return err
	}
	defer body.Close()
	return displayResponse(cmd.OutOrStdout(), body)
}
