package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// psOptions are the flags of `ps` (`container ls`).
type psOptions struct {
	Quiet, Size, All, NoTrunc, Latest bool
	Last                              int
	Format                            string
	Filters                           filterFlag
}

// docker's layouts of `ps`.
const (
	psTableFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
	psRawFormat   = "container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\ncreated_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\nstatus: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\nports: {{- pad .Ports 1 0}}\n"
)

// tableHeader is the value a table's header row is rendered from: a column
// title per field, and Label for {{.Label "name"}} columns (the name's last
// dotted part).
type tableHeader map[string]string

// Label is the title of a {{.Label "com.example.tier"}} column ("tier").
func (tableHeader) Label(name string) string {
	n := strings.Split(name, ".")
	return strings.NewReplacer("-", " ", "_", " ").Replace(n[len(n)-1])
}

// renderRows renders rows with format under header, a tableHeader so that
// {{.Label "x"}} columns have a title.
func renderRows[T any](w io.Writer, name, f string, header tableHeader, rows []T) error {
	l, err := format.NewList(w, name, f, header)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := l.Add(r); err != nil {
			return err
		}
	}
	return l.Flush()
}

var psHeader = tableHeader{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
	"Platform": "PLATFORM",
}

// psRow is one line of `ps`: what --format templates see. The fields are
// in alphabetical order, so json prints them in docker's order.
type psRow struct {
	Command      string
	CreatedAt    string
	ID           string
	Image        string
	Labels       string
	LocalVolumes string
	Mounts       string
	Names        string
	Networks     string
	Platform     *platformValue
	Ports        string
	RunningFor   string
	Size         string
	State        string
	Status       string

	labels map[string]string
}

// Label is the value of one of the container's labels.
func (r psRow) Label(name string) string { return r.labels[name] }

// MarshalJSON escapes <, > and & ("0.0.0.0:80-\u003e80/tcp"), as docker's
// --format json does.
func (r psRow) MarshalJSON() ([]byte, error) {
	type plain psRow
	return json.Marshal(plain(r))
}

// platformValue prints as os/arch[/variant] in a template, and as the
// platform's object in JSON.
type platformValue struct{ ocispec.Platform }

func (p platformValue) String() string {
	return path.Join(p.OS, p.Architecture, p.Variant)
}

func (c *CLI) newPsCommand() *cobra.Command {
	o := psOptions{Last: -1}
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runPs(cmd, o)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.Quiet, "quiet", "q", false, "Only display container IDs")
	flags.BoolVarP(&o.Size, "size", "s", false, "Display total file sizes")
	flags.BoolVarP(&o.All, "all", "a", false, "Show all containers (default shows just running)")
	flags.BoolVar(&o.NoTrunc, "no-trunc", false, "Don't truncate output")
	flags.BoolVarP(&o.Latest, "latest", "l", false, "Show the latest created container (includes all states)")
	flags.IntVarP(&o.Last, "last", "n", -1, "Show n last created containers (includes all states)")
	flags.StringVar(&o.Format, "format", "", formatHelp)
	flags.VarP(&o.Filters, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func (c *CLI) runPs(cmd *cobra.Command, o psOptions) error {
	if o.Format != "" && o.Quiet {
		fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: Ignoring custom format, because both --format and --quiet are set.")
	}
	list := client.ContainerListOptions{All: o.All, Limit: o.Last, Size: o.Size, Filters: o.Filters.filters}
	if o.Latest && o.Last == -1 {
		list.Limit = 1
	}
	// A template that shows .Size asks for the sizes, unless -s said otherwise.
	if o.Format != "" && !o.Quiet && !cmd.Flags().Changed("size") && strings.Contains(o.Format, ".Size") {
		list.Size = true
	}
	f := psFormat(o.Format, o.Quiet, list.Size)
	if _, err := format.New("ps", f); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerList(cmd.Context(), list)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]psRow, 0, len(res.Items))
	for _, ctr := range res.Items {
		rows = append(rows, newPsRow(ctr, !o.NoTrunc, now))
	}
	return renderRows(cmd.OutOrStdout(), "ps", f, psHeader, rows)
}

// psFormat is the layout docker chooses for the flags.
func psFormat(f string, quiet, size bool) string {
	switch f {
	case "", format.TableKey:
		if quiet {
			return quietFormat
		}
		if size {
			return psTableFormat + `\t{{.Size}}`
		}
		return psTableFormat
	case "raw":
		if quiet {
			return "container_id: {{.ID}}"
		}
		if size {
			return psRawFormat + "size: {{.Size}}\n"
		}
		return psRawFormat
	}
	if quiet {
		return quietFormat
	}
	return f
}

// newPsRow renders one container as docker's ps does: the ID and the image
// digest truncated, the command quoted and cut at 20 characters, only the
// container's own name (not the names links give it) unless trunc is off.
func newPsRow(ctr container.Summary, trunc bool, now time.Time) psRow {
	r := psRow{
		ID:           ctr.ID,
		Image:        psImage(ctr, trunc),
		Command:      ctr.Command,
		CreatedAt:    time.Unix(ctr.Created, 0).String(),
		RunningFor:   units.HumanDuration(now.UTC().Sub(time.Unix(ctr.Created, 0))) + " ago",
		Ports:        displayPorts(ctr.Ports),
		State:        string(ctr.State),
		Status:       ctr.Status,
		Size:         units.HumanSizeWithPrecision(float64(ctr.SizeRw), 3),
		LocalVolumes: "0",
		labels:       ctr.Labels,
	}
	if trunc {
		r.ID = shortID(ctr.ID)
		r.Command = ellipsis(ctr.Command, 20)
	}
	r.Command = strconv.Quote(r.Command)
	if ctr.SizeRootFs > 0 {
		r.Size += " (virtual " + units.HumanSizeWithPrecision(float64(ctr.SizeRootFs), 3) + ")"
	}
	var names []string
	for _, n := range ctr.Names {
		names = append(names, strings.TrimPrefix(n, "/"))
	}
	if trunc {
		for _, n := range names {
			if !strings.Contains(n, "/") {
				names = []string{n}
				break
			}
		}
	}
	r.Names = strings.Join(names, ",")
	var labels []string
	for k, v := range ctr.Labels {
		labels = append(labels, k+"="+v)
	}
	slices.Sort(labels)
	r.Labels = strings.Join(labels, ",")
	var mounts []string
	local := 0
	for _, m := range ctr.Mounts {
		name := m.Name
		if name == "" {
			name = m.Source
		}
		if trunc {
			name = ellipsis(name, 15)
		}
		mounts = append(mounts, name)
		if m.Driver == "local" {
			local++
		}
	}
	r.Mounts = strings.Join(mounts, ",")
	r.LocalVolumes = strconv.Itoa(local)
	if ctr.NetworkSettings != nil {
		r.Networks = strings.Join(sortedKeys(ctr.NetworkSettings.Networks), ",")
	}
	if d := ctr.ImageManifestDescriptor; d != nil && d.Platform != nil {
		r.Platform = &platformValue{*d.Platform}
	}
	return r
}

// psImage is the IMAGE column: "<no image>", the short image ID when the
// container was made from an ID, or the reference without its digest.
func psImage(ctr container.Summary, trunc bool) string {
	if ctr.Image == "" {
		return "<no image>"
	}
	if !trunc {
		return ctr.Image
	}
	if id := shortID(ctr.ImageID); id == shortID(ctr.Image) {
		return id
	}
	ref, err := reference.ParseNormalizedNamed(ctr.Image)
	if err != nil {
		return ctr.Image
	}
	if t, ok := ref.(reference.NamedTagged); ok {
		if nt, err := reference.WithTag(reference.TrimNamed(t), t.Tag()); err == nil {
			return reference.FamiliarString(nt)
		}
	}
	return reference.FamiliarString(reference.TrimNamed(ref))
}

// displayPorts is the PORTS column: "0.0.0.0:8080->80/tcp, 443/tcp", runs
// of consecutive ports folded into ranges, as docker shows them.
func displayPorts(ports []container.PortSummary) string {
	type group struct{ first, last uint16 }
	sorted := slices.Clone(ports)
	slices.SortFunc(sorted, func(a, b container.PortSummary) int {
		switch {
		case a.PrivatePort != b.PrivatePort:
			return int(a.PrivatePort) - int(b.PrivatePort)
		case a.IP != b.IP:
			return a.IP.Compare(b.IP)
		case a.PublicPort != b.PublicPort:
			return int(a.PublicPort) - int(b.PublicPort)
		}
		return strings.Compare(a.Type, b.Type)
	})
	groups := map[string]*group{}
	var order, result, mappings []string
	for _, p := range sorted {
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != p.PrivatePort {
				host := net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort)))
				mappings = append(mappings, fmt.Sprintf("%s->%d/%s", host, p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		g := groups[key]
		if g == nil {
			groups[key] = &group{p.PrivatePort, p.PrivatePort}
			order = append(order, key)
			continue
		}
		if p.PrivatePort == g.last+1 {
			g.last = p.PrivatePort
			continue
		}
		result = append(result, formatPortGroup(key, g.first, g.last))
		groups[key] = &group{p.PrivatePort, p.PrivatePort}
	}
	for _, key := range order {
		g := groups[key]
		result = append(result, formatPortGroup(key, g.first, g.last))
	}
	return strings.Join(append(result, mappings...), ", ")
}

func formatPortGroup(key string, first, last uint16) string {
	ip, proto, hasIP := strings.Cut(key, "/")
	if !hasIP {
		ip, proto = "", key
	}
	if i := strings.LastIndex(key, "/"); hasIP && i >= 0 {
		ip, proto = key[:i], key[i+1:]
	}
	ports := strconv.Itoa(int(first))
	if first != last {
		ports += "-" + strconv.Itoa(int(last))
	}
	if ip != "" {
		ports = net.JoinHostPort(ip, ports) + "->" + ports
	}
	return ports + "/" + proto
}
