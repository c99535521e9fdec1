package api

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/daemon"
)

// ContainerBackend answers the /containers, /exec and /commit routes. Names
// are what the client sent: a full or unique short ID, or a name with or
// without its leading "/". Errors carry their class (containerd/errdefs):
// NotFound "No such container: x", Conflict, InvalidArgument...; a start of a
// running container or a stop of a stopped one returns ErrNotModified, which
// the routes answer with 304.
// PortsUpdater is a ContainerBackend that can change a container's published ports
// (berth's extension of POST /containers/{name}/update: a PortBindings field; Docker
// never could, moby#21282).
type PortsUpdater interface {
	ContainerUpdatePorts(ctx context.Context, name string, ports network.PortMap) error
}

type ContainerBackend interface {
	ContainerCreate(ctx context.Context, opts daemon.ContainerCreateOptions) (container.CreateResponse, error)
	Containers(ctx context.Context, opts daemon.ContainerListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, name string, size bool) (*container.InspectResponse, error)

	ContainerStart(ctx context.Context, name, detachKeys string) error
	ContainerStop(ctx context.Context, name string, opts daemon.StopOptions) error
	ContainerRestart(ctx context.Context, name string, opts daemon.StopOptions) error
	ContainerKill(ctx context.Context, name, signal string) error
	ContainerPause(ctx context.Context, name string) error
	ContainerUnpause(ctx context.Context, name string) error
	ContainerRemove(ctx context.Context, name string, opts daemon.RemoveOptions) error
	ContainerRename(ctx context.Context, name, newName string) error
	ContainerUpdate(ctx context.Context, name string, update container.UpdateConfig) (container.UpdateResponse, error)
	ContainersPrune(ctx context.Context, filters map[string][]string) (*container.PruneReport, error)

	// ContainerWait checks the container and the condition at once (an error
	// is the route's error), then returns a channel that yields the result
	// when the condition is met; the routes send their headers in between,
	// so a client that waits before it starts the container knows the wait
	// is in place.
	ContainerWait(ctx context.Context, name string, condition container.WaitCondition) (<-chan container.WaitResponse, error)

	// ContainerAttach and ContainerLogs decide whether the stream is a TTY's
	// (raw) or multiplexed (stdcopy frames) and call upgrade, or start, with
	// it before they write anything.
	ContainerAttach(ctx context.Context, name string, opts daemon.AttachOptions, upgrade daemon.Upgrade) error
	ContainerLogs(ctx context.Context, name string, opts daemon.LogsOptions, start func(tty bool) io.Writer) error
	ContainerResize(ctx context.Context, name string, height, width uint) error

	ContainerTop(ctx context.Context, name, psArgs string) (container.TopResponse, error)
	// ContainerStats calls send once (or every second while opts.Stream,
	// until ctx ends or send fails).
	ContainerStats(ctx context.Context, name string, opts daemon.StatsOptions, send func(*container.StatsResponse) error) error
	ContainerChanges(ctx context.Context, name string) ([]container.FilesystemChange, error)
	ContainerExport(ctx context.Context, name string, w io.Writer) error

	// ContainerStatPath describes path in the container (HEAD .../archive).
	ContainerStatPath(ctx context.Context, name, path string) (*container.PathStat, error)
	// ContainerArchivePath returns path as a tar stream and its stat (GET .../archive).
	ContainerArchivePath(ctx context.Context, name, path string) (io.ReadCloser, *container.PathStat, error)
	// ContainerExtractToDir unpacks the tar r into the directory opts.Path (PUT .../archive).
	ContainerExtractToDir(ctx context.Context, name string, opts daemon.ArchivePutOptions, r io.Reader) error

	ContainerCommit(ctx context.Context, opts daemon.CommitOptions) (string, error)

	ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (string, error)
	// ExecStart runs the exec: detached it returns at once, else it calls
	// upgrade and streams until the process's output ends.
	ExecStart(ctx context.Context, execID string, opts daemon.ExecStartOptions, upgrade daemon.Upgrade) error
	ExecInspect(ctx context.Context, execID string) (*container.ExecInspectResponse, error)
	ExecResize(ctx context.Context, execID string, height, width uint) error
}
