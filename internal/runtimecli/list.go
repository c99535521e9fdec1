package runtimecli

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/berth-engine/berth/internal/runtime"
)

func cmdList(g *globals, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	format := fs.String("format", "table", "table or json")
	fs.StringVar(format, "f", "table", "table or json")
	quiet := fs.Bool("quiet", false, "print only ids")
	fs.BoolVar(quiet, "q", false, "print only ids")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	r := g.runtime()
	ids, err := r.Store.List()
	if err != nil {
		return err
	}
	states := make([]runtime.OCIState, 0, len(ids))
	for _, id := range ids {
		st, err := r.State(id)
		if err != nil {
			continue // removed while we listed
		}
		states = append(states, st)
	}
	switch {
	case *quiet:
		for _, s := range states {
			fmt.Fprintln(g.stdout, s.ID)
		}
	case *format == "json":
		return printJSON(g.stdout, states)
	case *format == "table":
		w := tabwriter.NewWriter(g.stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, s := range states {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
		}
		return w.Flush()
	default:
		return fmt.Errorf("list: invalid --format %q: want table or json", *format)
	}
	return nil
}

// cmdPs lists the container's processes: pids as JSON, or the lines of ps(1) for them.
func cmdPs(g *globals, args []string) error {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	fs.SetOutput(nopWriter{})
	format := fs.String("format", "table", "table or json")
	fs.StringVar(format, "f", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("ps: %v", err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("ps: container id is required")
	}
	id, psArgs := fs.Arg(0), fs.Args()[1:]
	pids, err := g.runtime().Pids(id)
	if err != nil {
		return err
	}
	switch *format {
	case "json":
		if pids == nil {
			pids = []int{}
		}
		return printJSON(g.stdout, pids)
	case "table":
	default:
		return fmt.Errorf("ps: invalid --format %q: want table or json", *format)
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("ps: running ps %s: %w", strings.Join(psArgs, " "), err)
	}
	return filterPs(g, out, pids)
}

// filterPs prints ps's header and the lines whose PID column is one of pids.
func filterPs(g *globals, out []byte, pids []int) error {
	want := map[string]bool{}
	for _, p := range pids {
		want[strconv.Itoa(p)] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	if !sc.Scan() {
		return nil
	}
	header := sc.Text()
	col := -1
	for i, f := range strings.Fields(header) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps: no PID column in ps output")
	}
	fmt.Fprintln(g.stdout, header)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > col && want[f[col]] {
			fmt.Fprintln(g.stdout, sc.Text())
		}
	}
	return nil
}
