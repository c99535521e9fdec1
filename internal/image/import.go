package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/distribution/platform"
	"github.com/berth-engine/berth/internal/image/change"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Ref names the new image; empty leaves it dangling.
	Ref string
	// Changes are --change instructions (see package change).
	Changes []string
	// Message is the history comment.
	Message string
	// Platform recorded in the config; nil means the host's.
	Platform *ocispec.Platform
}

// Import makes a one-layer image of the root file system tar r (uncompressed,
// gzip or zstd), as `docker import` does. The layer is stored gzip-compressed,
// so the image can be pushed and saved like a pulled one.
func (s *Service) Import(ctx context.Context, r io.Reader, opts ImportOptions) (Image, error) {
	now := time.Now().UTC()
	plat := platform.Default()
	if opts.Platform != nil {
		plat = platform.Normalize(*opts.Platform)
	}
	cfg := ocispec.Image{Created: &now, Platform: plat}
	if err := change.Apply(&cfg.Config, opts.Changes); err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	named, err := newImageName("import", opts.Ref)
	if err != nil {
		return Image{}, err
	}
	l := s.newLease()
	defer s.release(l)

	dr, _, err := archive.Decompress(r)
	if err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	defer dr.Close()
	ingest := "import-" + randomHex(8)
	w, err := s.cs.Writer(ctx, ingest, ocispec.Descriptor{})
	if err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	defer w.Close()
	gz, err := archive.Compress(w, archive.Gzip, 0)
	if err != nil {
		s.cs.Abort(context.WithoutCancel(ctx), ingest)
		return Image{}, fmt.Errorf("import: %w", err)
	}
	var layer ocispec.Descriptor
	size, diffID, err := s.unpack(ctx, l, "", io.TeeReader(dr, gz), "", func() error {
		if err := gz.Close(); err != nil {
			return err
		}
		layer = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: w.Digest(), Size: w.Offset()}
		s.hold(l, []digest.Digest{layer.Digest}, nil)
		if err := w.Commit(ctx, layer.Size, layer.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
			return err
		}
		return nil
	})
	if err != nil {
		w.Close()
		s.cs.Abort(context.WithoutCancel(ctx), ingest)
		return Image{}, fmt.Errorf("import: %w", err)
	}
	cfg.RootFS = ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}}
	comment := opts.Message
	if comment == "" {
		comment = "Imported from -" // what docker import records for a tarball from stdin or a file
	}
	cfg.History = []ocispec.History{{Created: &now, Comment: comment}}
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, err
	}
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfgBytes), Size: int64(len(cfgBytes))}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: []ocispec.Descriptor{layer}}
	mBytes, err := json.Marshal(m)
	if err != nil {
		return Image{}, err
	}
	mDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mBytes), Size: int64(len(mBytes))}
	s.hold(l, []digest.Digest{cfgDesc.Digest, mDesc.Digest}, []string{diffID.String()})
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{cfgDesc, cfgBytes}, {mDesc, mBytes}} {
		if err := content.WriteBlob(ctx, s.cs, "import-"+b.desc.Digest.String(), bytes.NewReader(b.data), b.desc); err != nil {
			return Image{}, fmt.Errorf("import: %w", err)
		}
	}
	rec := &record{ID: cfgDesc.Digest, Manifest: mDesc, Config: cfgBytes, Layers: m.Layers, ChainIDs: []digest.Digest{diffID}, Size: size, Added: now}
	var names []string
	if named != nil {
		names = append(names, named.String())
		rec.LastTagged = now
	}
	if err := s.record(rec, names, mDesc); err != nil {
		return Image{}, fmt.Errorf("import: %w", err)
	}
	return s.Get(ctx, rec.ID.String())
}

// newImageName parses the name an import or commit gives the new image (nil
// for none); a digest cannot name an image that is not made yet.
func newImageName(op, ref string) (reference.Named, error) {
	if ref == "" {
		return nil, nil
	}
	named, err := normalize(ref)
	if err != nil {
		return nil, err
	}
	if _, ok := named.(reference.Digested); ok {
		return nil, errdefs.ErrInvalidArgument.WithMessage(op + ": cannot name an image with a digest reference: " + ref)
	}
	return named, nil
}
