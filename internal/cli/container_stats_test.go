package cli

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
)

// statsSample is one answer of GET /containers/{id}/stats: 40% of 2 CPUs'
// worth of time since the previous sample, 96MiB of 1GiB without the page
// cache, 1.5kB/2.5kB of network, 4kB/8kB of block I/O, 3 processes.
func statsSample(id, name string) map[string]any {
	return map[string]any{
		"id": id, "name": name,
		"cpu_stats":    map[string]any{"cpu_usage": map[string]any{"total_usage": 400000000}, "system_cpu_usage": 2000000000, "online_cpus": 2},
		"precpu_stats": map[string]any{"cpu_usage": map[string]any{"total_usage": 200000000}, "system_cpu_usage": 1000000000},
		"memory_stats": map[string]any{"usage": 100 << 20, "limit": 1 << 30, "stats": map[string]any{"inactive_file": 4 << 20}},
		"networks":     map[string]any{"eth0": map[string]any{"rx_bytes": 1000, "tx_bytes": 2000}, "eth1": map[string]any{"rx_bytes": 500, "tx_bytes": 500}},
		"blkio_stats": map[string]any{"io_service_bytes_recursive": []map[string]any{
			{"major": 8, "op": "read", "value": 4096}, {"major": 8, "op": "write", "value": 8192}, {"major": 8, "op": "total", "value": 12288},
		}},
		"pids_stats": map[string]any{"current": 3},
	}
}

func TestStatsNoStream(t *testing.T) {
	d := newFakeDaemon(t)
	stats := d.reply("GET /containers/web/stats", http.StatusOK, statsSample(ctrID, "/web"))
	d.reply("GET /containers/nope/stats", http.StatusNotFound, apiError("No such container: nope"))
	r := runAt(t, d, "stats", "--no-stream", "web")
	want := "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O         BLOCK I/O        PIDS\n" +
		"4a1f8e2d9c7b   web       40.00%    96MiB / 1GiB        9.38%     1.5kB / 2.5kB   4.1kB / 8.19kB   3\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d %q\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	if q := stats.query(t).Encode(); q != "stream=false" {
		t.Errorf("query %q (the previous sample is needed for CPU %%)", q)
	}
	r = runAt(t, d, "container", "stats", "--no-stream", "--no-trunc", "--format", "{{.Container}} {{.ID}} {{.PIDs}}", "web")
	if r.code != 0 || r.stdout != "web "+ctrID+" 3\n" {
		t.Errorf("--format: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = runAt(t, d, "stats", "--no-stream", "--format", "json", "web")
	if want := `{"BlockIO":"4.1kB / 8.19kB","CPUPerc":"40.00%","Container":"web","ID":"4a1f8e2d9c7b","MemPerc":"9.38%","MemUsage":"96MiB / 1GiB","Name":"web","NetIO":"1.5kB / 2.5kB","PIDs":"3"}` + "\n"; r.stdout != want {
		t.Errorf("json: %q", r.stdout)
	}
	if r := runAt(t, d, "stats", "--no-stream", "web", "nope"); r.code != 1 || r.stderr != "Error response from daemon: No such container: nope\n" {
		t.Errorf("missing container: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestStatsOfRunningContainers(t *testing.T) {
	d := newFakeDaemon(t)
	list := d.reply("GET /containers/json", http.StatusOK, []map[string]any{{"Id": ctrID}, {"Id": ctrID2}})
	d.reply("GET /containers/"+ctrID+"/stats", http.StatusOK, statsSample(ctrID, "/web"))
	d.reply("GET /containers/"+ctrID2+"/stats", http.StatusOK, statsSample(ctrID2, "/job"))
	events := &capture{}
	d.mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		events.add(r)
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	})
	r := runAt(t, d, "stats", "--no-stream", "-a", "--format", "{{.Name}} {{.CPUPerc}}")
	if r.code != 0 || r.stdout != "web 40.00%\njob 40.00%\n" {
		t.Errorf("exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if q := list.query(t).Encode(); q != "all=1" {
		t.Errorf("list query %q", q)
	}
	if f := filtersOf(t, d.lastRequest("/events")); !f["type"]["container"] {
		t.Errorf("events filters %v", f)
	}
}

func TestStatsEntry(t *testing.T) {
	var v container.StatsResponse
	b, _ := json.Marshal(statsSample(ctrID, "/web"))
	json.Unmarshal(b, &v)
	// cgroup v1: total_inactive_file is the cache to leave out.
	v.MemoryStats.Stats = map[string]uint64{"total_inactive_file": 50 << 20, "inactive_file": 1}
	e := newStatsEntry("web", &v)
	if e.CPUPercent != 40 || e.Memory != 50<<20 || e.NetRx != 1500 || e.BlkW != 8192 {
		t.Errorf("entry %+v", e)
	}
	// No previous sample: no CPU % rather than a wrong one.
	v.PreCPUStats = container.CPUStats{}
	v.CPUStats.SystemUsage = 0
	if e := newStatsEntry("web", &v); e.CPUPercent != 0 {
		t.Errorf("CPU %% without a system delta: %v", e.CPUPercent)
	}
	row := statsEntry{Container: "x", ID: ctrID, Invalid: true}.row(true)
	if row.Name != "--" || row.CPUPerc != "--" || row.MemUsage != "-- / --" || row.PIDs != "--" {
		t.Errorf("invalid row %+v", row)
	}
}

func TestStatsRedraw(t *testing.T) {
	var b bytes.Buffer
	entries := []statsEntry{{Container: "web", ID: ctrID, Name: "/web", Pids: 1}}
	if err := renderStats(&b, "{{.Name}}\t{{.PIDs}}", entries, true, true); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != "\x1b[Hweb\t1 \x1b[K\n\x1b[J" {
		t.Errorf("redraw %q", got)
	}
	if !strings.HasSuffix(statsTableFormat, "{{.PIDs}}") {
		t.Errorf("the table lacks PIDS")
	}
}
