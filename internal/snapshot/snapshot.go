// Package snapshot defines how berth keeps filesystem trees for images and
// containers: as stacks of snapshots, each one layer's changes on top of its
// parent. Implementations live in overlay/ (overlayfs, shared layers) and
// native/ (plain copies, for filesystems overlay cannot use); testsuite/
// holds the one conformance suite both pass.
//
// # The model
//
// Every snapshot has a key, chosen by the caller and unique in the
// snapshotter, and is of one of three kinds:
//
//   - Active: a writable tree, made by Prepare. It is where a layer is
//     unpacked or a container writes.
//   - Committed: an immutable tree, made by Commit from an active snapshot.
//     Only committed snapshots can be parents.
//   - View: a read-only tree over a committed parent, made by View; for
//     looking at an image's files without the cost of a writable layer.
//
// A snapshotter never mounts anything. Prepare, View and Mounts answer with
// mounts as data ([]mount.Mount); the caller mounts them where it wants
// (mount.All) and unmounts them before it commits or removes the snapshot.
//
// # Unpacking an image
//
// The layers of an image become a chain of committed snapshots, each named
// by the chain ID of the layers up to it (so images sharing a base share its
// snapshots). For layers L1 and L2 with chain IDs c1 and c2:
//
//	mounts, _ := sn.Prepare(ctx, "extract-1", "")   // empty, writable
//	mount.All(mounts, tmp); apply(L1, tmp); mount.UnmountAll(tmp, 0)
//	sn.Commit(ctx, "c1", "extract-1")                // "extract-1" is gone, "c1" exists
//
//	mounts, _ = sn.Prepare(ctx, "extract-2", "c1")   // c1's files, writable
//	mount.All(mounts, tmp); apply(L2, tmp); mount.UnmountAll(tmp, 0)
//	sn.Commit(ctx, "c2", "extract-2")                // c2's parent is c1
//
// Deleting a file of L1 while applying L2 is recorded by the snapshotter
// (overlay: a whiteout in c2's layer), so the file is absent from every tree
// built on c2 and still present in every tree built on c1 alone.
//
// # Running a container
//
//	mounts, _ := sn.Prepare(ctx, "ctr-4f2a", "c2")   // a fresh writable layer on the image
//	// the container's rootfs is mount.All(mounts, rootfs); it writes there
//	sn.Remove(ctx, "ctr-4f2a")                       // after unmounting: the layer is gone
//
// To snapshot the container's changes as a new image layer instead, commit
// it: sn.Commit(ctx, "c3", "ctr-4f2a").
//
// # Rules
//
//   - Keys are one namespace: an active, a view and a committed snapshot can
//     never share a key (errdefs.ErrAlreadyExists).
//   - The parent given to Prepare or View must be committed
//     (errdefs.ErrNotFound if missing, errdefs.ErrFailedPrecondition if
//     active or a view).
//   - Commit takes an active snapshot, not a view; its mounts must be
//     unmounted first. The committed snapshot keeps the parent and gets the
//     labels given to Commit (the active one's labels are not carried over).
//   - Remove refuses a committed snapshot that is the parent of others
//     (errdefs.ErrFailedPrecondition): remove from the top of a chain down.
//   - Every error carries the key it is about and an errdefs class, for
//     errors.Is.
//
// Abilities that not every snapshotter has are separate interfaces found by
// type assertion: Usager (disk usage of a snapshot) and Cleaner (removal of
// directories a crash left without metadata).
package snapshot

import (
	"context"
	"fmt"
	"io"
	"maps"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/mount"
)

// Kind says what a snapshot is for; see the package documentation.
type Kind uint8

// The kinds of snapshot.
const (
	KindUnknown Kind = iota
	KindView
	KindActive
	KindCommitted
)

// String returns "view", "active", "committed" or "unknown".
func (k Kind) String() string {
	switch k {
	case KindView:
		return "view"
	case KindActive:
		return "active"
	case KindCommitted:
		return "committed"
	}
	return "unknown"
}

// Info describes a snapshot.
type Info struct {
	Kind    Kind
	Name    string // the key
	Parent  string // the parent's key; empty for a base snapshot
	Labels  map[string]string
	Created time.Time
	Updated time.Time // when the snapshot last changed kind or labels
}

// Usage is the disk a snapshot's own layer takes (not its parents').
type Usage struct {
	Size   int64 // bytes of disk allocated (blocks, not apparent sizes)
	Inodes int64 // files, directories and links, hard links counted once
	// Files is the bytes of the regular files' contents (apparent sizes, hard
	// links once, directories not counted): the size Docker shows for a
	// container's layer.
	Files int64
}

// Snapshotter keeps the snapshots of one root directory. It is safe for
// concurrent use by several goroutines.
type Snapshotter interface {
	// Stat describes the snapshot key.
	Stat(ctx context.Context, key string) (Info, error)
	// Prepare creates the active snapshot key on top of the committed
	// snapshot parent ("" for an empty tree) and returns its mounts.
	Prepare(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	// View creates the read-only snapshot key showing the committed
	// snapshot parent and returns its mounts.
	View(ctx context.Context, key, parent string, opts ...Opt) ([]mount.Mount, error)
	// Mounts returns again the mounts of the active or view snapshot key.
	Mounts(ctx context.Context, key string) ([]mount.Mount, error)
	// Commit turns the active snapshot key into the committed snapshot name;
	// key no longer exists afterwards.
	Commit(ctx context.Context, name, key string, opts ...Opt) error
	// Remove deletes the snapshot key and its files; unmount its mounts
	// first.
	Remove(ctx context.Context, key string) error
	// Walk calls fn for every snapshot, in no particular order, stopping at
	// the first error fn returns.
	Walk(ctx context.Context, fn func(context.Context, Info) error) error
	// Close releases the metadata; the snapshotter is unusable afterwards.
	io.Closer
}

// Usager is a snapshotter that can measure the disk a snapshot takes.
type Usager interface {
	// Usage of the snapshot key's own layer. For an active snapshot it is
	// measured now; for a committed one it was measured at commit.
	Usage(ctx context.Context, key string) (Usage, error)
}

// Cleaner is a snapshotter that can remove what a crash left behind: layer
// directories whose metadata was never committed or already deleted.
type Cleaner interface {
	Cleanup(ctx context.Context) error
}

// Opt sets properties of a snapshot being created or committed.
type Opt func(*Info) error

// MaxLabelSize bounds the bytes of one label's key and value together.
const MaxLabelSize = 4096

// WithLabels sets labels on the snapshot (keys non-empty; key and value
// together at most MaxLabelSize bytes).
func WithLabels(labels map[string]string) Opt {
	return func(info *Info) error {
		for k, v := range labels {
			if k == "" {
				return fmt.Errorf("label with an empty key: %w", errdefs.ErrInvalidArgument)
			}
			if len(k)+len(v) > MaxLabelSize {
				return fmt.Errorf("label %q: %d bytes, over %d: %w", k, len(k)+len(v), MaxLabelSize, errdefs.ErrInvalidArgument)
			}
		}
		if info.Labels == nil {
			info.Labels = map[string]string{}
		}
		maps.Copy(info.Labels, labels)
		return nil
	}
}

// ApplyOpts returns the Info that opts describe, for implementations.
func ApplyOpts(opts ...Opt) (Info, error) {
	var info Info
	for _, o := range opts {
		if err := o(&info); err != nil {
			return Info{}, err
		}
	}
	return info, nil
}
