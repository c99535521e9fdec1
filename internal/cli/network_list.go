package cli

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// networkListOptions are the flags of `network ls`.
type networkListOptions struct {
	Quiet, NoTrunc bool
	Format         string
	Filters        filterFlag
}

// docker's layouts of `network ls`.
const (
	networkTableFormat = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
	networkRawFormat   = "network_id: {{.ID}}\nname: {{.Name}}\ndriver: {{.Driver}}\nscope: {{.Scope}}\n"
)

var networkHeader = tableHeader{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6",
	"Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}

// networkRow is one line of `network ls`: what --format templates see. The
// fields are in alphabetical order, so json prints them in docker's order.
type networkRow struct {
	CreatedAt string
	Driver    string
	ID        string
	IPv4      string
	IPv6      string
	Internal  string
	Labels    string
	Name      string
	Scope     string

	labels map[string]string
}

// Label is the value of one of the network's labels.
func (r networkRow) Label(name string) string { return r.labels[name] }

// MarshalJSON escapes <, > and &, as docker's --format json does.
func (r networkRow) MarshalJSON() ([]byte, error) {
	type plain networkRow
	return json.Marshal(plain(r))
}

func newNetworkRow(n network.Summary, trunc bool) networkRow {
	r := networkRow{
		CreatedAt: n.Created.String(), Driver: n.Driver, ID: n.ID, Name: n.Name, Scope: n.Scope,
		IPv4: strconv.FormatBool(n.EnableIPv4), IPv6: strconv.FormatBool(n.EnableIPv6), Internal: strconv.FormatBool(n.Internal),
		labels: n.Labels,
	}
	if trunc {
		r.ID = shortID(n.ID)
	}
	var labels []string
	for _, k := range sortedKeys(n.Labels) {
		labels = append(labels, k+"="+n.Labels[k])
	}
	r.Labels = strings.Join(labels, ",")
	return r
}

// networkFormat is the layout docker chooses for the flags: -q only changes
// the default layouts, not a template of the user's.
func networkFormat(f string, quiet bool) string {
	switch f {
	case "", format.TableKey:
		if quiet {
			return quietFormat
		}
		return networkTableFormat
	case "raw":
		if quiet {
			return "network_id: {{.ID}}"
		}
		return networkRawFormat
	}
	return f
}

func (c *CLI) newNetworkListCommand() *cobra.Command {
	var o networkListOptions
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := networkFormat(o.Format, o.Quiet)
			if _, err := format.New("networks", f); err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.NetworkList(cmd.Context(), client.NetworkListOptions{Filters: o.Filters.filters})
			if err != nil {
				return err
			}
			nets := slices.Clone(res.Items)
			slices.SortFunc(nets, func(a, b network.Summary) int { return naturalCompare(a.Name, b.Name) })
			rows := make([]networkRow, len(nets))
			for i, n := range nets {
				rows[i] = newNetworkRow(n, !o.NoTrunc)
			}
			return renderRows(cmd.OutOrStdout(), "networks", f, networkHeader, rows)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Quiet, "quiet", "q", false, "Only display network IDs")
	flags.BoolVar(&o.NoTrunc, "no-trunc", false, "Do not truncate the output")
	flags.StringVar(&o.Format, "format", "", formatHelp)
	flags.VarP(&o.Filters, "filter", "f", `Provide filter values (e.g. "driver=bridge")`)
	return cmd
}
