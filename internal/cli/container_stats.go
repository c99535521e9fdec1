package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// statsOptions are the flags of `stats`.
type statsOptions struct {
	All, NoStream, NoTrunc bool
	Format                 string
}

const statsTableFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeader = tableHeader{
	"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
	"MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
}

// statsRow is one line of `stats`, as templates see it (fields in
// alphabetical order, for json).
type statsRow struct {
	BlockIO   string
	CPUPerc   string
	Container string
	ID        string
	MemPerc   string
	MemUsage  string
	Name      string
	NetIO     string
	PIDs      string
}

// statsEntry is the last sample of one container, reduced to what `stats`
// shows.
type statsEntry struct {
	Container                               string // as named on the command line, or the ID
	Name, ID                                string
	CPUPercent, Memory, MemoryLimit         float64
	MemoryPercent, NetRx, NetTx, BlkR, BlkW float64
	Pids                                    uint64
	Invalid                                 bool // no sample (yet), or the stream failed
}

// row renders the entry as docker does: "--" for what is not known.
func (e statsEntry) row(trunc bool) statsRow {
	r := statsRow{Container: e.Container, ID: e.ID, Name: "--"}
	if len(e.Name) > 1 {
		r.Name = e.Name[1:]
	}
	if trunc {
		r.ID = shortID(e.ID)
	}
	if e.Invalid {
		r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs = "--", "-- / --", "--", "--", "--", "--"
		return r
	}
	pct := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) + "%" }
	size := func(v float64) string { return units.HumanSizeWithPrecision(v, 3) }
	r.CPUPerc = pct(e.CPUPercent)
	r.MemUsage = units.BytesSize(e.Memory) + " / " + units.BytesSize(e.MemoryLimit)
	r.MemPerc = pct(e.MemoryPercent)
	r.NetIO = size(e.NetRx) + " / " + size(e.NetTx)
	r.BlockIO = size(e.BlkR) + " / " + size(e.BlkW)
	r.PIDs = strconv.FormatUint(e.Pids, 10)
	return r
}

// newStatsEntry reduces a sample as docker's CLI does: CPU % from the
// change of the container's and the system's CPU time since the previous
// sample (precpu_stats) times the number of CPUs; memory without the
// inactive page cache; block I/O summed by direction; network over all
// interfaces.
func newStatsEntry(name string, v *container.StatsResponse) statsEntry {
	e := statsEntry{Container: name, Name: v.Name, ID: v.ID}
	cpuDelta := float64(v.CPUStats.CPUUsage.TotalUsage) - float64(v.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(v.CPUStats.SystemUsage) - float64(v.PreCPUStats.SystemUsage)
	cpus := float64(v.CPUStats.OnlineCPUs)
	if cpus == 0 {
		cpus = float64(len(v.CPUStats.CPUUsage.PercpuUsage))
	}
	if sysDelta > 0 && cpuDelta > 0 {
		e.CPUPercent = cpuDelta / sysDelta * cpus * 100
	}
	mem := v.MemoryStats
	e.Memory = float64(mem.Usage)
	if inactive, v1 := mem.Stats["total_inactive_file"]; v1 && inactive < mem.Usage {
		e.Memory = float64(mem.Usage - inactive)
	} else if inactive := mem.Stats["inactive_file"]; inactive < mem.Usage {
		e.Memory = float64(mem.Usage - inactive)
	}
	e.MemoryLimit = float64(mem.Limit)
	if e.MemoryLimit != 0 {
		e.MemoryPercent = e.Memory / e.MemoryLimit * 100
	}
	for _, b := range v.BlkioStats.IoServiceBytesRecursive {
		if b.Op == "" {
			continue
		}
		switch b.Op[0] {
		case 'r', 'R':
			e.BlkR += float64(b.Value)
		case 'w', 'W':
			e.BlkW += float64(b.Value)
		}
	}
	for _, n := range v.Networks {
		e.NetRx += float64(n.RxBytes)
		e.NetTx += float64(n.TxBytes)
	}
	e.Pids = v.PidsStats.Current
	return e
}

// statsSet is the containers being watched, in the order they were added.
type statsSet struct {
	mu      sync.Mutex
	entries []*statsEntry
	errs    map[string]error
}

func (s *statsSet) add(name string) (*statsEntry, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.entries {
		if e.Container == name {
			return nil, false
		}
	}
	e := &statsEntry{Container: name, ID: name, Invalid: true}
	s.entries = append(s.entries, e)
	return e, true
}

func (s *statsSet) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range s.entries {
		if e.Container == id {
			s.entries = append(s.entries[:i], s.entries[i+1:]...)
			return
		}
	}
}

func (s *statsSet) set(e *statsEntry, v statsEntry, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.errs == nil {
			s.errs = map[string]error{}
		}
		s.errs[e.Container] = err
		e.Invalid = true
		return
	}
	delete(s.errs, e.Container)
	*e = v
}

func (s *statsSet) snapshot() []statsEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]statsEntry, len(s.entries))
	for i, e := range s.entries {
		out[i] = *e
	}
	return out
}

func (c *CLI) newStatsCommand() *cobra.Command {
	var o statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runStats(cmd, o, args)
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.All, "all", "a", false, "Show all containers (default shows just running)")
	flags.BoolVar(&o.NoStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	flags.BoolVar(&o.NoTrunc, "no-trunc", false, "Do not truncate output")
	flags.StringVar(&o.Format, "format", "", formatHelp)
	return cmd
}

// runStats watches the named containers, or, with none named, the running
// ones (all with -a), following starts and deaths through the event
// stream. With --no-stream it prints one table once every container has
// given a sample; otherwise it redraws the table in place every half
// second.
func (c *CLI) runStats(cmd *cobra.Command, o statsOptions, names []string) error {
	f := o.Format
	if f == "" || f == format.TableKey {
		f = statsTableFormat
	}
	if _, err := format.New("stats", f); err != nil {
		return err
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	set := &statsSet{}
	var first sync.WaitGroup
	watch := func(name string) {
		if e, added := set.add(name); added {
			first.Add(1)
			go collectStats(ctx, cl, set, e, !o.NoStream, &first)
		}
	}
	showAll := len(names) == 0
	eventErr := make(chan error, 1)
	if showAll {
		ev := cl.Events(ctx, client.EventsListOptions{Filters: client.Filters{}.Add("type", string(events.ContainerEventType))})
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case err := <-ev.Err:
					eventErr <- err
					return
				case m := <-ev.Messages:
					switch {
					case m.Action == events.ActionStart, m.Action == events.ActionCreate && o.All:
						watch(m.Actor.ID)
					case m.Action == events.ActionDie && !o.All:
						set.remove(m.Actor.ID)
					}
				}
			}
		}()
		list, err := cl.ContainerList(ctx, client.ContainerListOptions{All: o.All})
		if err != nil {
			return err
		}
		for _, ctr := range list.Items {
			watch(ctr.ID)
		}
	} else {
		for _, n := range names {
			watch(n)
		}
	}
	first.Wait()
	if !showAll {
		set.mu.Lock()
		var errs []error
		for _, e := range set.entries {
			if err := set.errs[e.Container]; err != nil {
				errs = append(errs, err)
			}
		}
		set.mu.Unlock()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	ticker := time.NewTicker(500 * time.Millisecond)
	defer ticker.Stop()
	for {
		var buf bytes.Buffer
		if err := renderStats(&buf, f, set.snapshot(), !o.NoTrunc, !o.NoStream); err != nil {
			return err
		}
		buf.WriteTo(out)
		if o.NoStream || !showAll && len(set.snapshot()) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-eventErr:
			if err == nil || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case <-ticker.C:
		}
	}
}

// renderStats writes one table of entries; redrawing, it starts at the
// top-left corner, clears the rest of each line and what is below.
func renderStats(w io.Writer, f string, entries []statsEntry, trunc, redraw bool) error {
	var table bytes.Buffer
	rows := make([]statsRow, len(entries))
	for i, e := range entries {
		rows[i] = e.row(trunc)
	}
	if err := renderRows(&table, "stats", f, statsHeader, rows); err != nil {
		return err
	}
	if !redraw {
		_, err := table.WriteTo(w)
		return err
	}
	var b strings.Builder
	b.WriteString("\033[H")
	for _, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		b.WriteString(line + " \033[K\n")
	}
	b.WriteString("\033[J")
	_, err := io.WriteString(w, b.String())
	return err
}

// collectStats reads the container's stats stream into its entry; the
// first sample (or failure) is reported to first.
func collectStats(ctx context.Context, cl *client.Client, set *statsSet, e *statsEntry, stream bool, first *sync.WaitGroup) {
	name := e.Container
	done := sync.OnceFunc(first.Done)
	defer done()
	res, err := cl.ContainerStats(ctx, name, client.ContainerStatsOptions{Stream: stream, IncludePreviousSample: true})
	if err != nil {
		set.set(e, statsEntry{}, err)
		return
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	for {
		var v container.StatsResponse
		if err := dec.Decode(&v); err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				set.set(e, statsEntry{}, err)
			}
			return
		}
		set.set(e, newStatsEntry(name, &v), nil)
		done()
		if !stream {
			return
		}
	}
}
