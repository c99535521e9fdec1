package volume

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/testutil"
)

var ctx = context.Background()

// openStore opens a store in a fresh temporary root, closed at the end of
// the test.
func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reopen closes s and opens its root again, as a daemon restart does.
func reopen(t *testing.T, s *Store) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	return s2
}

func create(t *testing.T, s *Store, name string, opts, labels map[string]string) Volume {
	t.Helper()
	v, created, err := s.Create(ctx, name, "", opts, labels)
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	if !created {
		t.Fatalf("create %q: reported as existing already", name)
	}
	return v
}

func writeFile(t *testing.T, path string, size int) {
	t.Helper()
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err has class is and reads exactly msg.
func wantErr(t *testing.T, err error, is func(error) bool, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", msg)
	}
	if !is(err) || err.Error() != msg {
		t.Fatalf("error %q (%T), want %q of the right class", err, err, msg)
	}
}

// rootEntries lists the store's root.
func rootEntries(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func names(vols []Volume) []string {
	out := []string{}
	for _, v := range vols {
		out = append(out, v.Name)
	}
	return out
}

func TestCreateAndInspect(t *testing.T) {
	s := openStore(t)
	before := time.Now()
	v := create(t, s, "my-vol_1.x", map[string]string{}, map[string]string{"app": "web"})
	after := time.Now()

	got, err := s.Get(ctx, "my-vol_1.x")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "my-vol_1.x" || got.Driver != "local" || got.Scope != "local" || got.Labels["app"] != "web" || got.Anonymous() {
		t.Errorf("inspect = %+v", got)
	}
	if want := filepath.Join(s.Root(), "my-vol_1.x", "_data"); got.Mountpoint != want || v.Mountpoint != want {
		t.Errorf("Mountpoint = %q (create said %q), want %q", got.Mountpoint, v.Mountpoint, want)
	}
	if got.CreatedAt.Before(before.Add(-time.Second)) || got.CreatedAt.After(after) {
		t.Errorf("CreatedAt = %v, want between %v and %v", got.CreatedAt, before, after)
	}
	fi, err := os.Stat(got.Mountpoint)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o755 {
		t.Errorf("the volume's directory: %v, %v; want a directory with mode 0755", fi, err)
	}
	if len(got.Refs) != 0 || len(got.Mounts) != 0 {
		t.Errorf("a new volume has references: %v", got.Refs)
	}
}

func TestCreateRefusesBadNames(t *testing.T) {
	s := openStore(t)
	const chars = `only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`
	for name, want := range map[string]string{
		"a":           "create a: volume name is too short, names should be at least two alphanumeric characters",
		"foo/bar":     `create foo/bar: "foo/bar" includes invalid characters for a local volume name, ` + chars,
		"../escape":   `create ../escape: "../escape" includes invalid characters for a local volume name, ` + chars,
		".new-x":      `create .new-x: ".new-x" includes invalid characters for a local volume name, ` + chars,
		"metadata.db": `create metadata.db: "metadata.db" is reserved: it is the name of the volume store's database`,
	} {
		_, _, err := s.Create(ctx, name, "local", nil, nil)
		wantErr(t, err, errdefs.IsInvalidArgument, want)
	}
	if got := rootEntries(t, s); !slices.Equal(got, []string{"metadata.db"}) {
		t.Errorf("refused creates left %v in the root", got)
	}
}

func TestCreateAnonymous(t *testing.T) {
	s := openStore(t)
	labels := map[string]string{"com.example": "x"}
	v, created, err := s.Create(ctx, "", "", nil, labels)
	if err != nil || !created {
		t.Fatalf("create anonymous: created=%v, %v", created, err)
	}
	if len(v.Name) != 64 || strings.Trim(v.Name, "0123456789abcdef") != "" {
		t.Errorf("anonymous volume named %q, want 64 hex digits", v.Name)
	}
	if !v.Anonymous() || v.Labels["com.docker.volume.anonymous"] != "" || v.Labels["com.example"] != "x" {
		t.Errorf("anonymous volume's labels = %v", v.Labels)
	}
	if len(labels) != 1 {
		t.Errorf("Create changed the caller's labels: %v", labels)
	}
	v2 := create(t, s, "", nil, nil)
	if v2.Name == v.Name {
		t.Error("two anonymous volumes got the same name")
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	s := openStore(t)
	first := create(t, s, "data", map[string]string{"mode": "0700"}, map[string]string{"v": "1"})

	// The same request, and docker run -v data:/x (no options), find it.
	for _, opts := range []map[string]string{{"mode": "0700"}, nil, {}} {
		v, created, err := s.Create(ctx, "data", "local", opts, map[string]string{"v": "2"})
		if err != nil || created {
			t.Fatalf("create again with %v: created=%v, %v", opts, created, err)
		}
		if !v.CreatedAt.Equal(first.CreatedAt) || v.Labels["v"] != "1" || v.Options["mode"] != "0700" {
			t.Errorf("create again returned %+v, want the first volume %+v", v, first)
		}
	}

	// Other options: a conflict, and the volume is untouched.
	_, _, err := s.Create(ctx, "data", "", map[string]string{"mode": "0750", "uid": "7"}, nil)
	wantErr(t, err, errdefs.IsConflict,
		`create data: volume "data" already exists with options {mode=0700}, not {mode=0750, uid=7}: remove it first to change them: volume name must be unique`)
	fi, err := os.Stat(first.Mountpoint)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("after the conflict the volume's directory is %v, %v; want mode 0700", fi, err)
	}
}

func TestCreateRefusesUnknownDriverAndBadOptions(t *testing.T) {
	s := openStore(t)
	_, _, err := s.Create(ctx, "v1", "flocker", nil, nil)
	wantErr(t, err, errdefs.IsNotFound, `create v1: error looking up volume plugin flocker: plugin "flocker" not found`)

	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"foo": "bar"}, `create v1: invalid option: "foo"`},
		{map[string]string{"type": "tmpfs"}, `create v1: missing required option: "device"`},
		{map[string]string{"size": "1g"}, `create v1: quota size requested but no quota support`},
		{map[string]string{"uid": "root"}, `create v1: invalid option uid="root": not a numeric id from 0 to 4294967294`},
		{map[string]string{"mode": "rwx"}, `create v1: invalid option mode="rwx": not an octal file mode such as 0755`},
	} {
		_, _, err := s.Create(ctx, "v1", "local", tc.opts, nil)
		wantErr(t, err, errdefs.IsInvalidArgument, tc.want)
	}
	if _, err := s.Get(ctx, "v1"); !errdefs.IsNotFound(err) {
		t.Errorf("a refused create left a volume: %v", err)
	}
}

func TestCreateAppliesOwnership(t *testing.T) {
	testutil.RequireRoot(t, "chowns the volume's directory")
	s := openStore(t)
	for _, tc := range []struct {
		opts           map[string]string
		uid, gid, mode uint32
	}{
		{map[string]string{"uid": "1000", "gid": "2000", "mode": "0770"}, 1000, 2000, 0o770},
		{map[string]string{"uid": "1234"}, 1234, 0, 0o755},
		{map[string]string{"gid": "50", "mode": "2775"}, 0, 50, 0o2775},
		{map[string]string{"mode": "1777"}, 0, 0, 0o1777},
	} {
		v := create(t, s, "", tc.opts, nil)
		var st syscall.Stat_t
		if err := syscall.Stat(v.Mountpoint, &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid != tc.uid || st.Gid != tc.gid || st.Mode&0o7777 != tc.mode {
			t.Errorf("-o %v: the volume's directory is %d:%d %04o, want %d:%d %04o",
				tc.opts, st.Uid, st.Gid, st.Mode&0o7777, tc.uid, tc.gid, tc.mode)
		}
	}
}

func TestRemoveRefusesVolumeInUse(t *testing.T) {
	s := openStore(t)
	v := create(t, s, "shared", nil, nil)
	writeFile(t, filepath.Join(v.Mountpoint, "f"), 10)
	for _, id := range []string{"bbb222", "aaa111", "bbb222"} {
		if err := s.Acquire(ctx, "shared", id); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.Get(ctx, "shared")
	if !slices.Equal(got.Refs, []string{"aaa111", "bbb222"}) {
		t.Errorf("Refs = %v, want [aaa111 bbb222]", got.Refs)
	}
	for _, force := range []bool{false, true} {
		err := s.Remove(ctx, "shared", force)
		wantErr(t, err, errdefs.IsConflict, "remove shared: volume is in use - [aaa111, bbb222]")
	}
	if _, err := os.Stat(filepath.Join(v.Mountpoint, "f")); err != nil {
		t.Fatalf("the refused remove touched the content: %v", err)
	}

	s.Release(ctx, "shared", "aaa111")
	wantErr(t, s.Remove(ctx, "shared", false), errdefs.IsConflict, "remove shared: volume is in use - [bbb222]")
	s.Release(ctx, "shared", "bbb222")
	s.Release(ctx, "shared", "never-held") // no error, no effect
	if err := s.Remove(ctx, "shared", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Dir(v.Mountpoint)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the removed volume's directory: %v", err)
	}
	_, err := s.Get(ctx, "shared")
	wantErr(t, err, errdefs.IsNotFound, "get shared: no such volume")
	wantErr(t, s.Remove(ctx, "shared", false), errdefs.IsNotFound, "get shared: no such volume")
	if err := s.Remove(ctx, "shared", true); err != nil {
		t.Errorf("remove -f of a missing volume: %v", err)
	}
	if err := s.Release(ctx, "shared", "aaa111"); err != nil {
		t.Errorf("release of a missing volume: %v", err)
	}
	wantErr(t, s.Acquire(ctx, "shared", "aaa111"), errdefs.IsNotFound, "get shared: no such volume")
	if got := rootEntries(t, s); !slices.Equal(got, []string{"metadata.db"}) {
		t.Errorf("root after the remove: %v", got)
	}
}

func TestPrune(t *testing.T) {
	s := openStore(t)
	anon := create(t, s, "", nil, nil)
	writeFile(t, filepath.Join(anon.Mountpoint, "f"), 100)
	used := create(t, s, "", nil, nil)
	s.Acquire(ctx, used.Name, "ctr1")
	named := create(t, s, "named", nil, nil)
	writeFile(t, filepath.Join(named.Mountpoint, "f"), 50)
	create(t, s, "tagged", nil, map[string]string{"env": "test"})
	tmpfsAnon := create(t, s, "", map[string]string{"type": "tmpfs", "device": "tmpfs"}, nil)

	// Default: anonymous volumes only, and not those in use or mounting.
	rep, err := s.Prune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Deleted, []string{anon.Name}) || rep.SpaceReclaimed != 100 {
		t.Fatalf("prune = %+v, want only %s and 100 bytes", rep, anon.Name)
	}
	// all=true with a label: named volumes with that label.
	rep, err = s.Prune(ctx, Filters{"all": {"true"}, "label": {"env=test"}})
	if err != nil || !slices.Equal(rep.Deleted, []string{"tagged"}) {
		t.Fatalf("prune all=true label=env=test = %+v, %v; want [tagged]", rep, err)
	}
	rep, err = s.Prune(ctx, Filters{"all": {"1"}, "label!": {"keep"}})
	if err != nil || !slices.Equal(rep.Deleted, []string{"named"}) || rep.SpaceReclaimed != 50 {
		t.Fatalf("prune all=1 = %+v, %v; want [named], 50 bytes", rep, err)
	}
	left, _ := s.List(ctx, nil)
	if want := []string{used.Name, tmpfsAnon.Name}; !slices.Equal(names(left), slices.Sorted(slices.Values(want))) {
		t.Errorf("after the prunes: %v, want %v", names(left), want)
	}
	rep, err = s.Prune(ctx, nil)
	if err != nil || rep.Deleted == nil || len(rep.Deleted) != 0 {
		t.Errorf("prune with nothing to do = %+v, %v; want an empty list", rep, err)
	}

	for msg, f := range map[string]Filters{
		"invalid filter 'dangling'":                                                {"dangling": {"true"}},
		"invalid filter 'all=[yes no]': only one value is expected":                {"all": {"yes", "no"}},
		`invalid filter 'all': strconv.ParseBool: parsing "maybe": invalid syntax`: {"all": {"maybe"}},
	} {
		_, err := s.Prune(ctx, f)
		wantErr(t, err, errdefs.IsInvalidArgument, msg)
	}
}

func TestListFilters(t *testing.T) {
	s := openStore(t)
	create(t, s, "alpha", nil, map[string]string{"env": "prod", "tier": "db"})
	create(t, s, "beta", nil, map[string]string{"env": "dev"})
	create(t, s, "gamma", nil, nil)
	create(t, s, "db-beta", nil, nil)
	s.Acquire(ctx, "gamma", "ctr")

	for _, tc := range []struct {
		f    Filters
		want []string
	}{
		{nil, []string{"alpha", "beta", "db-beta", "gamma"}},
		{Filters{"name": {"beta"}}, []string{"beta", "db-beta"}},
		{Filters{"name": {"^b"}}, []string{"beta"}},
		{Filters{"name": {"^b", "^g"}}, []string{"beta", "gamma"}},
		{Filters{"name": {"[invalid"}}, []string{}},
		{Filters{"driver": {"local"}}, []string{"alpha", "beta", "db-beta", "gamma"}},
		{Filters{"driver": {"nfs"}}, []string{}},
		{Filters{"label": {"env"}}, []string{"alpha", "beta"}},
		{Filters{"label": {"env=prod"}}, []string{"alpha"}},
		{Filters{"label": {"env", "tier=db"}}, []string{"alpha"}},
		{Filters{"label!": {"env"}}, []string{"db-beta", "gamma"}},
		{Filters{"label!": {"env=prod"}}, []string{"beta", "db-beta", "gamma"}},
		{Filters{"dangling": {"true"}}, []string{"alpha", "beta", "db-beta"}},
		{Filters{"dangling": {"0"}}, []string{"gamma"}},
		{Filters{"dangling": {"true"}, "label": {"env"}, "name": {"a"}}, []string{"alpha", "beta"}},
	} {
		vols, err := s.List(ctx, tc.f)
		if err != nil {
			t.Errorf("list %v: %v", tc.f, err)
			continue
		}
		if got := names(vols); !slices.Equal(got, tc.want) {
			t.Errorf("list %v = %v, want %v", tc.f, got, tc.want)
		}
	}
	for msg, f := range map[string]Filters{
		"invalid filter 'dangling=maybe'":      {"dangling": {"maybe"}},
		"invalid filter 'dangling=true,false'": {"dangling": {"true", "false"}},
		"invalid filter 'until'":               {"until": {"1h"}},
	} {
		_, err := s.List(ctx, f)
		wantErr(t, err, errdefs.IsInvalidArgument, msg)
	}
}

func TestUsage(t *testing.T) {
	s := openStore(t)
	v := create(t, s, "measured", nil, nil)
	writeFile(t, filepath.Join(v.Mountpoint, "a"), 1000)
	if err := os.Link(filepath.Join(v.Mountpoint, "a"), filepath.Join(v.Mountpoint, "a-again")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(v.Mountpoint, "sub"), 0o755)
	writeFile(t, filepath.Join(v.Mountpoint, "sub", "b"), 24)
	writeFile(t, filepath.Join(v.Mountpoint, "empty"), 0)
	os.Symlink("/usr", filepath.Join(v.Mountpoint, "link"))
	s.Acquire(ctx, "measured", "c1")
	s.Acquire(ctx, "measured", "c2")

	u, err := s.Usage(ctx, "measured")
	if err != nil {
		t.Fatal(err)
	}
	if u.Size != 1000+24+int64(len("/usr")) || u.RefCount != 2 {
		t.Errorf("usage = %+v, want 1028 bytes (the hard link once, the symlink's own size) and 2 references", u)
	}

	create(t, s, "remote", map[string]string{"type": "nfs", "device": ":/export", "o": "addr=10.0.0.1"}, nil)
	if u, err := s.Usage(ctx, "remote"); err != nil || u.Size != -1 {
		t.Errorf("usage of a mounting volume = %+v, %v; want size -1 (not the host's to measure)", u, err)
	}
	_, err = s.Usage(ctx, "nope")
	wantErr(t, err, errdefs.IsNotFound, "get nope: no such volume")
}

func TestStateSurvivesReopen(t *testing.T) {
	s := openStore(t)
	v := create(t, s, "kept", map[string]string{"mode": "0711"}, map[string]string{"a": "b"})
	writeFile(t, filepath.Join(v.Mountpoint, "f"), 5)
	s.Acquire(ctx, "kept", "ctr-b")
	if _, err := s.Mount(ctx, "kept", "ctr-a"); err != nil {
		t.Fatal(err)
	}

	s = reopen(t, s)
	got, err := s.Get(ctx, "kept")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(v.CreatedAt) || got.Labels["a"] != "b" || got.Options["mode"] != "0711" ||
		!slices.Equal(got.Refs, []string{"ctr-a", "ctr-b"}) || !slices.Equal(got.Mounts, []string{"ctr-a"}) {
		t.Errorf("after reopen: %+v, want %+v with refs [ctr-a ctr-b] and mounts [ctr-a]", got, v)
	}
	wantErr(t, s.Remove(ctx, "kept", false), errdefs.IsConflict, "remove kept: volume is in use - [ctr-a, ctr-b]")
	if rc := s.Reconciled(); rc.Removed != nil || rc.Adopted != nil || rc.Recreated != nil || rc.Unmounted != nil || rc.Errors != nil {
		t.Errorf("a clean reopen repaired something: %+v", rc)
	}
	if _, err := os.Stat(filepath.Join(got.Mountpoint, "f")); err != nil {
		t.Error(err)
	}
}

func TestOpenRepairsCrashLeftovers(t *testing.T) {
	s := openStore(t)
	kept := create(t, s, "kept", nil, nil)
	writeFile(t, filepath.Join(kept.Mountpoint, "f"), 3)
	lost := create(t, s, "lost", map[string]string{"mode": "0700"}, nil)
	if err := os.RemoveAll(filepath.Dir(lost.Mountpoint)); err != nil {
		t.Fatal(err)
	}
	root := s.Root()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What crashes leave: a create before its rename, a remove after its
	// rename, a create between its rename and its commit, and a volume
	// directory holding data that the database does not know.
	for _, d := range []string{".new-0123/_data", ".rm-4567/_data/sub", "halfmade/_data", "orphan/_data"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, ".rm-4567/_data/sub/f"), 10)
	writeFile(t, filepath.Join(root, "orphan/_data/precious"), 10)
	writeFile(t, filepath.Join(root, "README"), 1) // not ours: left alone

	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	rc := s.Reconciled()
	if !slices.Equal(rc.Removed, []string{".new-0123", ".rm-4567", "halfmade"}) ||
		!slices.Equal(rc.Adopted, []string{"orphan"}) || !slices.Equal(rc.Recreated, []string{"lost"}) ||
		rc.Unmounted != nil || rc.Errors != nil {
		t.Errorf("reconciled = %+v", rc)
	}
	if got := rootEntries(t, s); !slices.Equal(got, []string{"README", "kept", "lost", "metadata.db", "orphan"}) {
		t.Errorf("root after open = %v", got)
	}
	vols, _ := s.List(ctx, nil)
	if !slices.Equal(names(vols), []string{"kept", "lost", "orphan"}) {
		t.Errorf("volumes after open = %v", names(vols))
	}
	if _, err := os.Stat(filepath.Join(kept.Mountpoint, "f")); err != nil {
		t.Errorf("a sound volume lost its content: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "orphan/_data/precious")); err != nil {
		t.Errorf("the adopted volume lost its content: %v", err)
	}
	if fi, err := os.Stat(lost.Mountpoint); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the recreated volume's directory: %v, %v; want mode 0700 as its options say", fi, err)
	}
	if err := s.Remove(ctx, "orphan", false); err != nil {
		t.Errorf("remove the adopted volume: %v", err)
	}
}

func TestOpenRefusesOtherSchema(t *testing.T) {
	s := openStore(t)
	root := s.Root()
	s.Close()
	db, err := bolt.Open(filepath.Join(root, "metadata.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("meta")).Put([]byte("schema"), []byte("9")) })
	db.Close()
	_, err = Open(root)
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), `schema version "9", this berth reads "1"`) {
		t.Errorf("open of a schema 9 store: %v", err)
	}
}

func TestConcurrentCreatesOfOneNameMakeOneVolume(t *testing.T) {
	s := openStore(t)
	const n = 8
	created := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, c, err := s.Create(ctx, "raced", "", nil, nil)
			created <- c
			errs <- err
		}()
	}
	count := 0
	for range n {
		if <-created {
			count++
		}
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if count != 1 {
		t.Errorf("%d of %d concurrent creates report creating the volume, want 1", count, n)
	}
	if got := rootEntries(t, s); !slices.Equal(got, []string{"metadata.db", "raced"}) {
		t.Errorf("root = %v", got)
	}
}
