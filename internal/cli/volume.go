package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
	"github.com/berth-engine/berth/internal/cli/opts"
)

// newVolumeCommand is the `volume` group: create, ls, inspect, rm, prune.
func (c *CLI) newVolumeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "volume COMMAND",
		Short: "Manage volumes",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	cmd.AddCommand(c.newVolumeCreateCommand(), c.newVolumeListCommand(), c.newVolumeInspectCommand(),
		c.newVolumeRemoveCommand(), c.newVolumePruneCommand())
	return cmd
}

// volumeCreateOptions are the flags of `volume create`.
type volumeCreateOptions struct {
	Name, Driver string
	DriverOpts   *opts.Map
	Labels       *opts.List
}

func (c *CLI) newVolumeCreateCommand() *cobra.Command {
	o := volumeCreateOptions{DriverOpts: opts.NewMap(nil), Labels: opts.NewList(opts.ValidateLabel)}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  requiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.Name != "" {
					return errors.New("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
				}
				o.Name = args[0]
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.VolumeCreate(cmd.Context(), client.VolumeCreateOptions{
				Name: o.Name, Driver: o.Driver, DriverOpts: o.DriverOpts.Values(), Labels: opts.KVMap(o.Labels.Values()),
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Volume.Name)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.Driver, "driver", "d", "local", "Specify volume driver name")
	flags.StringVar(&o.Name, "name", "", "Specify volume name")
	flags.MarkHidden("name")
	flags.VarP(o.DriverOpts, "opt", "o", "Set driver specific options")
	flags.Var(o.Labels, "label", "Set metadata for a volume")
	return cmd
}

// volumeListOptions are the flags of `volume ls`.
type volumeListOptions struct {
	Quiet   bool
	Format  string
	Filters filterFlag
}

const volumeTableFormat = "table {{.Driver}}\t{{.Name}}"

var volumeHeader = tableHeader{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
	"Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS",
}

// volumeRow is one line of `volume ls` (fields in alphabetical order, for
// json).
type volumeRow struct {
	Availability string
	Driver       string
	Group        string
	Labels       string
	Links        string
	Mountpoint   string
	Name         string
	Scope        string
	Size         string
	Status       string

	labels map[string]string
}

// Label is the value of one of the volume's labels.
func (r volumeRow) Label(name string) string { return r.labels[name] }

// MarshalJSON escapes <, > and &, as docker's --format json does.
func (r volumeRow) MarshalJSON() ([]byte, error) {
	type plain volumeRow
	return json.Marshal(plain(r))
}

func newVolumeRow(v volume.Volume) volumeRow {
	r := volumeRow{Name: v.Name, Driver: v.Driver, Scope: v.Scope, Mountpoint: v.Mountpoint, Links: "N/A", Size: "N/A", labels: v.Labels}
	var labels []string
	for k, val := range v.Labels {
		labels = append(labels, k+"="+val)
	}
	slices.Sort(labels)
	r.Labels = strings.Join(labels, ",")
	if u := v.UsageData; u != nil {
		if u.RefCount != -1 {
			r.Links = fmt.Sprint(u.RefCount)
		}
		if u.Size != -1 {
			r.Size = units.HumanSize(float64(u.Size))
		}
	}
	return r
}

func (c *CLI) newVolumeListCommand() *cobra.Command {
	var o volumeListOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := o.Format
			switch {
			case (f == "" || f == format.TableKey) && o.Quiet:
				f = "{{.Name}}"
			case f == "" || f == format.TableKey:
				f = volumeTableFormat
			}
			if _, err := format.New("volumes", f); err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.VolumeList(cmd.Context(), client.VolumeListOptions{Filters: o.Filters.filters})
			if err != nil {
				return err
			}
			vols := slices.Clone(res.Items)
			slices.SortFunc(vols, func(a, b volume.Volume) int { return naturalCompare(a.Name, b.Name) })
			rows := make([]volumeRow, len(vols))
			for i, v := range vols {
				rows[i] = newVolumeRow(v)
			}
			return renderRows(cmd.OutOrStdout(), "volumes", f, volumeHeader, rows)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Quiet, "quiet", "q", false, "Only display volume names")
	flags.StringVar(&o.Format, "format", "", formatHelp)
	flags.VarP(&o.Filters, "filter", "f", `Provide filter values (e.g. "dangling=true")`)
	return cmd
}

func (c *CLI) newVolumeInspectCommand() *cobra.Command {
	var f string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Display detailed information on one or more volumes",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.inspectObjects(cmd, args, f, c.volumeInspector())
		},
	}
	cmd.Flags().StringVarP(&f, "format", "f", "", inspectFormatHelp)
	return cmd
}

func (c *CLI) newVolumeRemoveCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove one or more volumes",
		Long:    "Remove one or more volumes. You cannot remove a volume that is in use by a container.",
		Args:    requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			errs := make([]error, len(args))
			for i, name := range args {
				_, errs[i] = cl.VolumeRemove(cmd.Context(), name, client.VolumeRemoveOptions{Force: force})
			}
			return reportEach(cmd, args, errs)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

// volumePruneOptions are the flags of `volume prune`.
type volumePruneOptions struct {
	All, Force bool
	Filters    filterFlag
}

func (c *CLI) newVolumePruneCommand() *cobra.Command {
	var o volumePruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused local volumes",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			filters := o.Filters.filters.Clone()
			warning := "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?"
			if o.All {
				if _, ok := filters["all"]; ok {
					return errors.New("conflicting options: cannot specify both --all and --filter all=1")
				}
				filters.Add("all", "true")
				warning = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?"
			}
			out := cmd.OutOrStdout()
			if !o.Force && !confirm(cmd.InOrStdin(), out, warning) {
				return errors.New("volume prune has been cancelled")
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			reclaimed, text, err := pruneVolumes(cmd.Context(), cl, filters)
			if err != nil {
				return err
			}
			if text != "" {
				fmt.Fprintln(out, text)
			}
			fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			return nil
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.All, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	flags.BoolVarP(&o.Force, "force", "f", false, "Do not prompt for confirmation")
	flags.Var(&o.Filters, "filter", `Provide filter values (e.g. "label=<label>")`)
	return cmd
}

// pruneVolumes removes the unused volumes the filters select and says which
// went.
func pruneVolumes(ctx context.Context, cl *client.Client, filters client.Filters) (uint64, string, error) {
	res, err := cl.VolumePrune(ctx, client.VolumePruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	if len(res.Report.VolumesDeleted) == 0 {
		return 0, "", nil
	}
	return res.Report.SpaceReclaimed, "Deleted Volumes:\n" + strings.Join(res.Report.VolumesDeleted, "\n") + "\n", nil
}
