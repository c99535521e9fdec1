package container

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
)

func add(t *testing.T, s *Store, id, name string) *Container {
	t.Helper()
	n, err := s.ReserveName(name, id)
	if err != nil {
		t.Fatal(err)
	}
	c := &Container{ID: id, Name: n, Created: time.Now(), Config: &container.Config{Image: "bbox"}, State: State{Status: Created}}
	if err := s.Add(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLookupOrderAsDocker(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := add(t, s, "abc123"+strings.Repeat("0", 58), "web")
	b := add(t, s, "abd456"+strings.Repeat("1", 58), "abc") // a name that is also a's prefix
	for ref, want := range map[string]*Container{
		a.ID:   a,
		"web":  a,
		"/web": a,
		"abc":  b, // a name beats an ID prefix
		"abc1": a,
		"abd":  b,
	} {
		got, err := s.Get(ref)
		if err != nil || got != want {
			t.Errorf("Get(%q) = %v, %v; want %s", ref, got, err, want.Name)
		}
	}
	if _, err := s.Get("ab"); !errdefs.IsInvalidArgument(err) || err.Error() != "multiple IDs found with provided prefix: ab" {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := s.Get("nosuch"); !errdefs.IsNotFound(err) || err.Error() != "No such container: nosuch" {
		t.Errorf("missing: %v", err)
	}
}

func TestNamesAsDocker(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a := add(t, s, s.NewID(), "web")
	_, err = s.ReserveName("web", s.NewID())
	want := `Conflict. The container name "/web" is already in use by container "` + a.ID + `". You have to remove (or rename) that container to be able to reuse that name.`
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Errorf("name in use: %v", err)
	}
	if _, err := s.ReserveName("bad name!", "x"); !errdefs.IsInvalidArgument(err) || err.Error() != "Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" {
		t.Errorf("invalid name: %v", err)
	}
	gen, err := s.ReserveName("", "y")
	if err != nil || !validName.MatchString(gen) || !strings.Contains(gen, "_") {
		t.Errorf("generated name %q, %v", gen, err)
	}
	s.ReleaseName(gen, "y")
	if _, err := s.ReserveName(strings.TrimPrefix(gen, "/"), "z"); err != nil {
		t.Errorf("a released name is free again: %v", err)
	}

	// Rename frees the old name and persists the new one.
	nn, err := s.ReserveName("api", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	a.Lock()
	err = s.Rename(a, nn)
	a.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReserveName("web", "w"); err != nil {
		t.Errorf("the old name stays taken after a rename: %v", err)
	}
	if got, err := s.Get("api"); err != nil || got != a {
		t.Errorf("Get(api) after rename: %v", err)
	}
}

func TestNewIDIsNotANumber(t *testing.T) {
	s, _ := Open(t.TempDir())
	for range 200 {
		id := s.NewID()
		if len(id) != 64 || strings.Trim(id[:12], "0123456789") == "" {
			t.Fatalf("NewID() = %q", id)
		}
	}
}

func TestPersistenceAndLeftovers(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root)
	a := add(t, s, s.NewID(), "keep")
	a.Lock()
	a.State = State{Status: Exited, ExitCode: 3, FinishedAt: time.Now().UTC()}
	if err := s.Save(a); err != nil {
		t.Fatal(err)
	}
	a.Unlock()
	gone := add(t, s, s.NewID(), "gone")
	if err := s.Delete(gone); err != nil {
		t.Fatal(err)
	}
	// A creation cut short: a directory without its record.
	half := filepath.Join(root, strings.Repeat("e", 64))
	os.MkdirAll(half, 0o700)

	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Get("keep")
	if err != nil || got.State.Status != Exited || got.State.ExitCode != 3 || got.Config.Image != "bbox" {
		t.Fatalf("reopened: %+v, %v", got, err)
	}
	if _, err := s2.Get("gone"); !errdefs.IsNotFound(err) {
		t.Errorf("a deleted container came back: %v", err)
	}
	if l := s2.Leftovers(); len(l) != 1 || l[0] != filepath.Base(half) {
		t.Errorf("leftovers %q", l)
	}
	if err := s2.RemoveDir(filepath.Base(half)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(half); !os.IsNotExist(err) {
		t.Errorf("leftover still there: %v", err)
	}
	if s2.Len() != 1 {
		t.Errorf("Len = %d", s2.Len())
	}
}

func TestForgetLeavesTheDirectoryAsALeftover(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root)
	c := add(t, s, s.NewID(), "once")
	c.HostConfig = &container.HostConfig{AutoRemove: true}
	if err := s.Save(c); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget(c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("once"); !errdefs.IsNotFound(err) {
		t.Errorf("a forgotten container is still found: %v", err)
	}
	if _, err := s.ReserveName("once", s.NewID()); err != nil {
		t.Errorf("the name of a forgotten container is not free: %v", err)
	}
	// Cut short before RemoveDir: the next Open finds a leftover.
	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if l := s2.Leftovers(); len(l) != 1 || l[0] != c.ID {
		t.Errorf("leftovers %q, want the forgotten container's", l)
	}
}
