package content

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// Prune removes every committed blob for which keep returns false, and every
// ingest that no Writer holds and nobody has written to for longer than the
// store's ingest expiry. It returns the number of bytes freed.
//
// Prune knows nothing of images: keep must answer true for every blob still
// referenced, including those of a pull that has committed some blobs but not
// yet recorded its image. The caller keeps such pulls from racing Prune.
func (s *Store) Prune(ctx context.Context, keep func(digest.Digest) bool) (int64, error) {
	var freed int64
	var drop []Info
	err := s.Walk(ctx, func(info Info) error {
		if !keep(info.Digest) {
			drop = append(drop, info)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	for _, info := range drop {
		if err := s.Delete(ctx, info.Digest); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return freed, fmt.Errorf("prune: %w", err)
		}
		freed += info.Size
	}
	n, err := s.pruneIngests(ctx)
	return freed + n, err
}

func (s *Store) pruneIngests(ctx context.Context) (int64, error) {
	ingest := filepath.Join(s.root, "ingest")
	entries, err := os.ReadDir(ingest)
	if err != nil {
		return 0, fmt.Errorf("prune ingests: %w", err)
	}
	var freed int64
	cutoff := time.Now().Add(-s.ingestExpiry)
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return freed, err
		}
		dir := filepath.Join(ingest, e.Name())
		lock, err := lockIngest(dir, false)
		if errdefs.IsUnavailable(err) || errors.Is(err, fs.ErrNotExist) {
			continue // being written, or gone already
		}
		if err != nil {
			return freed, fmt.Errorf("prune ingests: %w", err)
		}
		size, updated := ingestUsage(dir)
		if updated.Before(cutoff) {
			if err := os.RemoveAll(dir); err != nil {
				lock.Close()
				return freed, fmt.Errorf("prune ingests: %w", err)
			}
			freed += size
		}
		lock.Close()
	}
	return freed, nil
}

// ingestUsage returns the bytes an ingest directory holds and when it was
// last written to.
func ingestUsage(dir string) (int64, time.Time) {
	var size int64
	var updated time.Time
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			size += fi.Size()
			if fi.ModTime().After(updated) {
				updated = fi.ModTime()
			}
		}
	}
	if updated.IsZero() {
		if fi, err := os.Stat(dir); err == nil {
			updated = fi.ModTime()
		}
	}
	return size, updated
}
