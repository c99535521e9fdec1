package cli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// imagesOptions are the flags of `berth images` (`berth image ls`).
type imagesOptions struct {
	Reference string // the optional REPOSITORY[:TAG] argument
	All       bool
	Quiet     bool
	Digests   bool
	NoTrunc   bool
	Filters   filterFlag
	Format    string
}

// docker's layouts of `images`.
const (
	imagesTableFormat        = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	imagesDigestsTableFormat = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	quietFormat              = "{{.ID}}"
)

var imagesHeader = map[string]string{
	"Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "ID": "IMAGE ID",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
	"VirtualSize": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}

// imageRow is one line of `images`: one repository and tag of an image.
// Its fields are what --format templates see; json prints them in
// alphabetical order, as docker does.
type imageRow struct {
	Containers   string
	CreatedAt    string
	CreatedSince string
	Digest       string
	ID           string
	Repository   string
	SharedSize   string
	Size         string
	Tag          string
	UniqueSize   string
	VirtualSize  string
}

// MarshalJSON escapes <, > and & as docker's images --format json does
// ("\u003cnone\u003e").
func (r imageRow) MarshalJSON() ([]byte, error) {
	type plain imageRow
	return json.Marshal(plain(r))
}

func (c *CLI) newImagesCommand() *cobra.Command {
	var opts imagesOptions
	cmd := &cobra.Command{
		Use:   "images [OPTIONS] [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Reference = args[0]
			}
			return c.runImages(cmd, opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.All, "all", "a", false, "Show all images (default hides intermediate images)")
	flags.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only show image IDs")
	flags.BoolVar(&opts.Digests, "digests", false, "Show digests")
	flags.BoolVar(&opts.NoTrunc, "no-trunc", false, "Don't truncate output")
	flags.VarP(&opts.Filters, "filter", "f", "Filter output based on conditions provided")
	flags.StringVar(&opts.Format, "format", "", formatHelp)
	return cmd
}

// formatHelp describes --format for the listing verbs.
const formatHelp = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template"

func (c *CLI) runImages(cmd *cobra.Command, opts imagesOptions) error {
	f := imagesFormat(opts)
	if _, err := format.New("images", f); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	filters := opts.Filters.filters.Clone()
	if opts.Reference != "" {
		filters.Add("reference", opts.Reference)
	}
	res, err := cl.ImageList(cmd.Context(), client.ImageListOptions{All: opts.All, Filters: filters})
	if err != nil {
		return err
	}
	// docker fills Digest when asked to show it, and always for json.
	digests := opts.Digests || strings.Contains(f, "{{.Digest}}") || format.IsJSON(f)
	var rows []imageRow
	now := time.Now()
	for _, img := range res.Items {
		rows = append(rows, imageRows(img, !opts.NoTrunc, digests, now)...)
	}
	return renderList(cmd.OutOrStdout(), "images", f, imagesHeader, rows)
}

// imagesFormat is the layout opts ask for, as docker chooses it.
func imagesFormat(opts imagesOptions) string {
	f := opts.Format
	if f == "" || f == format.TableKey {
		switch {
		case opts.Quiet:
			return quietFormat
		case opts.Digests:
			return imagesDigestsTableFormat
		}
		return imagesTableFormat
	}
	if format.IsTable(f) && opts.Digests && !strings.Contains(f, "{{.Digest}}") {
		f += `\t{{.Digest}}`
	}
	return f
}

// imageRows are the lines of one image: one per repository and tag (by
// repository name, then in the daemon's order of tags), one per digest of
// each with --digests, a "<none>" line for a repository known only by
// digest, and a single "<none> <none>" line for a dangling image.
func imageRows(img image.Summary, trunc, digests bool, now time.Time) []imageRow {
	base := imageRow{
		ID:           img.ID,
		CreatedAt:    time.Unix(img.Created, 0).String(),
		CreatedSince: units.HumanDuration(now.UTC().Sub(time.Unix(img.Created, 0))) + " ago",
		Size:         units.HumanSizeWithPrecision(float64(img.Size), 3),
		VirtualSize:  units.HumanSize(float64(img.Size)),
		Containers:   "N/A",
		SharedSize:   "N/A",
		UniqueSize:   "N/A",
	}
	if trunc {
		base.ID = shortID(img.ID)
	}
	if img.Containers != -1 {
		base.Containers = fmt.Sprint(img.Containers)
	}
	if img.SharedSize != -1 {
		base.SharedSize = units.HumanSizeWithPrecision(float64(img.SharedSize), 3)
		if img.Size != -1 {
			base.UniqueSize = units.HumanSizeWithPrecision(float64(img.Size-img.SharedSize), 3)
		}
	}
	row := func(repo, tag, digest string) imageRow {
		r := base
		r.Repository, r.Tag, r.Digest = repo, tag, digest
		return r
	}
	if dangling(img) {
		return []imageRow{row("<none>", "<none>", "<none>")}
	}
	tags := map[string][]string{}
	byDigest := map[string][]string{}
	for _, s := range img.RepoTags {
		if ref, err := reference.ParseNormalizedNamed(s); err == nil {
			if t, ok := ref.(reference.NamedTagged); ok {
				name := reference.FamiliarName(ref)
				tags[name] = append(tags[name], t.Tag())
			}
		}
	}
	for _, s := range img.RepoDigests {
		if ref, err := reference.ParseNormalizedNamed(s); err == nil {
			if c, ok := ref.(reference.Canonical); ok {
				name := reference.FamiliarName(ref)
				byDigest[name] = append(byDigest[name], c.Digest().String())
			}
		}
	}
	var rows []imageRow
	for _, repo := range sortedKeys(tags) {
		ds := byDigest[repo]
		delete(byDigest, repo)
		for _, tag := range tags[repo] {
			switch {
			case !digests:
				rows = append(rows, row(repo, tag, ""))
			case len(ds) == 0:
				rows = append(rows, row(repo, tag, "<none>"))
			default:
				for _, d := range ds {
					rows = append(rows, row(repo, tag, d))
				}
			}
		}
	}
	for _, repo := range sortedKeys(byDigest) {
		if !digests {
			rows = append(rows, row(repo, "<none>", ""))
			continue
		}
		for _, d := range byDigest[repo] {
			rows = append(rows, row(repo, "<none>", d))
		}
	}
	return rows
}

// dangling reports whether an image has neither tag nor digest.
func dangling(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" &&
		len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
