package image

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/mount"
)

// PrepareRootfs creates the active snapshot key, a fresh writable layer on top
// of the image's layers (any form Get accepts), and returns its mounts: the
// container's root file system once mounted. While it exists the image's
// layers cannot be collected.
func (s *Service) PrepareRootfs(ctx context.Context, image, key string) ([]mount.Mount, error) {
	var parent string
	err := s.db.View(func(tx *bolt.Tx) error {
		r, _, err := resolve(tx, image)
		if err != nil {
			return err
		}
		if n := len(r.ChainIDs); n > 0 {
			parent = r.ChainIDs[n-1].String()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	mounts, err := s.sn.Prepare(ctx, key, parent)
	if err != nil {
		return nil, fmt.Errorf("prepare rootfs of %s: %w", image, err)
	}
	return mounts, nil
}

// RemoveRootfs removes the container layer key made by PrepareRootfs; unmount
// it first.
func (s *Service) RemoveRootfs(ctx context.Context, key string) error {
	if err := s.sn.Remove(ctx, key); err != nil {
		return fmt.Errorf("remove rootfs: %w", err)
	}
	return nil
}
