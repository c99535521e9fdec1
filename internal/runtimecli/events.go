package runtimecli

import (
	"encoding/json"
	"errors"
	"flag"
	"time"

	"github.com/berth-engine/berth/internal/runtime"
)

// event is one line of `events` output, as runc prints it.
type event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// cmdEvents prints the container's resource usage, once with --stats, else every
// interval together with an "oom" event whenever the OOM killer has struck, until
// the container stops.
func cmdEvents(g *globals, args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	statsOnce := fs.Bool("stats", false, "print the stats once and exit")
	interval := fs.Duration("interval", 5*time.Second, "how often to report stats")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *interval <= 0 {
		return errors.New("events: --interval must be positive")
	}
	id := pos[0]
	r := g.runtime()
	enc := json.NewEncoder(g.stdout)
	st, err := r.Stats(id)
	if err != nil {
		return err
	}
	if *statsOnce {
		return enc.Encode(event{Type: "stats", ID: id, Data: st})
	}
	ooms := st.OOMKills
	for {
		if st.OOMKills > ooms {
			ooms = st.OOMKills
			if err := enc.Encode(event{Type: "oom", ID: id}); err != nil {
				return err
			}
		}
		if err := enc.Encode(event{Type: "stats", ID: id, Data: st}); err != nil {
			return err
		}
		if s, err := r.State(id); err != nil || s.Status == runtime.StatusStopped {
			return err
		}
		time.Sleep(*interval)
		if st, err = r.Stats(id); err != nil {
			return err
		}
	}
}
