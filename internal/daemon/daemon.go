// Package daemon is the engine behind berthd's API: it owns the data root and
// the parts that live in it, and answers the API's questions in the Engine
// API's types. It knows nothing of HTTP; internal/api decodes requests into
// calls on a Daemon and encodes the answers.
//
// The data root, as the daemon lays it out (other parts add their directories):
//
//	<data-root>/            0711
//	  berthd.lock           flock(2)ed while a daemon uses this root; holds its pid
//	  engine-id             the daemon's ID (a UUID), made on first start
//	  content/              blobs by digest (internal/content)
//	  snapshots/<driver>/   unpacked layers and container rootfs (internal/snapshot)
//	  image/                image records and names (internal/image)
//
// New takes the lock before touching anything else, so a second daemon on the
// same root fails at once and changes nothing.
package daemon

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/atomicfile"
	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/daemon/config"
	"github.com/berth-engine/berth/internal/daemon/events"
	"github.com/berth-engine/berth/internal/distribution"
	"github.com/berth-engine/berth/internal/image"
	"github.com/berth-engine/berth/internal/network"
	"github.com/berth-engine/berth/internal/network/ipam"
	"github.com/berth-engine/berth/internal/oci"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/drivers"
	"github.com/berth-engine/berth/internal/volume"
)

// BuildInfo says which berth this is; the version command stamps it.
type BuildInfo struct {
	Version   string
	GitCommit string
	BuildTime string // RFC 3339
}

// Options are what New needs.
type Options struct {
	// Config is the validated configuration (see config.Flags.Load).
	Config *config.Config
	Build  BuildInfo
	// Logger receives the daemon's log; nil discards it.
	Logger *slog.Logger
}

// Daemon is one running engine. Its methods are safe for concurrent use.
type Daemon struct {
	cfg     *config.Config
	build   BuildInfo
	log     *slog.Logger
	started time.Time
	id      string
	lock    *os.File
	events  *events.Broker

	// The image layers: blobs, snapshots (driver names the snapshotter), registry
	// client and the image service over them.
	content  *content.Store
	snaps    snapshot.Snapshotter
	driver   string
	registry *distribution.Client
	images   *image.Service

	// The containers: their records, who waits for their state to change, what
	// runs them, the host's facts their specs need, attaches waiting for a
	// start, and the execs made (kept while berthd runs, as Docker does).
	containers *ctr.Store
	volumes    *volume.Store
	waiters    *stateWaiters
	run        *runner
	host       oci.Host
	pendingMu  sync.Mutex
	pending    map[string][]*pendingAttach
	execMu     sync.Mutex
	execs      map[string]*execRecord

	// net is the network controller; nil with --bridge none (containers then get a
	// network namespace with loopback only, or the host's).
	net *network.Controller
}

// New prepares the data and exec roots (created 0711 when missing), locks the
// data root against a second daemon and loads or makes the engine ID.
func New(opts Options) (*Daemon, error) {
	cfg := opts.Config
	if cfg == nil {
		return nil, errors.New("daemon: no configuration")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, dir := range []string{cfg.DataRoot, cfg.ExecRoot} {
		if err := makeRoot(dir); err != nil {
			return nil, err
		}
	}
	lock, err := lockDataRoot(cfg.DataRoot)
	if err != nil {
		return nil, err
	}
	id, err := loadOrMakeID(filepath.Join(cfg.DataRoot, "engine-id"))
	if err != nil {
		lock.Close()
		return nil, err
	}
	d := &Daemon{
		cfg:     cfg,
		build:   opts.Build,
		log:     log,
		started: time.Now(),
		id:      id,
		lock:    lock,
		events:  events.NewBroker(),
	}
	if err := d.openImages(); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.openContainers(); err != nil {
		d.Close()
		return nil, err
	}
	if err := d.openNetwork(); err != nil {
		d.Close()
		return nil, err
	}
	d.reconcileContainers()
	return d, nil
}

// openImages opens the content store, the snapshotter (the configured one, or
// overlay2 when the kernel can mount it here, else vfs), the registry client and the
// image service.
func (d *Daemon) openImages() error {
	cfg := d.cfg
	var err error
	if d.content, err = content.Open(filepath.Join(cfg.DataRoot, "content")); err != nil {
		return err
	}
	if d.snaps, d.driver, err = drivers.Open(filepath.Join(cfg.DataRoot, "snapshots"), cfg.StorageDriver); err != nil {
		return err
	}
	if c, ok := d.snaps.(snapshot.Cleaner); ok {
		// Directories of snapshots whose creation or removal a crash interrupted.
		if err := c.Cleanup(context.Background()); err != nil {
			d.log.Warn("snapshot cleanup", "err", err)
		}
	}
	d.registry, err = distribution.NewClient(distribution.Config{
		Mirrors:                cfg.RegistryMirrors,
		InsecureRegistries:     append(append([]string{}, cfg.InsecureRegistries...), distribution.DefaultInsecureCIDRs...),
		MaxConcurrentDownloads: cfg.MaxConcurrentDownloads,
		MaxConcurrentUploads:   cfg.MaxConcurrentUploads,
		UserAgent:              "berth/" + d.build.Version,
	})
	if err != nil {
		return err
	}
	d.images, err = image.Open(context.Background(), image.Config{
		Root:                   filepath.Join(cfg.DataRoot, "image"),
		Content:                d.content,
		Snapshotter:            d.snaps,
		Registry:               d.registry,
		MaxConcurrentDownloads: cfg.MaxConcurrentDownloads,
		InUse:                  func(id digest.Digest) (string, bool) { return d.imageInUse(id.String()) },
	})
	return err
}

// openNetwork opens the network controller, unless --bridge none turns networking
// off.
func (d *Daemon) openNetwork() error {
	cfg := d.cfg
	if cfg.Bridge == "none" {
		return nil
	}
	nc := network.Config{
		Root:          d.networkRoot(),
		DefaultBridge: cfg.Bridge,
		FirewallTable: cfg.FirewallTable,
		ICC:           cfg.ICC,
		MTU:           cfg.MTU,

		RespectHostFirewall: cfg.RespectHostFirewall,
		Log:                 d.log,
	}
	if cfg.BIP != "" {
		p, err := netip.ParsePrefix(cfg.BIP)
		if err != nil {
			return fmt.Errorf("bip: %w", err)
		}
		nc.DefaultBridgeCIDR = p
	}
	if cfg.IPv6 {
		p, err := netip.ParsePrefix(cfg.FixedCIDRv6)
		if err != nil {
			return fmt.Errorf("fixed-cidr-v6: %w", err)
		}
		nc.DefaultBridgeIPv6 = p
	}
	for _, p := range cfg.DefaultAddressPools {
		base, err := netip.ParsePrefix(p.Base)
		if err != nil {
			return fmt.Errorf("default address pool: %w", err)
		}
		nc.DefaultAddressPools = append(nc.DefaultAddressPools, ipam.AddressPool{Base: base, Size: p.Size})
	}
	c, err := network.Open(nc)
	if err != nil {
		return fmt.Errorf("networking: %w", err)
	}
	d.net = c
	return nil
}

// Close releases the data root. The daemon must not be used afterwards.
func (d *Daemon) Close() error {
	if d.run != nil {
		d.run.group.Close()
	}
	if d.net != nil {
		d.net.Close()
	}
	if d.volumes != nil {
		d.volumes.Close()
	}
	if d.images != nil {
		d.images.Close()
	}
	if d.registry != nil {
		d.registry.Close()
	}
	if d.snaps != nil {
		d.snaps.Close()
	}
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close()
	d.lock = nil
	return err
}

// Config returns the configuration the daemon runs with. Callers must not modify it.
func (d *Daemon) Config() *config.Config { return d.cfg }

// ID returns the engine ID, stable across restarts on the same data root.
func (d *Daemon) ID() string { return d.id }

// StartedAt returns when New returned.
func (d *Daemon) StartedAt() time.Time { return d.started }

// Events returns the broker every part of the daemon publishes its events to.
func (d *Daemon) Events() *events.Broker { return d.events }

// Counts are the numbers of objects the daemon holds.
type Counts struct {
	Containers, Running, Paused, Stopped int
	Images                               int
}

// Counts returns how many containers and images the daemon holds.
func (d *Daemon) Counts(ctx context.Context) Counts {
	var c Counts
	if d.containers != nil {
		for _, ct := range d.containers.List() {
			c.Containers++
			switch ct.Snapshot().State.Status {
			case ctr.Running, ctr.Restarting:
				c.Running++
			case ctr.Paused:
				c.Paused++
			default:
				c.Stopped++
			}
		}
	}
	if d.images != nil {
		if list, err := d.images.List(ctx, image.ListOptions{}); err == nil {
			c.Images = len(list)
		}
	}
	return c
}

// makeRoot creates dir with mode 0711 (and any missing parents) unless it exists.
func makeRoot(dir string) error {
	st, err := os.Stat(dir)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// MkdirAll's mode is filtered by the umask.
	return os.Chmod(dir, 0o711)
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// loadOrMakeID returns the UUID stored at path, storing a new random one when
// the file is missing or does not hold a UUID.
func loadOrMakeID(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		if id := strings.TrimSpace(string(data)); uuidPattern.MatchString(id) {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read engine ID: %w", err)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	if err := atomicfile.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("store engine ID: %w", err)
	}
	return id, nil
}
