package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// historyOptions are the flags of `berth history`.
type historyOptions struct {
	Image   string
	Human   bool
	Quiet   bool
	NoTrunc bool
	Format  string
}

// docker's layouts of `history`.
const (
	historyTableFormat      = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	historyRawTableFormat   = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	historyCreatedByColumns = 45
)

var historyHeader = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT",
}

// historyRow is one layer of `history`, fields in alphabetical order for json.
type historyRow struct {
	Comment      string
	CreatedAt    string
	CreatedBy    string
	CreatedSince string
	ID           string
	Size         string
}

// MarshalJSON escapes <, > and & as docker does ("\u003cmissing\u003e").
func (r historyRow) MarshalJSON() ([]byte, error) {
	type plain historyRow
	return json.Marshal(plain(r))
}

func (c *CLI) newHistoryCommand() *cobra.Command {
	var opts historyOptions
	cmd := &cobra.Command{
		Use:   "history [OPTIONS] IMAGE",
		Short: "Show the history of an image",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Image = args[0]
			return c.runHistory(cmd, opts)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.Human, "human", "H", true, "Print sizes and dates in human readable format")
	flags.BoolVarP(&opts.Quiet, "quiet", "q", false, "Only show image IDs")
	flags.BoolVar(&opts.NoTrunc, "no-trunc", false, "Don't truncate output")
	flags.StringVar(&opts.Format, "format", "", formatHelp)
	return cmd
}

func (c *CLI) runHistory(cmd *cobra.Command, opts historyOptions) error {
	f := opts.Format
	if f == "" || f == format.TableKey {
		switch {
		case opts.Quiet:
			f = quietFormat
		case !opts.Human:
			f = historyRawTableFormat
		default:
			f = historyTableFormat
		}
	}
	if _, err := format.New("history", f); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ImageHistory(cmd.Context(), opts.Image)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]historyRow, 0, len(res.Items))
	for _, h := range res.Items {
		created := time.Unix(h.Created, 0)
		r := historyRow{
			ID:           h.ID,
			CreatedAt:    created.Format(time.RFC3339),
			CreatedSince: created.Format(time.RFC3339),
			CreatedBy:    strings.ReplaceAll(h.CreatedBy, "\t", " "),
			Size:         strconv.FormatInt(h.Size, 10),
			Comment:      h.Comment,
		}
		if !opts.NoTrunc {
			r.ID = shortID(h.ID)
			if h.ID == "<missing>" {
				r.ID = h.ID
			}
			r.CreatedBy = ellipsis(r.CreatedBy, historyCreatedByColumns)
		}
		if opts.Human {
			r.CreatedSince = units.HumanDuration(now.UTC().Sub(created)) + " ago"
			r.Size = units.HumanSizeWithPrecision(float64(h.Size), 3)
		}
		rows = append(rows, r)
	}
	return renderList(cmd.OutOrStdout(), "history", f, historyHeader, rows)
}
