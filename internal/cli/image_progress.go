package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
)

// A pull, push, load or import answers with a stream of JSON messages
// ({"status":"Downloading","id":"3f57d9401f8d","progressDetail":{...}}).
// progressDisplay prints them as docker does:
//
//   - on a terminal, each layer (message ID) that reports progress keeps its
//     own line, rewritten in place with a bar ("[=====>    ] 1.2MB/3.4MB 2s");
//     the cursor moves up to a layer's line and back down after each update.
//     A message without progress (a line of its own, such as "Digest: ...")
//     ends the current block of layer lines.
//   - elsewhere (a pipe, a file), progress updates are dropped and every other
//     message is one plain line: "3f57d9401f8d: Pull complete".
//
// An error message in the stream ends the display and is returned: the
// daemon reports failures that way once the stream has started.
type progressDisplay struct {
	out      io.Writer
	terminal bool
	width    int              // terminal columns; the bar is drawn only beyond 110
	now      func() time.Time // for the time-left estimate
	lines    map[string]int   // layer ID -> its line in the current block
}

// ansi control sequences for moving about a block of layer lines.
const (
	ansiEraseLine = "\x1b[2K"
	ansiUp        = "\x1b[%dA"
	ansiDown      = "\x1b[%dB"
)

func newProgressDisplay(out io.Writer) *progressDisplay {
	width, tty := terminalWidth(out)
	return &progressDisplay{out: out, terminal: tty, width: width, now: time.Now, lines: map[string]int{}}
}

// Stream displays every message of r until its end or an error message.
func (p *progressDisplay) Stream(r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the daemon's progress: %w", err)
		}
		if err := p.Message(m); err != nil {
			return err
		}
	}
}

// Message displays one message.
func (p *progressDisplay) Message(m jsonstream.Message) error {
	if m.Aux != nil { // out-of-band data (a pushed digest), not for the eye
		return nil
	}
	up := 0
	if m.ID != "" && m.Progress != nil {
		line, seen := p.lines[m.ID]
		if !seen {
			line = len(p.lines)
			p.lines[m.ID] = line
			if p.terminal {
				io.WriteString(p.out, "\n")
			}
		}
		up = len(p.lines) - line
		if p.terminal && up > 0 {
			fmt.Fprintf(p.out, ansiUp, up)
		}
	} else {
		clear(p.lines)
	}
	err := p.print(m)
	if p.terminal && m.ID != "" && up > 0 {
		fmt.Fprintf(p.out, ansiDown, up)
	}
	return err
}

// print writes one message at the cursor.
func (p *progressDisplay) print(m jsonstream.Message) error {
	if m.Error != nil {
		return errors.New(m.Error.Message)
	}
	end := ""
	switch {
	case p.terminal && m.Stream == "" && m.Progress != nil:
		end = "\r"
		io.WriteString(p.out, ansiEraseLine+end)
	case m.Progress != nil && (m.Progress.Current > 0 || m.Progress.Total > 0):
		return nil // progress has no place in a log
	}
	var b strings.Builder
	if m.ID != "" {
		b.WriteString(m.ID + ": ")
	}
	switch {
	case m.Progress != nil && p.terminal:
		b.WriteString(m.Status + " " + p.bar(*m.Progress) + end)
	case m.Stream != "":
		b.WriteString(m.Stream + end)
	default:
		b.WriteString(m.Status + end + "\n")
	}
	_, err := io.WriteString(p.out, b.String())
	return err
}

// bar renders progress as docker does: "[====>   ] 1.5MB/3MB 3s", the bar
// only on a terminal wider than 110 columns, the time left beyond 50.
func (p *progressDisplay) bar(pr jsonstream.Progress) string {
	width := p.width
	if width == 0 {
		width = 200
	}
	if pr.Current <= 0 && pr.Total <= 0 {
		return ""
	}
	if pr.Total <= 0 {
		if pr.Units == "" {
			return fmt.Sprintf("%8v", units.HumanSize(float64(pr.Current)))
		}
		return fmt.Sprintf("%d %s", pr.Current, pr.Units)
	}
	half := min(int(float64(pr.Current)/float64(pr.Total)*100)/2, 50)
	var bar, counts, left string
	if width > 110 {
		bar = "[" + strings.Repeat("=", half) + ">" + strings.Repeat(" ", max(50-half, 0)) + "] "
	}
	switch {
	case pr.HideCounts:
	case pr.Units == "" && pr.Current > pr.Total:
		counts = fmt.Sprintf("%8v", units.HumanSize(float64(pr.Current)))
	case pr.Units == "":
		counts = fmt.Sprintf("%8v/%v", units.HumanSize(float64(pr.Current)), units.HumanSize(float64(pr.Total)))
	case pr.Current > pr.Total:
		counts = fmt.Sprintf("%d %s", pr.Current, pr.Units)
	default:
		counts = fmt.Sprintf("%d/%d %s", pr.Current, pr.Total, pr.Units)
	}
	if width > 50 && pr.Current > 0 && pr.Start > 0 && half < 50 {
		elapsed := p.now().UTC().Sub(time.Unix(pr.Start, 0))
		perUnit := elapsed / time.Duration(pr.Current)
		left = " " + (time.Duration(pr.Total-pr.Current) * perUnit).Round(time.Second).String()
	}
	return bar + counts + left
}
