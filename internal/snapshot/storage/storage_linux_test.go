package storage

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/topdir"
)

// plainDriver makes an empty fs/ and binds it; created, when set, hears of
// each Create and holds it until release is closed.
type plainDriver struct {
	created chan<- Snapshot
	release <-chan struct{}
}

func (d plainDriver) Create(ctx context.Context, s Snapshot) error {
	if d.created != nil {
		d.created <- s
		<-d.release
	}
	return os.Mkdir(s.FS(), 0o755)
}

func (plainDriver) Mounts(s Snapshot) []mount.Mount {
	return []mount.Mount{{Type: "bind", Source: s.FS(), Options: []string{"rbind", "rw"}}}
}

func open(t *testing.T, root string, d Driver) *Snapshotter {
	t.Helper()
	s, err := New(root, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

// TestLayout checks the on-disk layout and buckets drawn in the package
// documentation.
func TestLayout(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, plainDriver{})
	ctx := t.Context()
	if _, err := s.Prepare(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "A", "a", snapshot.WithLabels(map[string]string{"l": "v"})); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Prepare(ctx, "b", "A")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "snapshots", "2", "fs"); ms[0].Source != want {
		t.Errorf("b's tree is %s, want %s", ms[0].Source, want)
	}
	if got := entries(t, root); !reflect.DeepEqual(got, []string{"metadata.db", "snapshots"}) {
		t.Errorf("root holds %q", got)
	}
	if got := entries(t, filepath.Join(root, "snapshots")); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Errorf("snapshots/ holds %q, want 1 and 2", got)
	}
	s.Close()

	db, err := bolt.Open(filepath.Join(root, "metadata.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket([]byte("meta")).Get([]byte("schema")); string(v) != SchemaVersion {
			t.Errorf("meta/schema = %q, want %q", v, SchemaVersion)
		}
		snaps := tx.Bucket([]byte("snapshots"))
		A, b := snaps.Bucket([]byte("A")), snaps.Bucket([]byte("b"))
		for _, c := range []struct{ bucket, key, want string }{
			{"A", "id", "1"}, {"A", "kind", "committed"}, {"b", "id", "2"}, {"b", "kind", "active"}, {"b", "parent", "A"},
		} {
			if got := string(snaps.Bucket([]byte(c.bucket)).Get([]byte(c.key))); got != c.want {
				t.Errorf("snapshots/%s/%s = %q, want %q", c.bucket, c.key, got, c.want)
			}
		}
		if A.Get([]byte("size")) == nil || A.Get([]byte("inodes")) == nil || A.Get([]byte("created")) == nil {
			t.Error("committed A lacks size, inodes or created")
		}
		if v := A.Bucket([]byte("labels")).Get([]byte("l")); string(v) != "v" {
			t.Errorf("snapshots/A/labels/l = %q", v)
		}
		if A.Bucket([]byte("children")).Get([]byte("b")) == nil {
			t.Error("snapshots/A/children does not list b")
		}
		if b.Get([]byte("size")) != nil {
			t.Error("active b has a size")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNewRefusesOtherSchema(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, plainDriver{})
	s.Close()
	db, err := bolt.Open(filepath.Join(root, "metadata.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("2")) })
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(root, plainDriver{})
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), `"2"`) {
		t.Errorf("New on a schema-2 database: %v, want a failed precondition naming version 2", err)
	}
}

// TestCrashLeftoverAtNextID: a crash after the directory got its id but
// before the metadata committed leaves snapshots/<id>; the id is handed out
// again, and its new owner must start empty.
func TestCrashLeftoverAtNextID(t *testing.T) {
	root := t.TempDir()
	s := open(t, root, plainDriver{})
	ctx := t.Context()
	if _, err := s.Prepare(ctx, "a", ""); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(root, "snapshots", "2", "fs", "junk")
	if err := os.MkdirAll(filepath.Dir(junk), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(junk, []byte("from before the crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	ms, err := s.Prepare(ctx, "b", "")
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Source != filepath.Dir(junk) {
		t.Fatalf("b is at %s; the test expected id 2", ms[0].Source)
	}
	if got := entries(t, ms[0].Source); len(got) != 0 {
		t.Errorf("b's new tree holds %q from the crashed attempt", got)
	}
}

// TestCleanupSparesPrepareInProgress runs Cleanup while a Prepare is
// filling its directory.
func TestCleanupSparesPrepareInProgress(t *testing.T) {
	root := t.TempDir()
	created := make(chan Snapshot)
	release := make(chan struct{})
	s := open(t, root, plainDriver{created: created, release: release})
	ctx := t.Context()

	done := make(chan error, 1)
	go func() {
		_, err := s.Prepare(ctx, "a", "")
		done <- err
	}()
	inFlight := <-created
	if err := s.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(inFlight.Dir); err != nil {
		t.Errorf("Cleanup removed the directory of a Prepare in progress: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Prepare beside Cleanup: %v", err)
	}
	if got := entries(t, filepath.Join(root, "snapshots")); !slices.Equal(got, []string{"1"}) {
		t.Errorf("snapshots/ holds %q, want only 1", got)
	}

	// Once nothing is in progress, Cleanup removes what a crashed Prepare
	// left.
	if err := os.Mkdir(filepath.Join(root, "snapshots", "new-0123"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, filepath.Join(root, "snapshots")); !slices.Equal(got, []string{"1"}) {
		t.Errorf("after Cleanup, snapshots/ holds %q, want only 1", got)
	}
}

// TestSnapshotsDirSpreadsTrees checks that the directory holding the snapshot
// trees is marked as the top of independent trees, where the file system can
// tell (ext4), so unpacking a layer does not crawl for free inodes.
func TestSnapshotsDirSpreadsTrees(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/var/tmp", &st); err != nil || st.Type != unix.EXT4_SUPER_MAGIC {
		t.Skip("skipped: /var/tmp is not on ext4, the only file system that places directories by FS_TOPDIR_FL")
	}
	root, err := os.MkdirTemp("/var/tmp", "storage-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	open(t, root, plainDriver{})
	marked, err := topdir.Marked(filepath.Join(root, "snapshots"))
	if err != nil || !marked {
		t.Fatalf("snapshots/ marked as a top directory = %v, %v; want true", marked, err)
	}
}
