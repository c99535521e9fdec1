package daemon

import (
	"io"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The options of the container routes, as the API decodes them from the
// query and body; the Daemon's container methods take them.

// ContainerCreateOptions are POST /containers/create's name, body and platform.
type ContainerCreateOptions struct {
	Name             string // without the leading "/"; empty: a generated one
	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
	Platform         *ocispec.Platform
}

// ContainerListOptions are GET /containers/json's query.
type ContainerListOptions struct {
	All     bool
	Limit   int // the newest N, including stopped ones (ps -n); 0 for all
	Size    bool
	Filters map[string][]string
}

// StopOptions are the query of stop and restart: the signal to send first
// (empty: the container's StopSignal, else SIGTERM) and the seconds to wait
// before SIGKILL (nil: the container's StopTimeout, else 10; -1 waits forever).
type StopOptions struct {
	Signal  string
	Timeout *int
}

// RemoveOptions are DELETE /containers/{id}'s query.
type RemoveOptions struct {
	Force         bool // kill it first if it runs
	RemoveVolumes bool // its anonymous volumes too
	RemoveLink    bool
}

// LogsOptions are GET /containers/{id}/logs's query.
type LogsOptions struct {
	Follow     bool
	Stdout     bool
	Stderr     bool
	Since      time.Time // zero: from the start
	Until      time.Time // zero: no end
	Timestamps bool
	Tail       int // lines from the end; -1 for all
	Details    bool
}

// Upgrade hijacks the HTTP connection of an attach or exec start, once the
// daemon knows whether the stream is a TTY (raw) or multiplexed (stdcopy frames):
// it answers 101 (or 200 for older clients) with the matching content type and
// returns the connection. Reading it gives the client's stdin; closing it ends
// the stream.
type Upgrade func(tty bool) (io.ReadWriteCloser, error)

// AttachOptions are POST /containers/{id}/attach's query.
type AttachOptions struct {
	Stream     bool // live output from now on
	Logs       bool // the logged output first
	Stdin      bool
	Stdout     bool
	Stderr     bool
	DetachKeys string // empty: the daemon's default (ctrl-p,ctrl-q)
}

// StatsOptions are GET /containers/{id}/stats's query.
type StatsOptions struct {
	Stream  bool // a sample every second until the client goes away
	OneShot bool // no pre-sample for CPU usage (precpu_stats empty)
}

// ArchivePutOptions are PUT /containers/{id}/archive's query.
type ArchivePutOptions struct {
	Path                 string
	NoOverwriteDirNonDir bool
	CopyUIDGID           bool
}

// CommitOptions are POST /commit's query and body.
type CommitOptions struct {
	Container string
	Repo      string
	Tag       string
	Comment   string
	Author    string
	Changes   []string // Dockerfile instructions, as docker commit -c
	Pause     bool
	Config    *container.Config // merged over the container's own
}

// ExecStartOptions are POST /exec/{id}/start's body.
type ExecStartOptions struct {
	Detach      bool
	Tty         bool
	ConsoleSize *[2]uint
}
