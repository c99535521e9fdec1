package image

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/snapshot"
)

// DeleteResult is one thing Delete or Prune did, as `docker rmi` prints it:
// a name removed (Untagged, familiar form) or an image removed (Deleted, its ID).
type DeleteResult struct {
	Untagged string
	Deleted  string
}

func shortID(id digest.Digest) string {
	e := id.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

func familiar(name string) string {
	if n, err := reference.ParseNormalizedNamed(name); err == nil {
		return reference.FamiliarString(n)
	}
	return name
}

// user returns the short ID of a container using the image, and whether it
// runs; "" when none does.
func (s *Service) user(id digest.Digest) (string, bool) {
	if s.cfg.InUse == nil {
		return "", false
	}
	c, running := s.cfg.InUse(id)
	return c[:min(12, len(c))], running
}

func (s *Service) inUse(id digest.Digest) bool {
	c, _ := s.user(id)
	return c != ""
}

// Delete removes what ref names, as `docker rmi` does.
//
// By name: the name goes. The image goes too when that was its last tag (its
// digest names with it), unless a container uses it: then the name stays
// (ErrConflict), or with force only the name goes.
//
// By ID (or prefix): the image and all its names go. An image with names in
// several repositories needs force; an image a container uses cannot be
// deleted even with force (both ErrConflict, with Docker's messages).
//
// The blobs and layer snapshots that no remaining image uses are removed.
func (s *Service) Delete(ctx context.Context, ref string, force bool) ([]DeleteResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var results []DeleteResult
	err := s.db.Update(func(tx *bolt.Tx) error {
		r, matched, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		names, err := refsOf(tx, r.ID)
		if err != nil {
			return err
		}
		if matched != "" {
			results, err = s.deleteByName(tx, r, matched, names, force)
		} else {
			results, err = s.deleteByID(tx, r, names, force)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if _, err := s.gc(ctx); err != nil {
		return results, fmt.Errorf("delete %s: %w", ref, err)
	}
	return results, nil
}

func (s *Service) deleteByName(tx *bolt.Tx, r *record, matched string, names []string, force bool) ([]DeleteResult, error) {
	var otherTags, digests []string
	for _, n := range names {
		if n == matched {
			continue
		}
		if isDigestName(n) {
			digests = append(digests, n)
		} else {
			otherTags = append(otherTags, n)
		}
	}
	if len(otherTags) > 0 || isDigestName(matched) && len(otherTags)+len(digests) > 0 {
		// Other names keep the image.
		if err := tx.Bucket(bucketRefs).Delete([]byte(matched)); err != nil {
			return nil, err
		}
		return []DeleteResult{{Untagged: familiar(matched)}}, nil
	}
	if c, _ := s.user(r.ID); c != "" {
		if !force {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", familiar(matched), c, shortID(r.ID)))
		}
		if err := tx.Bucket(bucketRefs).Delete([]byte(matched)); err != nil {
			return nil, err
		}
		return []DeleteResult{{Untagged: familiar(matched)}}, nil
	}
	return deleteImage(tx, r, names)
}

func (s *Service) deleteByID(tx *bolt.Tx, r *record, names []string, force bool) ([]DeleteResult, error) {
	if c, running := s.user(r.ID); running {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", shortID(r.ID), c))
	} else if c != "" {
		if !force {
			return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", shortID(r.ID), c))
		}
		// Forced: the names go, the image stays for its container, as Docker's.
		var out []DeleteResult
		for _, n := range names {
			if err := tx.Bucket(bucketRefs).Delete([]byte(n)); err != nil {
				return nil, err
			}
			out = append(out, DeleteResult{Untagged: familiar(n)})
		}
		return out, nil
	}
	repos := map[string]struct{}{}
	for _, n := range names {
		if named, err := reference.ParseNormalizedNamed(n); err == nil {
			repos[named.Name()] = struct{}{}
		}
	}
	if len(repos) > 1 && !force {
		return nil, errdefs.ErrConflict.WithMessage(fmt.Sprintf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", shortID(r.ID)))
	}
	return deleteImage(tx, r, names)
}

func isDigestName(n string) bool { return strings.Contains(n, "@") }

// deleteImage removes the image's names and its record.
func deleteImage(tx *bolt.Tx, r *record, names []string) ([]DeleteResult, error) {
	var results []DeleteResult
	for _, n := range names {
		if err := tx.Bucket(bucketRefs).Delete([]byte(n)); err != nil {
			return nil, err
		}
		results = append(results, DeleteResult{Untagged: familiar(n)})
	}
	if err := tx.Bucket(bucketImages).Delete([]byte(r.ID)); err != nil {
		return nil, err
	}
	return append(results, DeleteResult{Deleted: r.ID.String()}), nil
}

// PruneOptions select the images Prune removes.
type PruneOptions struct {
	// All removes every image no container uses; otherwise only dangling ones
	// (without tags).
	All bool
	// Select, when set, chooses among those candidates the images to remove
	// (prune's filters: until, label, label!).
	Select func(Image) bool
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Deleted        []DeleteResult
	SpaceReclaimed int64 // bytes of blobs and layer snapshots freed
}

// Prune removes the images opts select that no container uses, then the blobs
// and snapshots nothing references any more (including those an interrupted
// pull left).
func (s *Service) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rep PruneReport
	err := s.db.Update(func(tx *bolt.Tx) error {
		var victims []*record
		err := forEachRecord(tx, func(r *record) error {
			names, err := refsOf(tx, r.ID)
			if err != nil {
				return err
			}
			img, err := toImage(r, names)
			if err != nil {
				return err
			}
			if !opts.All && len(img.RepoTags) > 0 || s.inUse(r.ID) {
				return nil
			}
			if opts.Select != nil && !opts.Select(img) {
				return nil
			}
			victims = append(victims, r)
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range victims {
			names, err := refsOf(tx, r.ID)
			if err != nil {
				return err
			}
			res, err := deleteImage(tx, r, names)
			if err != nil {
				return err
			}
			rep.Deleted = append(rep.Deleted, res...)
		}
		return nil
	})
	if err != nil {
		return PruneReport{}, err
	}
	rep.SpaceReclaimed, err = s.gc(ctx)
	return rep, err
}

// gc removes the blobs and committed layer snapshots that no image, name or
// lease references, and returns the bytes freed. The caller holds s.mu.
func (s *Service) gc(ctx context.Context) (int64, error) {
	blobs := map[digest.Digest]struct{}{}
	chains := map[string]struct{}{}
	err := s.db.View(func(tx *bolt.Tx) error {
		if err := forEachRecord(tx, func(r *record) error {
			for _, b := range r.blobs() {
				blobs[b] = struct{}{}
			}
			for _, c := range r.ChainIDs {
				chains[c.String()] = struct{}{}
			}
			return nil
		}); err != nil {
			return err
		}
		return forEachRef(tx, func(_ string, r *refRecord) error {
			blobs[r.Target.Digest] = struct{}{}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("garbage collection: %w", err)
	}
	for l := range s.leases {
		for b := range l.blobs {
			blobs[b] = struct{}{}
		}
		for c := range l.snapshots {
			chains[c] = struct{}{}
		}
	}
	// A compressed copy lives as long as the layer blob it was made of.
	err = s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketCompressed).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if _, ok := blobs[digest.Digest(k)]; !ok {
				if err := c.Delete(); err != nil {
					return err
				}
				continue
			}
			var desc ocispec.Descriptor
			if json.Unmarshal(v, &desc) == nil {
				blobs[desc.Digest] = struct{}{}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("garbage collection: %w", err)
	}
	freed, err := s.cs.Prune(ctx, func(d digest.Digest) bool { _, ok := blobs[d]; return ok })
	if err != nil {
		return freed, fmt.Errorf("garbage collection: %w", err)
	}
	n, err := s.removeSnapshots(ctx, chains)
	return freed + n, err
}

// removeSnapshots removes the committed layer snapshots (named by chain ID) not
// in live, top of each chain first, keeping those a container or another
// snapshot still stands on.
func (s *Service) removeSnapshots(ctx context.Context, live map[string]struct{}) (int64, error) {
	dead := map[string]struct{}{}
	err := s.sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		if info.Kind != snapshot.KindCommitted || !strings.HasPrefix(info.Name, "sha256:") {
			return nil
		}
		if _, ok := live[info.Name]; !ok {
			dead[info.Name] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("garbage collection: walk snapshots: %w", err)
	}
	usager, _ := s.sn.(snapshot.Usager)
	var freed int64
	for progress := true; progress && len(dead) > 0; {
		progress = false
		for key := range dead {
			var size int64
			if usager != nil {
				if u, err := usager.Usage(ctx, key); err == nil {
					size = u.Size
				}
			}
			err := s.sn.Remove(ctx, key)
			switch {
			case err == nil || errdefs.IsNotFound(err):
				freed += size
				delete(dead, key)
				progress = true
			case errdefs.IsFailedPrecondition(err):
				// A child stands on it: removed in a later round once its
				// children are, or kept for a container.
			default:
				return freed, fmt.Errorf("garbage collection: %w", err)
			}
		}
	}
	return freed, nil
}
