package container

import (
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	networktypes "github.com/moby/moby/api/types/network"
	digest "github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/network"
)

// Status is a container's state, as docker inspect's State.Status names it.
type Status string

const (
	Created    Status = "created"
	Running    Status = "running"
	Paused     Status = "paused"
	Restarting Status = "restarting"
	Removing   Status = "removing"
	Exited     Status = "exited"
	Dead       Status = "dead"
)

// State is what the container is doing, and how its last run ended.
type State struct {
	Status     Status    `json:"status"`
	Pid        int       `json:"pid,omitempty"`
	ExitCode   int       `json:"exitCode"`
	Error      string    `json:"error,omitempty"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// StoppedByUser is set by stop and kill and cleared by start: the restart
	// policies unless-stopped and always do not bring such a container back
	// when berthd starts, nor on-failure at all.
	StoppedByUser bool `json:"stoppedByUser,omitempty"`
	// Health is the health check's state; nil without a health check.
	Health *container.Health `json:"health,omitempty"`
}

// Running tells whether the container has a live process (paused counts).
func (s State) Running() bool {
	return s.Status == Running || s.Status == Paused || s.Status == Restarting
}

// Mount is one of the container's mounts as it was resolved at create.
type Mount struct {
	Type        string `json:"type"`             // bind, volume, tmpfs
	Name        string `json:"name,omitempty"`   // the volume's
	Source      string `json:"source,omitempty"` // on the host
	Destination string `json:"destination"`
	Driver      string `json:"driver,omitempty"`
	Mode        string `json:"mode,omitempty"`
	RW          bool   `json:"rw"`
	Propagation string `json:"propagation,omitempty"`
	// Anonymous volumes are removed with the container by rm -v.
	Anonymous bool `json:"anonymous,omitempty"`
	// NoCopy keeps a new volume empty instead of filling it from the image.
	NoCopy bool `json:"noCopy,omitempty"`
	// NonRecursive binds only the source, not the mounts below it.
	NonRecursive bool `json:"nonRecursive,omitempty"`
	// DriverOpts create a volume that does not exist yet (--mount volume-opt).
	DriverOpts map[string]string `json:"driverOpts,omitempty"`
}

// Container is the record of one container. Its fields change only under its
// lock; Snapshot copies it for readers.
type Container struct {
	mu sync.Mutex

	ID      string    `json:"id"`
	Name    string    `json:"name"` // with the leading "/"
	Created time.Time `json:"created"`
	// Image is the ID of the image it was created from; ImageRef what the user
	// asked for (Config.Image says it too, as Docker keeps it).
	Image    digest.Digest `json:"image"`
	ImageRef string        `json:"imageRef"`
	// Path and Args are the command it runs, resolved from the image and the
	// create options.
	Path       string                `json:"path"`
	Args       []string              `json:"args"`
	Config     *container.Config     `json:"config"`
	HostConfig *container.HostConfig `json:"hostConfig"`
	State      State                 `json:"state"`
	// RestartCount counts the restarts by policy since the last start by a user.
	RestartCount int     `json:"restartCount"`
	Mounts       []Mount `json:"mounts,omitempty"`
	// Driver is the snapshotter of its root file system, SnapshotKey the key
	// of its read-write layer there.
	Driver      string `json:"driver"`
	SnapshotKey string `json:"snapshotKey"`
	// Files berthd manages for it.
	LogPath        string `json:"logPath,omitempty"`
	HostnamePath   string `json:"hostnamePath,omitempty"`
	HostsPath      string `json:"hostsPath,omitempty"`
	ResolvConfPath string `json:"resolvConfPath,omitempty"`
	// NetworkConfig are the networks the container joins at each start, by network
	// name, with what was asked for each (addresses, aliases: create's
	// EndpointsConfig, network connect); Network is what the container holds on its
	// networks while it runs.
	// An empty set is kept as such (disconnected from every network); a record
	// without one (older) joins the network its network mode names.
	NetworkConfig map[string]*networktypes.EndpointSettings `json:"networkConfig"`
	Network       *network.Sandbox                          `json:"network,omitempty"`
}

// Lock and Unlock guard the record's fields.
func (c *Container) Lock()   { c.mu.Lock() }
func (c *Container) Unlock() { c.mu.Unlock() }

// Snapshot returns a copy of the record taken under its lock. The copy shares
// Config, HostConfig, NetworkConfig and Network, which are replaced, never changed
// in place.
func (c *Container) Snapshot() *Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.copyLocked()
}

func (c *Container) copyLocked() *Container {
	cp := &Container{
		ID: c.ID, Name: c.Name, Created: c.Created, Image: c.Image, ImageRef: c.ImageRef,
		Path: c.Path, Args: append([]string(nil), c.Args...), Config: c.Config, HostConfig: c.HostConfig,
		State: c.State, RestartCount: c.RestartCount, Mounts: append([]Mount(nil), c.Mounts...),
		Driver: c.Driver, SnapshotKey: c.SnapshotKey, LogPath: c.LogPath,
		HostnamePath: c.HostnamePath, HostsPath: c.HostsPath, ResolvConfPath: c.ResolvConfPath,
		NetworkConfig: c.NetworkConfig, Network: c.Network,
	}
	if c.State.Health != nil {
		h := *c.State.Health
		h.Log = append(h.Log[:0:0], h.Log...)
		cp.State.Health = &h
	}
	return cp
}
