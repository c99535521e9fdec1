package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// eventsOptions are the flags of `berth events`.
type eventsOptions struct {
	Since   string
	Until   string
	Filters filterFlag
	Format  string
}

// rfc3339NanoFixed is docker's event time stamp: nanoseconds always nine digits.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

func (c *CLI) newEventsCommand() *cobra.Command {
	var opts eventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events from the server",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runEvents(cmd, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&opts.Since, "since", "", "Show all events created since timestamp")
	flags.StringVar(&opts.Until, "until", "", "Stream events until this timestamp")
	flags.VarP(&opts.Filters, "filter", "f", "Filter output based on conditions provided")
	flags.StringVar(&opts.Format, "format", "", inspectFormatHelp)
	return cmd
}

// runEvents prints the daemon's events as they come, until --until has
// passed (the daemon then ends the stream) or the command's context ends.
func (c *CLI) runEvents(cmd *cobra.Command, opts eventsOptions) error {
	print := printEvent
	if opts.Format != "" {
		t, err := format.New("events", opts.Format)
		if err != nil {
			return err
		}
		print = func(w io.Writer, m events.Message) error {
			if err := t.Execute(w, m); err != nil {
				return err
			}
			_, err := fmt.Fprintln(w)
			return err
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	res := cl.Events(ctx, client.EventsListOptions{Since: opts.Since, Until: opts.Until, Filters: opts.Filters.filters})
	out := cmd.OutOrStdout()
	for {
		select {
		case m := <-res.Messages:
			if err := print(out, m); err != nil {
				return err
			}
		case err := <-res.Err:
			if err == nil || errors.Is(err, io.EOF) || cmd.Context().Err() != nil {
				return nil
			}
			return err
		}
	}
}

// printEvent writes one event in docker's line format:
// "2026-11-23T19:00:00.000000000Z image pull busybox:latest (name=busybox)".
func printEvent(w io.Writer, m events.Message) error {
	var b strings.Builder
	switch {
	case m.TimeNano != 0:
		b.WriteString(time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed) + " ")
	case m.Time != 0:
		b.WriteString(time.Unix(m.Time, 0).Format(rfc3339NanoFixed) + " ")
	}
	fmt.Fprintf(&b, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		var attrs []string
		for _, k := range slices.Sorted(maps.Keys(m.Actor.Attributes)) {
			attrs = append(attrs, k+"="+m.Actor.Attributes[k])
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(attrs, ", "))
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// filterFlag is a repeatable --filter name=value, checked as it is parsed so
// that a malformed one is a command-line error.
type filterFlag struct {
	filters client.Filters
	raw     []string
}

func (f *filterFlag) String() string { return "" }

func (f *filterFlag) Type() string { return "filter" }

func (f *filterFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	name = strings.ToLower(strings.TrimSpace(name))
	if !ok || name == "" {
		return errors.New("bad format of filter (expected name=value)")
	}
	if f.filters == nil {
		f.filters = client.Filters{}
	}
	f.filters.Add(name, strings.TrimSpace(value))
	f.raw = append(f.raw, v)
	return nil
}
