package container

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/atomicfile"
)

const recordFile = "config.v2.json"

// validName is Docker's rule for container names.
var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// Store holds every container record of one root directory.
type Store struct {
	root string

	mu     sync.RWMutex
	byID   map[string]*Container
	byName map[string]string // "/name" -> ID; reserved names map to "" until their record exists
	// leftovers are directories without a readable record.
	leftovers []string
}

// Open loads the records under root, creating root if needed.
func Open(root string) (*Store, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("container store: %w", err)
	}
	s := &Store{root: root, byID: map[string]*Container{}, byName: map[string]string{}}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("container store: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, e.Name(), recordFile))
		var c Container
		if err == nil {
			err = json.Unmarshal(data, &c)
		}
		if err != nil || c.ID != e.Name() {
			s.leftovers = append(s.leftovers, e.Name())
			continue
		}
		s.byID[c.ID] = &c
		s.byName[c.Name] = c.ID
	}
	return s, nil
}

// Leftovers returns the IDs of directories that hold no readable record: a
// creation a crash cut short. RemoveDir removes one.
func (s *Store) Leftovers() []string { return append([]string(nil), s.leftovers...) }

// Dir is the directory of container id's own files.
func (s *Store) Dir(id string) string { return filepath.Join(s.root, id) }

// NewID returns a fresh container ID: 64 hex digits whose 12-digit short form
// is not all decimal digits (it would read as a number), as Docker's.
func (s *Store) NewID() string {
	for {
		var b [32]byte
		rand.Read(b[:])
		id := hex.EncodeToString(b[:])
		if strings.Trim(id[:12], "0123456789") == "" {
			continue
		}
		s.mu.RLock()
		_, taken := s.byID[id]
		s.mu.RUnlock()
		if !taken {
			return id
		}
	}
}

// ReserveName claims name for id, or a generated name when name is empty, and
// returns it with its slash. A name in use is a conflict in Docker's words.
func (s *Store) ReserveName(name, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "" {
		for i := 0; ; i++ {
			n := "/" + generateName(i > 5)
			if _, taken := s.byName[n]; !taken {
				s.byName[n] = id
				return n, nil
			}
		}
	}
	if !validName.MatchString(name) {
		return "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
	}
	n := "/" + strings.TrimPrefix(name, "/")
	if owner, taken := s.byName[n]; taken {
		return "", errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", n, owner))
	}
	s.byName[n] = id
	return n, nil
}

// ReleaseName gives up a name reserved or used by id.
func (s *Store) ReleaseName(name, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byName[name] == id {
		delete(s.byName, name)
	}
}

// Add records a new container, whose name it must have reserved. The record
// is on disk when Add returns.
func (s *Store) Add(c *Container) error {
	if err := os.MkdirAll(s.Dir(c.ID), 0o700); err != nil {
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	c.Lock()
	err := s.saveLocked(c)
	c.Unlock()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.byID[c.ID] = c
	s.byName[c.Name] = c.ID
	s.mu.Unlock()
	return nil
}

// Save writes c's record; the caller holds c's lock.
func (s *Store) Save(c *Container) error { return s.saveLocked(c) }

func (s *Store) saveLocked(c *Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("container %s: encode record: %w", c.ID, err)
	}
	write := atomicfile.WriteFile
	if c.HostConfig != nil && c.HostConfig.AutoRemove {
		// A container removed when it stops cannot outlive a reboot, which stops it:
		// its record need not reach the disk (two flushes off every `run --rm`). One
		// a power cut lost or tore is a leftover, removed at the next start.
		write = atomicfile.WriteVolatile
	}
	if err := write(filepath.Join(s.Dir(c.ID), recordFile), data, 0o600); err != nil {
		return fmt.Errorf("container %s: save record: %w", c.ID, err)
	}
	return nil
}

// Rename gives c the name newName (reserved by the caller for c.ID) and frees
// its old one. The caller holds c's lock.
func (s *Store) Rename(c *Container, newName string) error {
	old := c.Name
	c.Name = newName
	if err := s.saveLocked(c); err != nil {
		c.Name = old
		return err
	}
	s.ReleaseName(old, c.ID)
	return nil
}

// Delete forgets c and removes its directory (record and files).
func (s *Store) Delete(c *Container) error {
	if err := s.RemoveDir(c.ID); err != nil {
		return err
	}
	s.unindex(c)
	return nil
}

// unindex forgets c's ID and, if it still names c, its name.
func (s *Store) unindex(c *Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, c.ID)
	if s.byName[c.Name] == c.ID {
		delete(s.byName, c.Name)
	}
}

// Forget removes c's record and forgets it, leaving the rest of its directory
// to RemoveDir (a crash before makes it a leftover).
func (s *Store) Forget(c *Container) error {
	if err := os.Remove(filepath.Join(s.Dir(c.ID), recordFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("container %s: %w", c.ID, err)
	}
	s.unindex(c)
	return nil
}

// RemoveDir removes the directory of id, record first, so that a crash
// half-way leaves a leftover rather than a record of missing files.
func (s *Store) RemoveDir(id string) error {
	dir := s.Dir(id)
	if err := os.Remove(filepath.Join(dir, recordFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("container %s: %w", id, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	return nil
}

// Get finds a container by full ID, name (with or without "/") or unique ID
// prefix, in that order, as Docker does. Not found and ambiguous prefixes are
// errors in Docker's words.
func (s *Store) Get(ref string) (*Container, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if ref == "" {
		return nil, errdefs.ErrNotFound.WithMessage("No such container: ")
	}
	if c, ok := s.byID[ref]; ok {
		return c, nil
	}
	if id := s.byName["/"+strings.TrimPrefix(ref, "/")]; id != "" {
		if c, ok := s.byID[id]; ok {
			return c, nil
		}
	}
	var found *Container
	for id, c := range s.byID {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("multiple IDs found with provided prefix: %s", ref))
			}
			found = c
		}
	}
	if found == nil {
		return nil, errdefs.ErrNotFound.WithMessage("No such container: " + ref)
	}
	return found, nil
}

// List returns every container, newest first.
func (s *Store) List() []*Container {
	s.mu.RLock()
	out := make([]*Container, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, c)
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Len is the number of containers.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}
