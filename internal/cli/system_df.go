package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// diskUsageOptions are the flags of `berth system df`.
type diskUsageOptions struct {
	Verbose bool
	Format  string
}

// The default layouts of `system df`, as docker's.
const (
	dfSummaryFormat    = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
	dfImagesFormat     = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
	dfContainersFormat = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"
	dfVolumesFormat    = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
	dfBuildCacheFormat = "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}"
)

// dfSummaryRow is one line of the summary; its fields are in alphabetical
// order so that `--format json` prints them in docker's order.
type dfSummaryRow struct {
	Active      string
	Reclaimable string
	Size        string
	TotalCount  string
	Type        string
}

var dfSummaryHeader = map[string]string{
	"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE",
}

type dfImageRow struct {
	Containers   string
	CreatedSince string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
}

type dfContainerRow struct {
	Command      string
	ID           string
	Image        string
	LocalVolumes string
	Names        string
	RunningFor   string
	Size         string
	Status       string
}

type dfVolumeRow struct {
	Links string
	Name  string
	Size  string
}

type dfBuildCacheRow struct {
	CacheType     string
	CreatedSince  string
	ID            string
	LastUsedSince string
	Shared        string
	Size          string
	UsageCount    string
}

// dfVerbose is what `system df -v --format` templates see.
type dfVerbose struct {
	Images     []dfImageRow
	Containers []dfContainerRow
	Volumes    []dfVolumeRow
	BuildCache []dfBuildCacheRow
}

var (
	dfImagesHeader = map[string]string{"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
		"Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}
	dfContainersHeader = map[string]string{"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "LocalVolumes": "LOCAL VOLUMES",
		"Size": "SIZE", "RunningFor": "CREATED", "Status": "STATUS", "Names": "NAMES"}
	dfVolumesHeader    = map[string]string{"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
	dfBuildCacheHeader = map[string]string{"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
		"LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"}
)

func (c *CLI) newDiskUsageCommand() *cobra.Command {
	var opts diskUsageOptions
	cmd := &cobra.Command{
		Use:   "df [OPTIONS]",
		Short: "Show berth disk usage",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runDiskUsage(cmd, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "Show detailed information on space usage")
	cmd.Flags().StringVar(&opts.Format, "format", "", formatHelp)
	return cmd
}

func (c *CLI) runDiskUsage(cmd *cobra.Command, opts diskUsageOptions) error {
	if opts.Format != "" { // a broken template fails before the daemon is asked
		if _, err := format.New("df", opts.Format); err != nil {
			return err
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	du, err := cl.DiskUsage(cmd.Context(), client.DiskUsageOptions{
		Containers: true, Images: true, Volumes: true, BuildCache: true, Verbose: opts.Verbose,
	})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	now := time.Now()
	if !opts.Verbose {
		return renderList(out, "df", orDash(opts.Format, dfSummaryFormat), dfSummaryHeader, dfSummary(du))
	}
	v := dfVerboseRows(du, now)
	if opts.Format != "" && !format.IsTable(opts.Format) {
		return format.Execute(out, "df", opts.Format, v)
	}
	fmt.Fprint(out, "Images space usage:\n\n")
	if err := renderList(out, "df", dfImagesFormat, dfImagesHeader, v.Images); err != nil {
		return err
	}
	fmt.Fprint(out, "\nContainers space usage:\n\n")
	if err := renderList(out, "df", dfContainersFormat, dfContainersHeader, v.Containers); err != nil {
		return err
	}
	fmt.Fprint(out, "\nLocal Volumes space usage:\n\n")
	if err := renderList(out, "df", dfVolumesFormat, dfVolumesHeader, v.Volumes); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nBuild cache usage: %s\n\n", units.HumanSize(float64(du.BuildCache.TotalSize)))
	return renderList(out, "df", dfBuildCacheFormat, dfBuildCacheHeader, v.BuildCache)
}

// renderList renders rows with format under header.
func renderList[T any](w io.Writer, name, f string, header map[string]string, rows []T) error {
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

// dfSummary is one row per object type: how many, how many in use, their
// size and how much of it a prune would free ("1.2GB (50%)").
func dfSummary(du client.DiskUsageResult) []dfSummaryRow {
	row := func(typ string, total, active, size, reclaimable int64) dfSummaryRow {
		r := units.HumanSize(float64(reclaimable))
		if size > 0 {
			r = fmt.Sprintf("%s (%d%%)", r, reclaimable*100/size)
		}
		return dfSummaryRow{Type: typ, TotalCount: fmt.Sprint(total), Active: fmt.Sprint(active),
			Size: units.HumanSize(float64(size)), Reclaimable: r}
	}
	return []dfSummaryRow{
		row("Images", du.Images.TotalCount, du.Images.ActiveCount, du.Images.TotalSize, du.Images.Reclaimable),
		row("Containers", du.Containers.TotalCount, du.Containers.ActiveCount, du.Containers.TotalSize, du.Containers.Reclaimable),
		row("Local Volumes", du.Volumes.TotalCount, du.Volumes.ActiveCount, du.Volumes.TotalSize, du.Volumes.Reclaimable),
		row("Build Cache", du.BuildCache.TotalCount, du.BuildCache.ActiveCount, du.BuildCache.TotalSize, du.BuildCache.Reclaimable),
	}
}

// dfVerboseRows turns the daemon's item lists into docker's -v columns.
func dfVerboseRows(du client.DiskUsageResult, now time.Time) dfVerbose {
	v := dfVerbose{Images: []dfImageRow{}, Containers: []dfContainerRow{}, Volumes: []dfVolumeRow{}, BuildCache: []dfBuildCacheRow{}}
	for _, img := range du.Images.Items {
		base := dfImageRow{
			ID:           shortID(img.ID),
			CreatedSince: ago(now, time.Unix(img.Created, 0)),
			Size:         units.HumanSize(float64(img.Size)),
			SharedSize:   "N/A",
			UniqueSize:   "N/A",
			Containers:   fmt.Sprint(img.Containers),
		}
		if img.SharedSize >= 0 {
			base.SharedSize = units.HumanSize(float64(img.SharedSize))
			base.UniqueSize = units.HumanSize(float64(img.Size - img.SharedSize))
		}
		if img.Containers < 0 {
			base.Containers = "N/A"
		}
		if len(img.RepoTags) == 0 {
			base.Repository, base.Tag = "<none>", "<none>"
			v.Images = append(v.Images, base)
		}
		for _, rt := range img.RepoTags {
			r := base
			r.Repository, r.Tag = "<none>", "<none>"
			if i := strings.LastIndex(rt, ":"); i > 0 && !strings.Contains(rt[i:], "/") {
				r.Repository, r.Tag = rt[:i], rt[i+1:]
			}
			v.Images = append(v.Images, r)
		}
	}
	for _, ctr := range du.Containers.Items {
		vols := 0
		for _, m := range ctr.Mounts {
			if m.Type == "volume" {
				vols++
			}
		}
		name := ""
		if len(ctr.Names) > 0 {
			name = strings.TrimPrefix(ctr.Names[0], "/")
		}
		v.Containers = append(v.Containers, dfContainerRow{
			ID:           shortID(ctr.ID),
			Image:        ctr.Image,
			Command:      `"` + ellipsis(ctr.Command, 20) + `"`,
			LocalVolumes: fmt.Sprint(vols),
			Size:         units.HumanSize(float64(ctr.SizeRw)),
			RunningFor:   ago(now, time.Unix(ctr.Created, 0)),
			Status:       ctr.Status,
			Names:        name,
		})
	}
	for _, vol := range du.Volumes.Items {
		r := dfVolumeRow{Name: vol.Name, Links: "N/A", Size: "N/A"}
		if u := vol.UsageData; u != nil {
			r.Links = fmt.Sprint(u.RefCount)
			if u.Size >= 0 {
				r.Size = units.HumanSize(float64(u.Size))
			}
		}
		v.Volumes = append(v.Volumes, r)
	}
	for _, bc := range du.BuildCache.Items {
		v.BuildCache = append(v.BuildCache, dfBuildCacheRow{
			ID:            shortID(bc.ID),
			CacheType:     bc.Type,
			Size:          units.HumanSize(float64(bc.Size)),
			CreatedSince:  ago(now, bc.CreatedAt),
			LastUsedSince: agoPtr(now, bc.LastUsedAt),
			UsageCount:    fmt.Sprint(bc.UsageCount),
			Shared:        fmt.Sprint(bc.Shared),
		})
	}
	return v
}

// shortID is the first 12 hex digits of an ID, without its algorithm.
func shortID(id string) string {
	if _, hex, ok := strings.Cut(id, ":"); ok {
		id = hex
	}
	return truncateString(id, 12)
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ellipsis shortens s to n characters, the last one "…" when cut.
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ago is docker's "2 hours ago".
func ago(now, t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return "N/A"
	}
	return units.HumanDuration(now.Sub(t)) + " ago"
}

func agoPtr(now time.Time, t *time.Time) string {
	if t == nil {
		return ""
	}
	return ago(now, *t)
}
