package volume

import (
	"sync"
	"time"
)

// Volume describes one volume, with the fields of Docker's Volume object.
type Volume struct {
	Name   string
	Driver string // always DriverLocal
	// Mountpoint is the directory holding the volume's content on the host
	// (<root>/<name>/_data); for a volume with mount options, the mount point
	// its file system is mounted on while in use.
	Mountpoint string
	// CreatedAt is when the volume was created. Docker's API shows it in
	// RFC 3339 with seconds (time.RFC3339).
	CreatedAt time.Time
	Labels    map[string]string
	// Options are the driver options as given at creation.
	Options map[string]string
	Scope   string // always ScopeLocal
	// Refs are the IDs of the containers that use the volume, sorted. Without
	// any, the volume is dangling.
	Refs []string
	// Mounts are the IDs of the containers that have it mounted, sorted.
	Mounts []string
}

// Anonymous reports whether the volume was created without a name.
func (v Volume) Anonymous() bool {
	_, ok := v.Labels[LabelAnonymous]
	return ok
}

// Usage is what a volume costs, for docker system df -v (Docker's UsageData).
type Usage struct {
	// Size is the bytes of the files in the volume (apparent sizes, each
	// hard-linked file once), or -1 for a volume with mount options, whose
	// file system is not the host's to measure.
	Size int64
	// RefCount is the number of containers that use the volume.
	RefCount int64
}

// PruneReport says what Prune removed.
type PruneReport struct {
	// Deleted are the names of the volumes removed.
	Deleted []string
	// SpaceReclaimed is the sum of their sizes, in bytes.
	SpaceReclaimed uint64
}

// Reconciliation is what Open found left over from a crash, and did about it.
type Reconciliation struct {
	// Removed are the directories deleted: creates and removes cut short.
	Removed []string
	// Adopted are the volumes recorded again from a directory holding data
	// that the database did not know.
	Adopted []string
	// Recreated are the volumes whose directory had vanished; they are empty
	// again.
	Recreated []string
	// Unmounted are the volumes with mount options that were found mounted
	// although no container holds them.
	Unmounted []string
	// Errors are what could not be repaired; the rest of the store works.
	Errors []error
}

// nameLocks serialises the operations on each volume name, letting those on
// different names run at once.
type nameLocks struct {
	mu sync.Mutex
	m  map[string]*nameLock
}

type nameLock struct {
	mu    sync.Mutex
	users int
}

// lock waits for name and returns the function that releases it.
func (l *nameLocks) lock(name string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*nameLock{}
	}
	nl := l.m[name]
	if nl == nil {
		nl = &nameLock{}
		l.m[name] = nl
	}
	nl.users++
	l.mu.Unlock()
	nl.mu.Lock()
	return func() {
		nl.mu.Unlock()
		l.mu.Lock()
		if nl.users--; nl.users == 0 {
			delete(l.m, name)
		}
		l.mu.Unlock()
	}
}
