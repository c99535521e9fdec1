package volume

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/boltdb"
)

// SchemaVersion is the layout of metadata.db (see the package documentation).
// Open refuses a database of any other version.
const SchemaVersion = "1"

var (
	bucketVolumes = []byte("volumes")
)

const (
	dataDir   = "_data"
	newPrefix = ".new-"
	rmPrefix  = ".rm-"
)

var (
	errNoSuchVolume = errdefs.ErrNotFound.WithMessage("no such volume")
	errInUse        = errdefs.ErrConflict.WithMessage("volume is in use")
)

// record is a volume as metadata.db keeps it, under its name.
type record struct {
	Driver  string            `json:"driver"`
	Created time.Time         `json:"created"`
	Labels  map[string]string `json:"labels"`
	Options map[string]string `json:"options"`
	Refs    []string          `json:"refs,omitempty"`
	Mounts  []string          `json:"mounts,omitempty"`
}

// Store keeps the volumes under one root directory. Its methods are safe for
// concurrent use.
type Store struct {
	root       string
	db         *bolt.DB
	locks      nameLocks
	pruning    atomic.Bool
	reconciled Reconciliation
}

// Open opens (creating if needed) the volume store rooted at root, normally
// <data-root>/volumes, and repairs what a crash left (see Reconciled). Only
// one Store may have a root open at a time; Open waits up to 5 seconds for
// another to close it.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o701); err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	// Mount points are compared with /proc's view, where symlinks are resolved.
	root, err := filepath.Abs(root)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	path := filepath.Join(root, metadataFile)
	db, err := boltdb.Open(path, "volume metadata", SchemaVersion, bucketVolumes)
	if err != nil {
		return nil, err
	}
	s := &Store{root: root, db: db}
	if err := s.reconcile(); err != nil {
		db.Close()
		return nil, fmt.Errorf("volume store %s: %w", root, err)
	}
	return s, nil
}

// Close closes the metadata database. Mounted volumes stay mounted: their
// holders are recorded, and the next Open keeps them.
func (s *Store) Close() error { return s.db.Close() }

// Root is the directory the store keeps everything in.
func (s *Store) Root() string { return s.root }

// Reconciled says what Open repaired.
func (s *Store) Reconciled() Reconciliation { return s.reconciled }

func (s *Store) dir(name string) string     { return filepath.Join(s.root, name) }
func (s *Store) dataDir(name string) string { return filepath.Join(s.root, name, dataDir) }

// Create creates the volume name with the driver ("" means local) and its
// options and labels, and reports whether it was created.
//
// An empty name creates an anonymous volume: 64 random hex digits, labelled
// LabelAnonymous. Creating a name that exists returns the existing volume, as
// Docker does (docker run -v NAME:/path creates on first use), unless opts are
// given and differ from the volume's, which is a conflict. Labels are those of
// the first creation.
func (s *Store) Create(ctx context.Context, name, driver string, opts, labels map[string]string) (Volume, bool, error) {
	if name == "" {
		name = randomName()
		labels = maps.Clone(labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[LabelAnonymous] = ""
	}
	if driver != "" && driver != DriverLocal {
		return Volume{}, false, fmt.Errorf("create %s: %w", name,
			errdefs.ErrNotFound.WithMessage(fmt.Sprintf("error looking up volume plugin %s: plugin %q not found", driver, driver)))
	}
	if err := validateName(name); err != nil {
		return Volume{}, false, fmt.Errorf("create %s: %w", name, err)
	}
	cfg, err := parseOptions(opts)
	if err != nil {
		return Volume{}, false, fmt.Errorf("create %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return Volume{}, false, err
	}

	unlock := s.locks.lock(name)
	defer unlock()
	if r, err := s.get(name); err == nil {
		if len(opts) > 0 && !maps.Equal(r.Options, opts) {
			return Volume{}, false, fmt.Errorf("create %s: %w", name, errdefs.ErrConflict.WithMessage(fmt.Sprintf(
				"volume %q already exists with options %s, not %s: remove it first to change them: volume name must be unique",
				name, formatOptions(r.Options), formatOptions(opts))))
		}
		return s.volume(name, r), false, nil
	} else if !errdefs.IsNotFound(err) {
		return Volume{}, false, err
	}

	tmp := s.dir(newPrefix + randomSuffix())
	if err := buildVolumeDir(tmp, cfg); err != nil {
		os.RemoveAll(tmp)
		return Volume{}, false, fmt.Errorf("create %s: %w", name, err)
	}
	r := &record{Driver: DriverLocal, Created: time.Now().UTC(), Labels: labels, Options: opts}
	renamed := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := putRecord(tx, name, r); err != nil {
			return err
		}
		if err := os.Rename(tmp, s.dir(name)); err != nil {
			if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
				return fmt.Errorf("directory %s exists but no volume owns it: move it away (or restart berthd to adopt it)", s.dir(name))
			}
			return err
		}
		renamed = true
		// The rename must be on disk before the metadata naming it is.
		return syncDir(s.root)
	})
	if err != nil {
		if renamed {
			os.RemoveAll(s.dir(name))
		}
		os.RemoveAll(tmp)
		return Volume{}, false, fmt.Errorf("create %s: %w", name, err)
	}
	return s.volume(name, r), true, nil
}

// buildVolumeDir makes dir (0701) and its _data (0755, or as the options
// say), owned as the options say.
func buildVolumeDir(dir string, cfg config) error {
	if err := os.Mkdir(dir, 0o701); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o701); err != nil { // whatever the umask
		return err
	}
	data := filepath.Join(dir, dataDir)
	if err := os.Mkdir(data, 0o755); err != nil {
		return err
	}
	return applyOwnership(data, cfg, true)
}

// applyOwnership gives dir the owner and mode the options ask for; with
// fresh, a mode the options leave open becomes 0755.
func applyOwnership(dir string, cfg config, fresh bool) error {
	if cfg.uid >= 0 || cfg.gid >= 0 {
		if err := unix.Lchown(dir, cfg.uid, cfg.gid); err != nil {
			return fmt.Errorf("set owner of %s to %d:%d: %w", dir, cfg.uid, cfg.gid, err)
		}
	}
	mode, set := uint32(0o755), fresh
	if cfg.hasMode {
		mode, set = cfg.mode, true
	}
	if set {
		if err := unix.Chmod(dir, mode); err != nil {
			return fmt.Errorf("set mode of %s to %04o: %w", dir, mode, err)
		}
	}
	return nil
}

// formatOptions writes opts as "{k=v, k=v}", sorted, for messages.
func formatOptions(opts map[string]string) string {
	parts := make([]string, 0, len(opts))
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		parts = append(parts, k+"="+opts[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// Get describes the volume name.
func (s *Store) Get(ctx context.Context, name string) (Volume, error) {
	r, err := s.get(name)
	if err != nil {
		return Volume{}, err
	}
	return s.volume(name, r), nil
}

// List returns the volumes that match f (all of them for an empty f), sorted
// by name. See Filters for the keys.
func (s *Store) List(ctx context.Context, f Filters) ([]Volume, error) {
	sel, err := f.compile(listFilters)
	if err != nil {
		return nil, err
	}
	all, err := s.all()
	if err != nil {
		return nil, err
	}
	out := make([]Volume, 0, len(all))
	for _, v := range all {
		if sel.match(v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// Remove deletes the volume name and its content. A volume some container
// references is refused with Docker's message, force or not; force makes a
// missing volume no error, and a directory that cannot be deleted once the
// volume is forgotten no error either (the next Open retries).
func (s *Store) Remove(ctx context.Context, name string, force bool) error {
	unlock := s.locks.lock(name)
	defer unlock()
	err := s.remove(name)
	if force && (errdefs.IsNotFound(err) || errors.Is(err, errLeftDir)) {
		return nil
	}
	return err
}

// errLeftDir marks a removal whose metadata is gone but whose directory is not.
var errLeftDir = errors.New("its directory remains until the next start")

// remove is Remove for a caller holding the name's lock.
func (s *Store) remove(name string) error {
	r, err := s.get(name)
	if err != nil {
		return err
	}
	if len(r.Refs) > 0 {
		return fmt.Errorf("remove %s: %w - [%s]", name, errInUse, strings.Join(r.Refs, ", "))
	}
	if cfg, err := parseOptions(r.Options); err == nil && cfg.mounts() {
		// Never delete through a mount: that would empty a bound host
		// directory or a remote share.
		if err := unmountData(s.dataDir(name)); err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	doomed := s.dir(rmPrefix + randomSuffix())
	moved := false
	err = s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketVolumes).Delete([]byte(name)); err != nil {
			return err
		}
		if err := os.Rename(s.dir(name), doomed); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		moved = true
		return nil
	})
	if err != nil {
		if moved { // renamed, but the metadata stayed: put the directory back
			_ = os.Rename(doomed, s.dir(name))
		}
		return fmt.Errorf("remove %s: %w", name, err)
	}
	if !moved {
		return nil
	}
	if err := removeTree(doomed); err != nil {
		return fmt.Errorf("volume %s removed, but %w: %w", name, errLeftDir, err)
	}
	return nil
}

// Prune removes the volumes no container references and that f selects: by
// default only anonymous ones, with all=true named ones too (Docker 23 and
// later). Volumes with mount options are never pruned (their data is not
// the host's, as Docker). One prune runs at a time.
func (s *Store) Prune(ctx context.Context, f Filters) (PruneReport, error) {
	var rep PruneReport
	if !s.pruning.CompareAndSwap(false, true) {
		return rep, errdefs.ErrConflict.WithMessage("a prune operation is already running")
	}
	defer s.pruning.Store(false)
	sel, err := f.compile(pruneFilters)
	if err != nil {
		return rep, err
	}
	all, err := f.pruneAll()
	if err != nil {
		return rep, err
	}
	vols, err := s.all()
	if err != nil {
		return rep, err
	}
	rep.Deleted = []string{}
	for _, v := range vols {
		if len(v.Refs) > 0 || !all && !v.Anonymous() || !sel.match(v) {
			continue
		}
		if cfg, err := parseOptions(v.Options); err != nil || cfg.mounts() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		size, _ := dirSize(v.Mountpoint)
		unlock := s.locks.lock(v.Name)
		err := s.remove(v.Name)
		unlock()
		if err != nil && !errors.Is(err, errLeftDir) {
			continue // in use by now, or already gone
		}
		rep.Deleted = append(rep.Deleted, v.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, nil
}

// Usage measures the volume name.
func (s *Store) Usage(ctx context.Context, name string) (Usage, error) {
	r, err := s.get(name)
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Size: -1, RefCount: int64(len(r.Refs))}
	if cfg, err := parseOptions(r.Options); err == nil && cfg.mounts() {
		return u, nil
	}
	if u.Size, err = dirSize(s.dataDir(name)); err != nil {
		return Usage{}, fmt.Errorf("usage of volume %s: %w", name, err)
	}
	return u, nil
}

// Acquire records that container id uses the volume name, which is then in
// use until Release.
func (s *Store) Acquire(ctx context.Context, name, id string) error {
	if id == "" {
		return fmt.Errorf("volume %s: the container ID is empty: %w", name, errdefs.ErrInvalidArgument)
	}
	unlock := s.locks.lock(name)
	defer unlock()
	_, err := s.update(name, func(r *record) { r.Refs = addID(r.Refs, id) })
	return err
}

// Release records that container id no longer uses the volume name (nor has
// it mounted); a volume with mount options is unmounted when id was its last
// holder. Releasing what is not held, or a missing volume, is no error.
func (s *Store) Release(ctx context.Context, name, id string) error {
	unlock := s.locks.lock(name)
	defer unlock()
	r, err := s.update(name, func(r *record) {
		r.Refs = removeID(r.Refs, id)
		r.Mounts = removeID(r.Mounts, id)
	})
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.unmountIfIdle(name, r)
}

// Mount makes the volume name ready for container id and returns the
// directory to bind into the container. A volume with mount options has its
// file system mounted there by the first holder (and its root given the uid,
// gid and mode options); id also becomes a reference, as with Acquire. The
// mount is made in the calling thread's mount namespace.
func (s *Store) Mount(ctx context.Context, name, id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("volume %s: the container ID is empty: %w", name, errdefs.ErrInvalidArgument)
	}
	unlock := s.locks.lock(name)
	defer unlock()
	r, err := s.get(name)
	if err != nil {
		return "", err
	}
	data := s.dataDir(name)
	mountedNow := false
	if cfg, err := parseOptions(r.Options); err != nil {
		return "", fmt.Errorf("volume %s: stored options: %w", name, err)
	} else if cfg.mounts() {
		if mountedNow, err = mountData(data, cfg); err != nil {
			return "", fmt.Errorf("mount volume %s: %w", name, err)
		}
	}
	_, err = s.update(name, func(r *record) {
		r.Refs = addID(r.Refs, id)
		r.Mounts = addID(r.Mounts, id)
	})
	if err != nil {
		if mountedNow {
			_ = unmountData(data)
		}
		return "", err
	}
	return data, nil
}

// Unmount records that container id no longer has the volume name mounted
// (it still references it); a volume with mount options is unmounted when id
// was its last holder. Unmounting what is not mounted is no error.
func (s *Store) Unmount(ctx context.Context, name, id string) error {
	unlock := s.locks.lock(name)
	defer unlock()
	r, err := s.update(name, func(r *record) { r.Mounts = removeID(r.Mounts, id) })
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.unmountIfIdle(name, r)
}

// unmountIfIdle unmounts the file system of volume name if it has one and r
// has no holder left.
func (s *Store) unmountIfIdle(name string, r *record) error {
	cfg, err := parseOptions(r.Options)
	if err != nil || !cfg.mounts() || len(r.Mounts) > 0 {
		return nil
	}
	if err := unmountData(s.dataDir(name)); err != nil {
		return fmt.Errorf("volume %s: %w", name, err)
	}
	return nil
}

// Populate fills the volume name, when it is empty, with what the container's
// root file system rootfs has at path, as Docker does when a container is
// created with a volume (see CopyUp); the volume's uid, gid and mode options,
// if any, still hold for its root. It reports whether it copied. A volume with
// mount options must be mounted first (Mount).
func (s *Store) Populate(ctx context.Context, name, rootfs, path string) (bool, error) {
	unlock := s.locks.lock(name)
	defer unlock()
	r, err := s.get(name)
	if err != nil {
		return false, err
	}
	cfg, err := parseOptions(r.Options)
	if err != nil {
		return false, fmt.Errorf("volume %s: stored options: %w", name, err)
	}
	data := s.dataDir(name)
	if cfg.mounts() {
		if m, err := isMounted(data); err != nil || !m {
			return false, fmt.Errorf("populate volume %s: its file system is not mounted (Mount first): %w", name, errdefs.ErrFailedPrecondition)
		}
	}
	copied, err := CopyUp(data, rootfs, path)
	if err != nil {
		return copied, fmt.Errorf("populate volume %s from %s: %w", name, path, err)
	}
	if copied && cfg.ownership() {
		if err := applyOwnership(data, cfg, false); err != nil {
			return copied, fmt.Errorf("populate volume %s: %w", name, err)
		}
	}
	return copied, nil
}

// get reads the record of volume name.
func (s *Store) get(name string) (*record, error) {
	var r *record
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		r, err = getRecord(tx, name)
		return err
	})
	return r, err
}

// update changes the record of volume name with fn, in one transaction, and
// returns it as written.
func (s *Store) update(name string, fn func(*record)) (*record, error) {
	var r *record
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = getRecord(tx, name); err != nil {
			return err
		}
		fn(r)
		return putRecord(tx, name, r)
	})
	return r, err
}

// all returns every volume, sorted by name.
func (s *Store) all() ([]Volume, error) {
	var out []Volume
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVolumes).ForEach(func(k, v []byte) error {
			r, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			out = append(out, s.volume(string(k), r))
			return nil
		})
	})
	return out, err // bbolt iterates in key order: sorted
}

func (s *Store) volume(name string, r *record) Volume {
	return Volume{
		Name:       name,
		Driver:     r.Driver,
		Mountpoint: s.dataDir(name),
		CreatedAt:  r.Created,
		Labels:     r.Labels,
		Options:    r.Options,
		Scope:      ScopeLocal,
		Refs:       r.Refs,
		Mounts:     r.Mounts,
	}
}

func getRecord(tx *bolt.Tx, name string) (*record, error) {
	v := tx.Bucket(bucketVolumes).Get([]byte(name))
	if v == nil {
		return nil, fmt.Errorf("get %s: %w", name, errNoSuchVolume)
	}
	return decodeRecord(name, v)
}

func decodeRecord(name string, v []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("volume %s: decode record: %w", name, err)
	}
	return &r, nil
}

func putRecord(tx *bolt.Tx, name string, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketVolumes).Put([]byte(name), b)
}

// addID adds id to the sorted set ids.
func addID(ids []string, id string) []string {
	i, found := slices.BinarySearch(ids, id)
	if found {
		return ids
	}
	return slices.Insert(ids, i, id)
}

// removeID removes id from the sorted set ids.
func removeID(ids []string, id string) []string {
	i, found := slices.BinarySearch(ids, id)
	if !found {
		return ids
	}
	return slices.Delete(ids, i, i+1)
}

// reconcile repairs what a crash left in the root (see the package
// documentation) and records it in s.reconciled.
func (s *Store) reconcile() error {
	var rc Reconciliation
	recs := map[string]*record{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketVolumes).ForEach(func(k, v []byte) error {
			r, err := decodeRecord(string(k), v)
			if err != nil {
				return err
			}
			recs[string(k)] = r
			return nil
		})
	})
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(s.root)
	if err != nil {
		return err
	}
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, newPrefix) || strings.HasPrefix(name, rmPrefix):
			if err := removeTree(s.dir(name)); err != nil {
				rc.Errors = append(rc.Errors, fmt.Errorf("remove leftover %s: %w", s.dir(name), err))
			} else {
				rc.Removed = append(rc.Removed, name)
			}
			continue
		case !e.IsDir() || validateName(name) != nil:
			continue // not a volume's: the database, or something berth did not make
		}
		present[name] = true
		if recs[name] != nil {
			continue
		}
		empty, err := dirEmpty(s.dataDir(name))
		if err != nil {
			rc.Errors = append(rc.Errors, fmt.Errorf("directory %s without metadata: %w", s.dir(name), err))
			continue
		}
		if empty { // a create cut short between its rename and its commit
			if err := removeTree(s.dir(name)); err != nil {
				rc.Errors = append(rc.Errors, fmt.Errorf("remove leftover %s: %w", s.dir(name), err))
			} else {
				rc.Removed = append(rc.Removed, name)
			}
			continue
		}
		if err := s.adopt(name); err != nil {
			rc.Errors = append(rc.Errors, fmt.Errorf("adopt volume directory %s: %w", s.dir(name), err))
			continue
		}
		rc.Adopted = append(rc.Adopted, name)
	}
	for _, name := range slices.Sorted(maps.Keys(recs)) {
		r := recs[name]
		cfg, cfgErr := parseOptions(r.Options)
		if _, err := os.Lstat(s.dataDir(name)); errors.Is(err, os.ErrNotExist) || !present[name] {
			if err := recreate(s.dir(name), cfg); err != nil {
				rc.Errors = append(rc.Errors, fmt.Errorf("volume %s has no directory, and making one failed: %w", name, err))
			} else {
				rc.Recreated = append(rc.Recreated, name)
			}
			continue
		}
		if cfgErr != nil || !cfg.mounts() || len(r.Mounts) > 0 {
			continue
		}
		if m, err := isMounted(s.dataDir(name)); err == nil && m {
			if err := unmountData(s.dataDir(name)); err != nil {
				rc.Errors = append(rc.Errors, fmt.Errorf("volume %s: %w", name, err))
			} else {
				rc.Unmounted = append(rc.Unmounted, name)
			}
		}
	}
	s.reconciled = rc
	return nil
}

// adopt records the directory of volume name, which holds data, as a plain
// local volume created when the directory was.
func (s *Store) adopt(name string) error {
	var st unix.Stat_t
	if err := unix.Stat(s.dir(name), &st); err != nil {
		return err
	}
	r := &record{Driver: DriverLocal, Created: time.Unix(st.Ctim.Unix()).UTC()}
	return s.db.Update(func(tx *bolt.Tx) error { return putRecord(tx, name, r) })
}

// recreate makes the missing parts of a recorded volume's directory dir.
func recreate(dir string, cfg config) error {
	if err := os.Mkdir(dir, 0o701); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	data := filepath.Join(dir, dataDir)
	if err := os.Mkdir(data, 0o755); err != nil {
		return err
	}
	return applyOwnership(data, cfg, true)
}

// dirEmpty reports whether dir has no entries; a missing dir is empty.
func dirEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return false, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return true, nil
}

func randomSuffix() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on Linux
	}
	return hex.EncodeToString(b)
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
