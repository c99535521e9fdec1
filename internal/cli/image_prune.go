package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// imagePruneOptions are the flags of `berth image prune`.
type imagePruneOptions struct {
	All     bool
	Force   bool
	Filters filterFlag
}

// docker's questions before a prune.
const (
	pruneDanglingWarning = "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
	pruneAllWarning      = "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
)

func (c *CLI) newImagePruneCommand() *cobra.Command {
	var opts imagePruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused images",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runImagePrune(cmd, opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.All, "all", "a", false, "Remove all unused images, not just dangling ones")
	flags.BoolVarP(&opts.Force, "force", "f", false, "Do not prompt for confirmation")
	flags.Var(&opts.Filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// runImagePrune asks first (unless --force: an answer other than y or Y
// cancels, exit 1), then prunes dangling images (all unused with --all) and
// prints what went and the space reclaimed.
func (c *CLI) runImagePrune(cmd *cobra.Command, opts imagePruneOptions) error {
	filters := opts.Filters.filters.Clone()
	if filters == nil {
		filters = client.Filters{}
	}
	filters.Add("dangling", strconv.FormatBool(!opts.All))
	out := cmd.OutOrStdout()
	if !opts.Force {
		warning := pruneDanglingWarning
		if opts.All {
			warning = pruneAllWarning
		}
		if !confirm(cmd.InOrStdin(), out, warning) {
			return errors.New("image prune has been cancelled")
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImagePrune(cmd.Context(), client.ImagePruneOptions{Filters: filters})
	if err != nil {
		return err
	}
	var reclaimed uint64
	if len(res.Report.ImagesDeleted) > 0 {
		var b strings.Builder
		b.WriteString("Deleted Images:\n")
		for _, d := range res.Report.ImagesDeleted {
			if d.Untagged != "" {
				b.WriteString("untagged: " + d.Untagged + "\n")
			} else {
				b.WriteString("deleted: " + d.Deleted + "\n")
			}
		}
		fmt.Fprintln(out, b.String())
		reclaimed = res.Report.SpaceReclaimed
	}
	fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
	return nil
}

// confirm asks question with " [y/N] " and reads one line of in: only y or
// Y is a yes.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprint(out, question+" [y/N] ")
	sc := bufio.NewScanner(in)
	if !sc.Scan() {
		return false
	}
	return strings.EqualFold(strings.TrimSpace(sc.Text()), "y")
}
