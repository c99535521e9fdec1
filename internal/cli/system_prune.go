package cli

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// systemPruneOptions are the flags of `system prune`.
type systemPruneOptions struct {
	All, Force, Volumes bool
	Filters             filterFlag
}

func (c *CLI) newSystemPruneCommand() *cobra.Command {
	var o systemPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runSystemPrune(cmd, o)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Force, "force", "f", false, "Do not prompt for confirmation")
	flags.BoolVarP(&o.All, "all", "a", false, "Remove all unused images not just dangling ones")
	flags.BoolVar(&o.Volumes, "volumes", false, "Prune anonymous volumes")
	flags.Var(&o.Filters, "filter", `Provide filter values (e.g. "label=<key>=<value>")`)
	return cmd
}

// systemPruneWarning is docker's question before a system prune.
func systemPruneWarning(o systemPruneOptions) string {
	warnings := []string{"all stopped containers", "all networks not used by at least one container"}
	if o.Volumes {
		warnings = append(warnings, "all anonymous volumes not used by at least one container")
	}
	if o.All {
		warnings = append(warnings, "all images without at least one container associated to them", "all build cache")
	} else {
		warnings = append(warnings, "all dangling images", "unused build cache")
	}
	var b strings.Builder
	b.WriteString("WARNING! This will remove:")
	for _, w := range warnings {
		b.WriteString("\n  - " + w)
	}
	b.WriteString("\n")
	var filters []string
	for _, name := range []string{"label", "label!", "until"} {
		for v := range o.Filters.filters[name] {
			filters = append(filters, name+"="+v)
		}
	}
	if len(filters) > 0 {
		slices.SortFunc(filters, naturalCompare)
		b.WriteString("\n  Items to be pruned will be filtered with:")
		for _, f := range filters {
			b.WriteString("\n  - " + f)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nAre you sure you want to continue?")
	return b.String()
}

// runSystemPrune prunes, in docker's order, stopped containers, unused
// networks, (with --volumes) anonymous volumes, dangling (with -a unused)
// images and the build cache, printing what each removed and the total
// space reclaimed. A daemon without networks or a build cache to prune
// (the route is missing: 404) is skipped.
func (c *CLI) runSystemPrune(cmd *cobra.Command, o systemPruneOptions) error {
	filters := o.Filters.filters
	if _, ok := filters["until"]; ok && o.Volumes {
		return errors.New(`ERROR: The "until" filter is not supported with "--volumes"`)
	}
	out := cmd.OutOrStdout()
	if !o.Force && !confirm(cmd.InOrStdin(), out, systemPruneWarning(o)) {
		return errors.New("system prune has been cancelled")
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var total uint64
	report := func(space uint64, text string) {
		total += space
		if text != "" {
			fmt.Fprintln(out, text)
		}
	}

	space, text, err := pruneContainers(cmd, cl, filters)
	if err != nil {
		return err
	}
	report(space, text)

	nets, err := cl.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: filters})
	switch {
	case err == nil && len(nets.Report.NetworksDeleted) > 0:
		report(0, "Deleted Networks:\n"+strings.Join(nets.Report.NetworksDeleted, "\n")+"\n")
	case err != nil && !cerrdefs.IsNotFound(err):
		return err
	}

	if o.Volumes {
		space, text, err := pruneVolumes(ctx, cl, filters)
		if err != nil {
			return err
		}
		report(space, text)
	}

	imgFilters := filters.Clone()
	imgFilters.Add("dangling", strconv.FormatBool(!o.All))
	imgs, err := cl.ImagePrune(ctx, client.ImagePruneOptions{Filters: imgFilters})
	if err != nil {
		return err
	}
	if deleted := imgs.Report.ImagesDeleted; len(deleted) > 0 {
		var b strings.Builder
		b.WriteString("Deleted Images:\n")
		for _, d := range deleted {
			if d.Untagged != "" {
				b.WriteString("untagged: " + d.Untagged + "\n")
			} else {
				b.WriteString("deleted: " + d.Deleted + "\n")
			}
		}
		report(imgs.Report.SpaceReclaimed, b.String())
	}

	cache, err := cl.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: o.All, Filters: filters})
	switch {
	case err == nil && len(cache.Report.CachesDeleted) > 0:
		report(cache.Report.SpaceReclaimed, "Deleted build cache objects:\n"+strings.Join(cache.Report.CachesDeleted, "\n")+"\n")
	case err == nil:
		total += cache.Report.SpaceReclaimed
	case !cerrdefs.IsNotFound(err):
		return err
	}
	_, err = io.WriteString(out, "Total reclaimed space: "+units.HumanSize(float64(total))+"\n")
	return err
}
