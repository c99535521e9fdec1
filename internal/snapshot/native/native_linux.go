package native

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/storage"
)

// Name is the storage driver name berth reports for this snapshotter.
const Name = "vfs"

// New opens the native snapshotter at root (created if needed).
func New(root string) (snapshot.Snapshotter, error) {
	s, err := storage.New(root, driver{})
	if err != nil {
		return nil, fmt.Errorf("native snapshotter: %w", err)
	}
	return s, nil
}

type driver struct{}

func (driver) Create(ctx context.Context, s storage.Snapshot) error {
	if s.Kind == snapshot.KindActive && len(s.Parents) > 0 {
		return copyTree(ctx, filepath.Join(s.Parents[0], "fs"), s.FS())
	}
	return os.Mkdir(s.FS(), 0o755)
}

func (driver) Mounts(s storage.Snapshot) []mount.Mount {
	if s.Kind == snapshot.KindView {
		dir := s.FS()
		if len(s.Parents) > 0 {
			dir = filepath.Join(s.Parents[0], "fs")
		}
		return []mount.Mount{{Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}}
	}
	return []mount.Mount{{Type: "bind", Source: s.FS(), Options: []string{"rbind", "rw"}}}
}
