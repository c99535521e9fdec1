package image

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/distribution"
	"github.com/berth-engine/berth/internal/distribution/platform"
)

// Register makes an image of content already in the store (a loaded archive put
// it there): target is its manifest or index, names the references to give it.
// Layers are unpacked from their blobs as a pull would, those already unpacked are
// reused, and the image record is written last, so a failure leaves no image.
func (s *Service) Register(ctx context.Context, target ocispec.Descriptor, names []string, progress ProgressFunc) (Image, error) {
	l := s.newLease()
	defer s.release(l)
	s.hold(l, []digest.Digest{target.Digest}, nil)
	mdesc := target
	mbytes, err := content.ReadBlob(ctx, s.cs, target.Digest)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", target.Digest, err)
	}
	if mdesc.MediaType == "" {
		mdesc.MediaType = distribution.DetectManifestType(mbytes)
	}
	if distribution.IsIndex(mdesc.MediaType) {
		var idx ocispec.Index
		if err := json.Unmarshal(mbytes, &idx); err != nil {
			return Image{}, fmt.Errorf("image %s: decode index: %w: %w", target.Digest, err, errdefs.ErrDataLoss)
		}
		if mdesc, err = platform.Select(idx.Manifests, platform.Default()); err != nil {
			return Image{}, fmt.Errorf("image %s: %w", target.Digest, err)
		}
		if mbytes, err = content.ReadBlob(ctx, s.cs, mdesc.Digest); err != nil {
			return Image{}, fmt.Errorf("image %s: %w", mdesc.Digest, err)
		}
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mbytes, &m); err != nil {
		return Image{}, fmt.Errorf("image %s: decode manifest: %w: %w", mdesc.Digest, err, errdefs.ErrDataLoss)
	}
	cfgBytes, err := content.ReadBlob(ctx, s.cs, m.Config.Digest)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: config: %w", mdesc.Digest, err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return Image{}, fmt.Errorf("image %s: decode config: %w: %w", mdesc.Digest, err, errdefs.ErrDataLoss)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return Image{}, fmt.Errorf("image %s: the manifest has %d layers, the config %d diff IDs: %w", mdesc.Digest, len(m.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrDataLoss)
	}
	chain := ChainIDs(cfg.RootFS.DiffIDs)
	blobs := []digest.Digest{mdesc.Digest, m.Config.Digest}
	var chainNames []string
	for i, ld := range m.Layers {
		if _, err := s.cs.Info(ctx, ld.Digest); err != nil {
			return Image{}, fmt.Errorf("image %s: layer %s: %w", mdesc.Digest, ld.Digest, err)
		}
		blobs = append(blobs, ld.Digest)
		chainNames = append(chainNames, chain[i].String())
	}
	s.hold(l, blobs, chainNames)
	// Every blob is in the store, so no layer is fetched: no registry is needed.
	size, err := s.pullLayers(ctx, l, nil, m.Layers, cfg.RootFS.DiffIDs, chain, serialized(progress))
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", mdesc.Digest, err)
	}
	var refs []string
	for _, n := range names {
		named, err := normalize(n)
		if err != nil {
			return Image{}, err
		}
		refs = append(refs, named.String())
	}
	rec := &record{ID: m.Config.Digest, Manifest: mdesc, Config: cfgBytes, Layers: m.Layers, ChainIDs: chain, Size: size, Added: time.Now().UTC()}
	if err := s.record(rec, refs, target); err != nil {
		return Image{}, err
	}
	return s.Get(ctx, rec.ID.String())
}

// Content gives read access to the blobs (for save and export).
func (s *Service) Content() content.Provider { return s.cs }
