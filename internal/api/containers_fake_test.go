package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/daemon"
)

// fakeContainers is a ContainerBackend that records each call as a line and
// answers from canned data. Names mean something to it:
//
//	nosuch   every call fails with NotFound "No such container: nosuch"
//	running  start answers ErrNotModified (304)
//	tty      attach, exec and logs streams are a TTY's (raw)
//
// Its streams echo: attach and exec write "out:<line>" to stdout and
// "err:<line>" to stderr for each stdin line, and "bye" at stdin's end.
type fakeContainers struct {
	callLog
	mu sync.Mutex

	create daemon.ContainerCreateOptions // the last create's options
	update container.UpdateConfig
	commit daemon.CommitOptions
	exec   container.ExecCreateRequest
	logs   daemon.LogsOptions
	put    string // the last archive PUT's body

	waitC   chan container.WaitResponse // what wait answers, sent by the test
	streamC chan string                 // lines logs and stats produce, sent by the test
	ended   chan error                  // a stream's context error when the backend saw it end
}

func newFakeContainers() *fakeContainers {
	return &fakeContainers{
		waitC:   make(chan container.WaitResponse, 1),
		streamC: make(chan string),
		ended:   make(chan error, 1),
	}
}

func missing(name string) error {
	if name == "nosuch" {
		return cerrdefs.ErrNotFound.WithMessage("No such container: " + name)
	}
	return nil
}

func (f *fakeContainers) ContainerCreate(ctx context.Context, o daemon.ContainerCreateOptions) (container.CreateResponse, error) {
	f.call("create name=%s image=%s", o.Name, o.Config.Image)
	f.mu.Lock()
	f.create = o
	f.mu.Unlock()
	if o.Config.Image == "nosuch" {
		return container.CreateResponse{}, cerrdefs.ErrNotFound.WithMessage("No such image: nosuch:latest")
	}
	return container.CreateResponse{ID: "c0ffee"}, nil
}

func (f *fakeContainers) Containers(ctx context.Context, o daemon.ContainerListOptions) ([]container.Summary, error) {
	f.call("list all=%v limit=%d size=%v filters=%v", o.All, o.Limit, o.Size, o.Filters)
	s := container.Summary{ID: "c0ffee", Names: []string{"/web"}, Health: &container.HealthSummary{Status: "healthy"}}
	s.HostConfig.Annotations = map[string]string{"a": "b"}
	return []container.Summary{s}, nil
}

func (f *fakeContainers) ContainerInspect(ctx context.Context, name string, size bool) (*container.InspectResponse, error) {
	f.call("inspect %s size=%v", name, size)
	if err := missing(name); err != nil {
		return nil, err
	}
	return &container.InspectResponse{
		ID:     "c0ffee0123456789",
		Name:   "/" + name,
		Config: &container.Config{Hostname: "web1"},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			"bridge": {EndpointID: "ep1", IPPrefixLen: 16, MacAddress: network.HardwareAddr{2, 0x42, 0xac, 0x11, 0, 2}},
			"mynet":  {Aliases: []string{"web"}},
		}},
	}, nil
}

func (f *fakeContainers) ContainerStart(ctx context.Context, name, detachKeys string) error {
	f.call("start %s keys=%s", name, detachKeys)
	if name == "running" {
		return fmt.Errorf("container %s: %w", name, cerrdefs.ErrNotModified)
	}
	return missing(name)
}

func (f *fakeContainers) ContainerStop(ctx context.Context, name string, o daemon.StopOptions) error {
	f.call("stop %s signal=%s timeout=%s", name, o.Signal, fmtTimeout(o.Timeout))
	return missing(name)
}

func fmtTimeout(t *int) string {
	if t == nil {
		return "nil"
	}
	return fmt.Sprint(*t)
}

func (f *fakeContainers) ContainerRestart(ctx context.Context, name string, o daemon.StopOptions) error {
	f.call("restart %s signal=%s timeout=%s", name, o.Signal, fmtTimeout(o.Timeout))
	return missing(name)
}

func (f *fakeContainers) ContainerKill(ctx context.Context, name, signal string) error {
	f.call("kill %s %s", name, signal)
	if name == "stopped" {
		return cerrdefs.ErrConflict.WithMessage("container stopped is not running")
	}
	return missing(name)
}

func (f *fakeContainers) ContainerPause(ctx context.Context, name string) error {
	f.call("pause %s", name)
	return missing(name)
}

func (f *fakeContainers) ContainerUnpause(ctx context.Context, name string) error {
	f.call("unpause %s", name)
	return missing(name)
}

func (f *fakeContainers) ContainerRemove(ctx context.Context, name string, o daemon.RemoveOptions) error {
	f.call("remove %s force=%v volumes=%v link=%v", name, o.Force, o.RemoveVolumes, o.RemoveLink)
	return missing(name)
}

func (f *fakeContainers) ContainerRename(ctx context.Context, name, newName string) error {
	f.call("rename %s %s", name, newName)
	return missing(name)
}

func (f *fakeContainers) ContainerUpdate(ctx context.Context, name string, u container.UpdateConfig) (container.UpdateResponse, error) {
	f.call("update %s memory=%d restart=%s", name, u.Memory, u.RestartPolicy.Name)
	f.mu.Lock()
	f.update = u
	f.mu.Unlock()
	return container.UpdateResponse{}, missing(name)
}

func (f *fakeContainers) ContainersPrune(ctx context.Context, filters map[string][]string) (*container.PruneReport, error) {
	f.call("prune %v", filters)
	return &container.PruneReport{SpaceReclaimed: 42}, nil
}

func (f *fakeContainers) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	f.call("wait %s %s", name, cond)
	if err := missing(name); err != nil {
		return nil, err
	}
	return f.waitC, nil
}

// ContainerAttach echoes stdin (see fakeContainers) until stdin ends or ctx does.
func (f *fakeContainers) ContainerAttach(ctx context.Context, name string, o daemon.AttachOptions, upgrade daemon.Upgrade) error {
	f.call("attach %s stream=%v logs=%v stdin=%v stdout=%v stderr=%v keys=%s", name, o.Stream, o.Logs, o.Stdin, o.Stdout, o.Stderr, o.DetachKeys)
	if err := missing(name); err != nil {
		return err
	}
	return f.echo(ctx, name == "tty", o.Stdin, upgrade)
}

func (f *fakeContainers) echo(ctx context.Context, tty, stdin bool, upgrade daemon.Upgrade) error {
	conn, err := upgrade(tty)
	if err != nil {
		return err
	}
	defer conn.Close()
	write := func(stream byte, s string) {
		if tty {
			io.WriteString(conn, s)
			return
		}
		conn.Write(append(frameHeader(stream, len(s)), s...))
	}
	if !stdin {
		<-ctx.Done()
		f.ended <- ctx.Err()
		return nil
	}
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		if sc.Text() == "fail" {
			return fmt.Errorf("the process failed")
		}
		write(1, "out:"+sc.Text()+"\n")
		write(2, "err:"+sc.Text()+"\n")
	}
	write(1, "bye\n")
	return nil
}

// ContainerLogs writes each line the test sends on streamC, until streamC closes.
func (f *fakeContainers) ContainerLogs(ctx context.Context, name string, o daemon.LogsOptions, start func(tty bool) io.Writer) error {
	f.call("logs %s follow=%v stdout=%v stderr=%v since=%d until=%d ts=%v tail=%d details=%v", name, o.Follow, o.Stdout, o.Stderr,
		unixNano(o.Since), unixNano(o.Until), o.Timestamps, o.Tail, o.Details)
	if err := missing(name); err != nil {
		return err
	}
	tty := name == "tty"
	w := start(tty)
	for {
		select {
		case line, ok := <-f.streamC:
			if !ok {
				return nil
			}
			if tty {
				io.WriteString(w, line)
			} else {
				w.Write(append(frameHeader(1, len(line)), line...))
			}
		case <-ctx.Done():
			f.ended <- ctx.Err()
			return ctx.Err()
		}
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (f *fakeContainers) ContainerResize(ctx context.Context, name string, h, w uint) error {
	f.call("resize %s %dx%d", name, h, w)
	return missing(name)
}

func (f *fakeContainers) ContainerTop(ctx context.Context, name, psArgs string) (container.TopResponse, error) {
	f.call("top %s %s", name, psArgs)
	return container.TopResponse{Titles: []string{"PID", "CMD"}, Processes: [][]string{{"1", "sh"}}}, missing(name)
}

// ContainerStats sends one sample per line the test sends on streamC (its
// text is the sample's name), or one sample at once when not streaming.
func (f *fakeContainers) ContainerStats(ctx context.Context, name string, o daemon.StatsOptions, send func(*container.StatsResponse) error) error {
	f.call("stats %s stream=%v oneshot=%v", name, o.Stream, o.OneShot)
	if err := missing(name); err != nil {
		return err
	}
	if !o.Stream {
		return send(&container.StatsResponse{Name: "/" + name, PidsStats: container.PidsStats{Current: 1}})
	}
	for {
		select {
		case line, ok := <-f.streamC:
			if !ok {
				return nil
			}
			if err := send(&container.StatsResponse{Name: line}); err != nil {
				return err
			}
		case <-ctx.Done():
			f.ended <- ctx.Err()
			return ctx.Err()
		}
	}
}

func (f *fakeContainers) ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error) {
	f.call("changes %s", name)
	return []container.FilesystemChange{{Path: "/tmp", Kind: container.ChangeAdd}}, missing(name)
}

func (f *fakeContainers) ContainerExport(ctx context.Context, name string, w io.Writer) error {
	f.call("export %s", name)
	if err := missing(name); err != nil {
		return err
	}
	_, err := io.WriteString(w, "ROOTFS-TAR")
	return err
}

var testStat = &container.PathStat{Name: "etc", Size: 4096, Mode: 0o755 | 1<<31, LinkTarget: ""}

func (f *fakeContainers) ContainerStatPath(ctx context.Context, name, path string) (*container.PathStat, error) {
	f.call("stat %s %s", name, path)
	if err := missing(name); err != nil {
		return nil, err
	}
	return testStat, nil
}

func (f *fakeContainers) ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, *container.PathStat, error) {
	f.call("archive %s %s", name, path)
	if path == "/nosuch" {
		return nil, nil, cerrdefs.ErrNotFound.WithMessage("Could not find the file /nosuch in container " + name)
	}
	return io.NopCloser(strings.NewReader("PATH-TAR")), testStat, missing(name)
}

func (f *fakeContainers) ContainerExtractToDir(ctx context.Context, name string, o daemon.ArchivePutOptions, r io.Reader) error {
	f.call("extract %s %s nooverwrite=%v copyuidgid=%v", name, o.Path, o.NoOverwriteDirNonDir, o.CopyUIDGID)
	b, err := io.ReadAll(r)
	f.mu.Lock()
	f.put = string(b)
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return missing(name)
}

func (f *fakeContainers) ContainerCommit(ctx context.Context, o daemon.CommitOptions) (string, error) {
	f.call("commit %s repo=%s tag=%s comment=%s author=%s changes=%q pause=%v config=%v", o.Container, o.Repo, o.Tag, o.Comment, o.Author, o.Changes, o.Pause, o.Config != nil)
	f.mu.Lock()
	f.commit = o
	f.mu.Unlock()
	return "sha256:1234", missing(o.Container)
}

func (f *fakeContainers) ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (string, error) {
	f.call("exec-create %s %q", name, req.Cmd)
	f.mu.Lock()
	f.exec = req
	f.mu.Unlock()
	return "e1", missing(name)
}

// ExecStart of "e-tty" streams as a TTY; of "e-nosuch" fails before the
// stream; any other echoes as attach does (stdin attached).
func (f *fakeContainers) ExecStart(ctx context.Context, id string, o daemon.ExecStartOptions, upgrade daemon.Upgrade) error {
	f.call("exec-start %s detach=%v tty=%v size=%v", id, o.Detach, o.Tty, o.ConsoleSize)
	if id == "e-nosuch" {
		return cerrdefs.ErrNotFound.WithMessage("No such exec instance: " + id)
	}
	if o.Detach {
		return nil
	}
	return f.echo(ctx, o.Tty, true, upgrade)
}

func (f *fakeContainers) ExecInspect(ctx context.Context, id string) (*container.ExecInspectResponse, error) {
	f.call("exec-inspect %s", id)
	return &container.ExecInspectResponse{ID: id, Running: true}, nil
}

func (f *fakeContainers) ExecResize(ctx context.Context, id string, h, w uint) error {
	f.call("exec-resize %s %dx%d", id, h, w)
	return nil
}

// decodeJSON decodes s into a value of type T, panicking on bad JSON (test input).
func decodeJSON[T any](s string) T {
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(fmt.Sprintf("decoding %q: %v", s, err))
	}
	return v
}
