package image

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/content"
)

// CommitOptions describe the image Commit makes: a parent's layers, one layer
// more, and a configuration of its own.
type CommitOptions struct {
	// Parent is the image whose layers, history and platform the new image
	// starts from (any form Get accepts).
	Parent string
	// Layer is the new layer: an uncompressed tar of the changes, whiteouts
	// as package archive writes them. A tar without entries adds no layer; its
	// history entry is then marked empty, as Docker marks it. Commit reads it
	// to its end.
	Layer io.Reader
	// Config is the new image's configuration (not merged with the parent's).
	Config ocispec.ImageConfig
	// Author is recorded in the config and the history entry; Comment and
	// CreatedBy in the history entry (docker history shows them).
	Author, Comment, CreatedBy string
	// Ref names the new image ("repo:tag"); empty leaves it dangling.
	Ref string
}

// Commit makes a new image of Parent's layers plus Layer, as `docker commit`
// does. The layer is stored uncompressed (a push compresses it, as it does an
// imported or loaded one) and unpacked once, as a committed snapshot under
// its chain ID, so a container can start from the image at once. The image
// record and its name are written last: a failure leaves no image.
func (s *Service) Commit(ctx context.Context, opts CommitOptions) (Image, error) {
	now := time.Now().UTC()
	named, err := newImageName("commit", opts.Ref)
	if err != nil {
		return Image{}, err
	}
	l := s.newLease()
	defer s.release(l)

	// The parent, held so that deleting it meanwhile cannot take its layers.
	var parent *record
	err = s.db.View(func(tx *bolt.Tx) error {
		r, _, err := resolve(tx, opts.Parent)
		if err != nil {
			return err
		}
		s.hold(l, r.blobs(), chainNames(r.ChainIDs))
		parent = r
		return nil
	})
	if err != nil {
		return Image{}, fmt.Errorf("commit: %w", err)
	}
	var pcfg ocispec.Image
	if err := json.Unmarshal(parent.Config, &pcfg); err != nil {
		return Image{}, fmt.Errorf("commit: parent %s: decode config: %w", parent.ID, err)
	}

	layers := slices.Clone(parent.Layers)
	diffIDs := slices.Clone(pcfg.RootFS.DiffIDs)
	chain := slices.Clone(parent.ChainIDs)
	size := parent.Size
	br := bufio.NewReader(opts.Layer)
	empty, err := emptyTar(br)
	if err != nil {
		return Image{}, fmt.Errorf("commit: read layer: %w", err)
	}
	if empty {
		if _, err := io.Copy(io.Discard, br); err != nil {
			return Image{}, fmt.Errorf("commit: read layer: %w", err)
		}
	} else {
		desc, n, err := s.commitLayer(ctx, l, lastOf(chain), br)
		if err != nil {
			return Image{}, err
		}
		layers = append(layers, desc)
		diffIDs = append(diffIDs, desc.Digest) // stored uncompressed: the blob is the diff
		chain = ChainIDs(diffIDs)
		size += n
	}

	cfg := ocispec.Image{
		Created:  &now,
		Author:   opts.Author,
		Platform: pcfg.Platform,
		Config:   opts.Config,
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: diffIDs},
		History: append(slices.Clone(pcfg.History), ocispec.History{
			Created:    &now,
			CreatedBy:  opts.CreatedBy,
			Author:     opts.Author,
			Comment:    opts.Comment,
			EmptyLayer: empty,
		}),
	}
	cfgBytes, err := json.Marshal(cfg)
	if err != nil {
		return Image{}, err
	}
	cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfgBytes), Size: int64(len(cfgBytes))}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfgDesc, Layers: layers}
	mBytes, err := json.Marshal(m)
	if err != nil {
		return Image{}, err
	}
	mDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(mBytes), Size: int64(len(mBytes))}
	s.hold(l, []digest.Digest{cfgDesc.Digest, mDesc.Digest}, nil)
	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{cfgDesc, cfgBytes}, {mDesc, mBytes}} {
		if err := content.WriteBlob(ctx, s.cs, "commit-"+b.desc.Digest.String(), bytes.NewReader(b.data), b.desc); err != nil {
			return Image{}, fmt.Errorf("commit: %w", err)
		}
	}
	rec := &record{ID: cfgDesc.Digest, Manifest: mDesc, Config: cfgBytes, Layers: layers, ChainIDs: chain, Size: size, Added: now}
	var names []string
	if named != nil {
		names = append(names, named.String())
		rec.LastTagged = now
	}
	if err := s.record(rec, names, mDesc); err != nil {
		return Image{}, fmt.Errorf("commit: %w", err)
	}
	return s.Get(ctx, rec.ID.String())
}

// commitLayer stores the layer tar r as an uncompressed blob and unpacks it on
// the snapshot parent, both while reading r once. It returns the blob's
// descriptor (its digest is also the layer's diff ID) and the bytes of file
// content it holds.
func (s *Service) commitLayer(ctx context.Context, l *lease, parent digest.Digest, r io.Reader) (ocispec.Descriptor, int64, error) {
	ingest := "commit-" + randomHex(8)
	w, err := s.cs.Writer(ctx, ingest, ocispec.Descriptor{})
	if err != nil {
		return ocispec.Descriptor{}, 0, fmt.Errorf("commit: %w", err)
	}
	defer w.Close()
	var desc ocispec.Descriptor
	size, _, err := s.unpack(ctx, l, parent, io.TeeReader(r, w), "", func() error {
		desc = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: w.Digest(), Size: w.Offset()}
		s.hold(l, []digest.Digest{desc.Digest}, nil)
		if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
			return err
		}
		return nil
	})
	if err != nil {
		w.Close()
		s.cs.Abort(context.WithoutCancel(ctx), ingest)
		return ocispec.Descriptor{}, 0, fmt.Errorf("commit: %w", err)
	}
	return desc, size, nil
}

// emptyTar tells, without consuming it, whether the tar stream r holds no
// entry: its first block is the zero block of the end marker (or nothing at
// all). A real header block is never all zeros.
func emptyTar(r *bufio.Reader) (bool, error) {
	const block = 512
	b, err := r.Peek(block)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return len(bytes.Trim(b, "\x00")) == 0, nil
	}
	if err != nil {
		return false, err
	}
	return len(bytes.Trim(b, "\x00")) == 0, nil
}

func chainNames(ids []digest.Digest) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

func lastOf(ids []digest.Digest) digest.Digest {
	if len(ids) == 0 {
		return ""
	}
	return ids[len(ids)-1]
}
