package image

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/distribution"
	"github.com/berth-engine/berth/internal/distribution/auth"
)

// PushOptions tune Push.
type PushOptions struct {
	// Credentials for the registry; nil uses the registry client's.
	Credentials auth.Credentials
	Progress    ProgressFunc
}

// Push sends the image named ref (a tag: "host:5000/app:v1") to its registry:
// config and layer blobs from the content store, those the registry has
// skipped and those another repository of the same registry has mounted,
// then the manifest under the tag. It returns the manifest's descriptor and
// records name@digest for the image, as docker push does.
func (s *Service) Push(ctx context.Context, ref string, opts PushOptions) (ocispec.Descriptor, error) {
	if s.cfg.Registry == nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: no registry client: %w", ref, errdefs.ErrNotImplemented)
	}
	named, err := normalize(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	var rec *record
	var others []string
	err = s.db.View(func(tx *bolt.Tx) error {
		rr, ok, err := getRef(tx, named.String())
		if err != nil {
			return err
		}
		if !ok {
			return errdefs.ErrNotFound.WithMessage("An image does not exist locally with the tag: " + reference.FamiliarName(named))
		}
		if rec, err = getRecord(tx, rr.ID); err != nil {
			return err
		}
		others, err = refsOf(tx, rr.ID)
		return err
	})
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	l := s.newLease()
	defer s.release(l)
	s.hold(l, rec.blobs(), nil)

	mbytes, err := content.ReadBlob(ctx, s.cs, rec.Manifest.Digest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: manifest: %w", ref, err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mbytes, &m); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: decode manifest: %w", ref, err)
	}
	progress := serialized(opts.Progress)
	// Repositories of the same registry that hold the image's blobs.
	var mountFrom []string
	for _, n := range others {
		o, err := reference.ParseNormalizedNamed(n)
		if err != nil || reference.Domain(o) != reference.Domain(named) || o.Name() == named.Name() {
			continue
		}
		if !slices.Contains(mountFrom, reference.Path(o)) {
			mountFrom = append(mountFrom, reference.Path(o))
		}
	}
	repo, err := s.cfg.Registry.Repository(ctx, named, opts.Credentials)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", ref, err)
	}
	// The config and every layer at once; a layer may change form (gzip) on the way.
	layers := slices.Clone(m.Layers)
	errs := make([]error, len(layers)+1)
	var wg sync.WaitGroup
	progress(Progress{ID: shortDigest(m.Config.Digest), Action: "Preparing"})
	for _, d := range layers {
		progress(Progress{ID: shortDigest(d.Digest), Action: "Preparing"})
	}
	wg.Go(func() { errs[0] = s.pushBlob(ctx, repo, m.Config, mountFrom, progress) })
	for i, d := range m.Layers {
		wg.Go(func() { layers[i], errs[i+1] = s.pushLayer(ctx, l, repo, d, mountFrom, progress) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", reference.FamiliarString(named), err)
		}
	}
	mdesc, mbytes, err := s.manifestFor(ctx, l, rec.Manifest, mbytes, m, layers)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", ref, err)
	}
	tag := distribution.TagOrDigest(named)
	if err := repo.PushManifest(ctx, tag, mdesc, mbytes); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("push %s: %w", reference.FamiliarString(named), err)
	}
	byDigest, err := reference.WithDigest(reference.TrimNamed(named), mdesc.Digest)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.db.Update(func(tx *bolt.Tx) error {
		if _, err := getRecord(tx, rec.ID); err != nil {
			return nil // deleted meanwhile: nothing to name
		}
		return putRef(tx, byDigest.String(), refRecord{ID: rec.ID, Target: mdesc, Added: time.Now().UTC()})
	})
	return mdesc, err
}

func (s *Service) pushBlob(ctx context.Context, repo *distribution.Repository, d ocispec.Descriptor, mountFrom []string, progress ProgressFunc) error {
	id := shortDigest(d.Digest)
	ra, err := s.cs.ReaderAt(ctx, d.Digest)
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer ra.Close()
	res, err := repo.PushBlob(ctx, d, ra, distribution.PushOptions{
		MountFrom: mountFrom,
		Progress: func(done, total int64) {
			progress(Progress{ID: id, Action: "Pushing", Current: done, Total: total})
		},
	})
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	switch res {
	case distribution.Existed:
		progress(Progress{ID: id, Action: "Layer already exists"})
	case distribution.Mounted:
		progress(Progress{ID: id, Action: "Mounted from " + firstOr(mountFrom, "")})
	default:
		progress(Progress{ID: id, Action: "Pushed"})
	}
	return nil
}

func firstOr(ss []string, def string) string {
	if len(ss) > 0 {
		return ss[0]
	}
	return def
}
