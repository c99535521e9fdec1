package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/boltdb"
	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/topdir"
)

// SchemaVersion is the version of the database layout this package writes.
const SchemaVersion = "1"

// Snapshot is what a Driver knows of one snapshot.
type Snapshot struct {
	ID   string
	Kind snapshot.Kind
	// Dir is the snapshot's directory; the driver keeps the tree in Dir/fs.
	Dir string
	// Parents are the directories of the snapshot's ancestors, nearest first.
	Parents []string
}

// FS is the directory holding the snapshot's tree.
func (s Snapshot) FS() string { return filepath.Join(s.Dir, "fs") }

// Driver is what distinguishes one kind of snapshotter from another.
type Driver interface {
	// Create fills s.Dir, a new empty directory, so that it holds snapshot s.
	// It creates s.FS() at least.
	Create(ctx context.Context, s Snapshot) error
	// Mounts returns the mounts that show snapshot s (active or view).
	Mounts(s Snapshot) []mount.Mount
}

// Snapshotter implements snapshot.Snapshotter, snapshot.Usager and
// snapshot.Cleaner on a root directory with the help of a Driver.
type Snapshotter struct {
	root   string
	db     *bolt.DB
	driver Driver

	mu   sync.Mutex
	busy map[string]bool // names in snapshots/ that a call is working on; Cleanup leaves them
}

var (
	bucketSnapshots = []byte("snapshots")
	bucketLabels    = []byte("labels")
	bucketChildren  = []byte("children")

	keyID      = []byte("id")
	keyKind    = []byte("kind")
	keyParent  = []byte("parent")
	keyCreated = []byte("created")
	keyUpdated = []byte("updated")
	keySize    = []byte("size")
	keyInodes  = []byte("inodes")
	keyFiles   = []byte("files")
)

// New opens (creating if needed) the snapshotter rooted at root. Only one
// Snapshotter may have a root open at a time; New waits up to 5 seconds for
// another to close it.
func New(root string, d Driver) (*Snapshotter, error) {
	if err := os.MkdirAll(filepath.Join(root, "snapshots"), 0o700); err != nil {
		return nil, fmt.Errorf("snapshotter root: %w", err)
	}
	// Each snapshot is a tree of its own: have the file system give each one
	// room of its own instead of crowding them near the data root.
	if err := topdir.Mark(filepath.Join(root, "snapshots")); err != nil {
		return nil, fmt.Errorf("snapshotter root: %w", err)
	}
	path := filepath.Join(root, "metadata.db")
	db, err := boltdb.Open(path, "snapshot metadata", SchemaVersion, bucketSnapshots)
	if err != nil {
		return nil, err
	}
	return &Snapshotter{root: root, db: db, driver: d, busy: map[string]bool{}}, nil
}

// Root is the directory the snapshotter keeps everything in.
func (s *Snapshotter) Root() string { return s.root }

// Close closes the metadata database.
func (s *Snapshotter) Close() error { return s.db.Close() }

func (s *Snapshotter) dir(id string) string { return filepath.Join(s.root, "snapshots", id) }

// Stat describes the snapshot key.
func (s *Snapshotter) Stat(ctx context.Context, key string) (snapshot.Info, error) {
	var info snapshot.Info
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := getBucket(tx, key)
		if err != nil {
			return err
		}
		info, err = readInfo(key, b)
		return err
	})
	return info, err
}

// Walk calls fn for every snapshot. fn runs outside any transaction, so it
// may call the snapshotter.
func (s *Snapshotter) Walk(ctx context.Context, fn func(context.Context, snapshot.Info) error) error {
	var infos []snapshot.Info
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSnapshots).ForEachBucket(func(k []byte) error {
			info, err := readInfo(string(k), tx.Bucket(bucketSnapshots).Bucket(k))
			if err != nil {
				return err
			}
			infos = append(infos, info)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

// Prepare creates the active snapshot key on top of parent.
func (s *Snapshotter) Prepare(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return s.create(ctx, snapshot.KindActive, key, parent, opts)
}

// View creates the read-only snapshot key showing parent.
func (s *Snapshotter) View(ctx context.Context, key, parent string, opts ...snapshot.Opt) ([]mount.Mount, error) {
	return s.create(ctx, snapshot.KindView, key, parent, opts)
}

func (s *Snapshotter) create(ctx context.Context, kind snapshot.Kind, key, parent string, opts []snapshot.Opt) ([]mount.Mount, error) {
	if key == "" {
		return nil, fmt.Errorf("snapshot key is empty: %w", errdefs.ErrInvalidArgument)
	}
	base, err := snapshot.ApplyOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", key, err)
	}

	// Check and resolve first, so a doomed request costs no copy.
	var parentIDs []string
	err = s.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketSnapshots).Bucket([]byte(key)) != nil {
			return fmt.Errorf("snapshot %q: %w", key, errdefs.ErrAlreadyExists)
		}
		parentIDs, err = chain(tx, parent)
		if err != nil {
			return fmt.Errorf("snapshot %q: %w", key, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	tmpName, err := s.reserve("new-")
	if err != nil {
		return nil, err
	}
	defer s.release(tmpName)
	tmp := s.dir(tmpName)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", key, err)
	}
	snap := Snapshot{Kind: kind, Dir: tmp, Parents: s.dirs(parentIDs)}
	if err := s.driver.Create(ctx, snap); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("snapshot %q: create: %w", key, err)
	}

	var final string
	err = s.db.Update(func(tx *bolt.Tx) error {
		snaps := tx.Bucket(bucketSnapshots)
		if snaps.Bucket([]byte(key)) != nil {
			return errdefs.ErrAlreadyExists
		}
		now, err := chain(tx, parent)
		if err != nil {
			return err
		}
		if !slices.Equal(now, parentIDs) {
			return fmt.Errorf("parent %q was replaced while it was being copied: %w", parent, errdefs.ErrAborted)
		}
		seq, err := snaps.NextSequence()
		if err != nil {
			return err
		}
		snap.ID = strconv.FormatUint(seq, 10)
		b, err := snaps.CreateBucket([]byte(key))
		if err != nil {
			return err
		}
		t := time.Now().UTC()
		if err := writeInfo(b, snap.ID, kind, parent, t, t, base.Labels); err != nil {
			return err
		}
		if parent != "" {
			if err := snaps.Bucket([]byte(parent)).Bucket(bucketChildren).Put([]byte(key), nil); err != nil {
				return err
			}
		}
		// An <id> directory without metadata can only be left by a crash
		// at this point in an earlier call: it is garbage.
		dst := s.dir(snap.ID)
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
		final = dst
		// The rename must be on disk before the metadata naming dst is.
		return syncDir(filepath.Dir(dst))
	})
	if err != nil {
		if final != "" {
			os.RemoveAll(final) // renamed, but the metadata did not commit
		}
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("snapshot %q: %w", key, err)
	}
	snap.Dir = final
	return s.driver.Mounts(snap), nil
}

// Mounts returns the mounts of the active or view snapshot key.
func (s *Snapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	var snap Snapshot
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := getBucket(tx, key)
		if err != nil {
			return err
		}
		snap.ID, snap.Kind = string(b.Get(keyID)), parseKind(b.Get(keyKind))
		if snap.Kind == snapshot.KindCommitted {
			return fmt.Errorf("snapshot %q is committed; prepare or view a snapshot on top of it to mount it: %w", key, errdefs.ErrFailedPrecondition)
		}
		ids, err := chain(tx, string(b.Get(keyParent)))
		if err != nil {
			return fmt.Errorf("snapshot %q: %w", key, err)
		}
		snap.Dir, snap.Parents = s.dir(snap.ID), s.dirs(ids)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.driver.Mounts(snap), nil
}

// Commit turns the active snapshot key into the committed snapshot name,
// measuring the disk its layer takes.
func (s *Snapshotter) Commit(ctx context.Context, name, key string, opts ...snapshot.Opt) error {
	if name == "" {
		return fmt.Errorf("commit %q: the name is empty: %w", key, errdefs.ErrInvalidArgument)
	}
	base, err := snapshot.ApplyOpts(opts...)
	if err != nil {
		return fmt.Errorf("commit %q as %q: %w", key, name, err)
	}
	id, err := s.activeID(key)
	if err != nil {
		return fmt.Errorf("commit %q as %q: %w", key, name, err)
	}
	usage, err := diskUsage(filepath.Join(s.dir(id), "fs"))
	if err != nil {
		return fmt.Errorf("commit %q as %q: measure the layer: %w", key, name, err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		snaps := tx.Bucket(bucketSnapshots)
		b, err := getBucket(tx, key)
		if err != nil {
			return err
		}
		if string(b.Get(keyID)) != id {
			return fmt.Errorf("snapshot %q was replaced during the commit: %w", key, errdefs.ErrAborted)
		}
		if snaps.Bucket([]byte(name)) != nil {
			return fmt.Errorf("snapshot %q: %w", name, errdefs.ErrAlreadyExists)
		}
		parent := string(b.Get(keyParent))
		nb, err := snaps.CreateBucket([]byte(name))
		if err != nil {
			return err
		}
		t := time.Now().UTC()
		if err := writeInfo(nb, id, snapshot.KindCommitted, parent, t, t, base.Labels); err != nil {
			return err
		}
		if err := nb.Put(keySize, []byte(strconv.FormatInt(usage.Size, 10))); err != nil {
			return err
		}
		if err := nb.Put(keyInodes, []byte(strconv.FormatInt(usage.Inodes, 10))); err != nil {
			return err
		}
		if err := nb.Put(keyFiles, []byte(strconv.FormatInt(usage.Files, 10))); err != nil {
			return err
		}
		if parent != "" {
			children := snaps.Bucket([]byte(parent)).Bucket(bucketChildren)
			if err := children.Delete([]byte(key)); err != nil {
				return err
			}
			if err := children.Put([]byte(name), nil); err != nil {
				return err
			}
		}
		return snaps.DeleteBucket([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("commit %q as %q: %w", key, name, err)
	}
	return nil
}

// activeID returns the id of key, which must be an active snapshot.
func (s *Snapshotter) activeID(key string) (string, error) {
	var id string
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := getBucket(tx, key)
		if err != nil {
			return err
		}
		if k := parseKind(b.Get(keyKind)); k != snapshot.KindActive {
			return fmt.Errorf("snapshot %q is %s; only an active snapshot commits: %w", key, article(k), errdefs.ErrFailedPrecondition)
		}
		id = string(b.Get(keyID))
		return nil
	})
	return id, err
}

// Remove deletes the snapshot key and its directory. A committed snapshot
// with children is refused. Once the metadata is gone the directory is
// deleted; if that fails the error says so and Cleanup finishes the job.
func (s *Snapshotter) Remove(ctx context.Context, key string) error {
	var id, doomed string
	err := s.db.Update(func(tx *bolt.Tx) error {
		snaps := tx.Bucket(bucketSnapshots)
		b, err := getBucket(tx, key)
		if err != nil {
			return err
		}
		if c, _ := b.Bucket(bucketChildren).Cursor().First(); c != nil {
			return fmt.Errorf("snapshot %q is the parent of %q (and maybe others); remove those first: %w", key, c, errdefs.ErrFailedPrecondition)
		}
		id = string(b.Get(keyID))
		if parent := b.Get(keyParent); parent != nil {
			if err := snaps.Bucket(parent).Bucket(bucketChildren).Delete([]byte(key)); err != nil {
				return err
			}
		}
		if err := snaps.DeleteBucket([]byte(key)); err != nil {
			return err
		}
		// Out of the way of Cleanup and of the id's next owner, before the
		// metadata goes.
		name, err := s.reserve("rm-" + id + "-")
		if err != nil {
			return err
		}
		if err := os.Rename(s.dir(id), s.dir(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.release(name)
			return err
		}
		doomed = name
		return nil
	})
	if err != nil {
		if doomed != "" { // renamed, but the metadata stayed: put the directory back
			_ = os.Rename(s.dir(doomed), s.dir(id))
			s.release(doomed)
		}
		if errdefs.IsNotFound(err) || errdefs.IsFailedPrecondition(err) {
			return err // already names key
		}
		return fmt.Errorf("remove snapshot %q: %w", key, err)
	}
	defer s.release(doomed)
	if err := os.RemoveAll(s.dir(doomed)); err != nil {
		return fmt.Errorf("snapshot %q removed, but its directory remains until Cleanup: %w", key, err)
	}
	return nil
}

// Usage measures the snapshot key's own layer (for a committed snapshot,
// the figures measured when it was committed).
func (s *Snapshotter) Usage(ctx context.Context, key string) (snapshot.Usage, error) {
	var (
		u  snapshot.Usage
		id string
	)
	err := s.db.View(func(tx *bolt.Tx) error {
		b, err := getBucket(tx, key)
		if err != nil {
			return err
		}
		if parseKind(b.Get(keyKind)) == snapshot.KindCommitted {
			u.Size, _ = strconv.ParseInt(string(b.Get(keySize)), 10, 64)
			u.Inodes, _ = strconv.ParseInt(string(b.Get(keyInodes)), 10, 64)
			u.Files, _ = strconv.ParseInt(string(b.Get(keyFiles)), 10, 64) // 0 for layers committed before it was kept
			return nil
		}
		id = string(b.Get(keyID))
		return nil
	})
	if err != nil || id == "" {
		return u, err
	}
	u, err = diskUsage(filepath.Join(s.dir(id), "fs"))
	if err != nil {
		return u, fmt.Errorf("usage of snapshot %q: %w", key, err)
	}
	return u, nil
}

// Cleanup removes every directory under snapshots/ that no snapshot owns
// and no call in progress is using: what a crash in Prepare, View, Remove or
// Cleanup leaves behind. It is safe to run beside other calls.
func (s *Snapshotter) Cleanup(ctx context.Context) error {
	var doomed []string
	err := s.db.Update(func(tx *bolt.Tx) error {
		// Holding the write transaction, no snapshot can appear or vanish.
		live := map[string]bool{}
		err := tx.Bucket(bucketSnapshots).ForEachBucket(func(k []byte) error {
			live[string(tx.Bucket(bucketSnapshots).Bucket(k).Get(keyID))] = true
			return nil
		})
		if err != nil {
			return err
		}
		entries, err := os.ReadDir(filepath.Join(s.root, "snapshots"))
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if live[name] {
				continue
			}
			if strings.HasPrefix(name, "rm-") {
				if s.claim(name) {
					doomed = append(doomed, name)
				}
				continue
			}
			if strings.HasPrefix(name, "new-") && !s.claim(name) {
				continue // a Prepare is filling it
			}
			// An <id> without metadata (or an abandoned new-*): move it out
			// of the way of the id's next owner before deleting it.
			rm, err := s.reserve("rm-" + name + "-")
			if err != nil {
				return err
			}
			if err := os.Rename(s.dir(name), s.dir(rm)); err != nil {
				s.release(rm)
				return err
			}
			s.release(name)
			doomed = append(doomed, rm)
		}
		return nil
	})
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range doomed {
		if err := os.RemoveAll(s.dir(name)); err != nil {
			errs = append(errs, err)
		}
		s.release(name)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("snapshot cleanup: %w", err)
	}
	return nil
}

// reserve returns a fresh name prefix+<random> in snapshots/, marked busy.
func (s *Snapshotter) reserve(prefix string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	name := prefix + hex.EncodeToString(b)
	s.mu.Lock()
	s.busy[name] = true
	s.mu.Unlock()
	return name, nil
}

// claim marks name busy unless a call already has it.
func (s *Snapshotter) claim(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy[name] {
		return false
	}
	s.busy[name] = true
	return true
}

func (s *Snapshotter) release(name string) {
	s.mu.Lock()
	delete(s.busy, name)
	s.mu.Unlock()
}

func (s *Snapshotter) dirs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.dir(id)
	}
	return out
}

// syncDir flushes the entries of directory dir to disk.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// getBucket returns the bucket of snapshot key, or ErrNotFound.
func getBucket(tx *bolt.Tx, key string) (*bolt.Bucket, error) {
	if key != "" {
		if b := tx.Bucket(bucketSnapshots).Bucket([]byte(key)); b != nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("snapshot %q: %w", key, errdefs.ErrNotFound)
}

// chain returns the ids of parent and its ancestors, nearest first; parent
// must be committed. An empty parent has no chain.
func chain(tx *bolt.Tx, parent string) ([]string, error) {
	if parent == "" {
		return nil, nil
	}
	snaps := tx.Bucket(bucketSnapshots)
	b := snaps.Bucket([]byte(parent))
	if b == nil {
		return nil, fmt.Errorf("parent snapshot %q: %w", parent, errdefs.ErrNotFound)
	}
	if k := parseKind(b.Get(keyKind)); k != snapshot.KindCommitted {
		return nil, fmt.Errorf("parent snapshot %q is %s, not committed: %w", parent, article(k), errdefs.ErrFailedPrecondition)
	}
	var ids []string
	for key := parent; key != ""; {
		b := snaps.Bucket([]byte(key))
		if b == nil {
			return nil, fmt.Errorf("snapshot metadata broken: ancestor %q of %q is missing: %w", key, parent, errdefs.ErrDataLoss)
		}
		ids = append(ids, string(b.Get(keyID)))
		key = string(b.Get(keyParent))
	}
	return ids, nil
}

func writeInfo(b *bolt.Bucket, id string, kind snapshot.Kind, parent string, created, updated time.Time, labels map[string]string) error {
	put := func(k []byte, v string) error { return b.Put(k, []byte(v)) }
	if err := put(keyID, id); err != nil {
		return err
	}
	if err := put(keyKind, kind.String()); err != nil {
		return err
	}
	if parent != "" {
		if err := put(keyParent, parent); err != nil {
			return err
		}
	}
	if err := put(keyCreated, created.Format(time.RFC3339Nano)); err != nil {
		return err
	}
	if err := put(keyUpdated, updated.Format(time.RFC3339Nano)); err != nil {
		return err
	}
	if _, err := b.CreateBucket(bucketChildren); err != nil {
		return err
	}
	lb, err := b.CreateBucket(bucketLabels)
	if err != nil {
		return err
	}
	for k, v := range labels {
		if err := lb.Put([]byte(k), []byte(v)); err != nil {
			return err
		}
	}
	return nil
}

func readInfo(key string, b *bolt.Bucket) (snapshot.Info, error) {
	info := snapshot.Info{
		Name:   key,
		Kind:   parseKind(b.Get(keyKind)),
		Parent: string(b.Get(keyParent)),
	}
	var err error
	if info.Created, err = time.Parse(time.RFC3339Nano, string(b.Get(keyCreated))); err != nil {
		return info, fmt.Errorf("snapshot %q: created: %w", key, err)
	}
	if info.Updated, err = time.Parse(time.RFC3339Nano, string(b.Get(keyUpdated))); err != nil {
		return info, fmt.Errorf("snapshot %q: updated: %w", key, err)
	}
	if lb := b.Bucket(bucketLabels); lb != nil {
		err := lb.ForEach(func(k, v []byte) error {
			if info.Labels == nil {
				info.Labels = map[string]string{}
			}
			info.Labels[string(k)] = string(v)
			return nil
		})
		if err != nil {
			return info, err
		}
	}
	return info, nil
}

// article names kind k for a sentence: "a view", "active", "committed".
func article(k snapshot.Kind) string {
	if k == snapshot.KindView {
		return "a view"
	}
	return k.String()
}

func parseKind(b []byte) snapshot.Kind {
	switch string(b) {
	case "active":
		return snapshot.KindActive
	case "view":
		return snapshot.KindView
	case "committed":
		return snapshot.KindCommitted
	}
	return snapshot.KindUnknown
}
