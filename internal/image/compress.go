package image

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/content"
)

// gzipMediaType is the compressed form of an uncompressed layer media type.
var gzipMediaType = map[string]string{
	ocispec.MediaTypeImageLayer:                            ocispec.MediaTypeImageLayerGzip,
	"application/vnd.docker.image.rootfs.diff.tar":         "application/vnd.docker.image.rootfs.diff.tar.gzip",
	ocispec.MediaTypeImageLayerNonDistributable:            ocispec.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck // still in use
	"application/vnd.docker.image.rootfs.foreign.diff.tar": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}

// forPush returns the manifest to push. Layers kept uncompressed here (imported,
// loaded from docker save) are gzip-compressed into the content store first, as
// docker push does: registries and their clients expect compressed layers. The
// image itself (its config, its ID) does not change; the compressed manifest is a
// new blob, held by l until the push ends.
func (s *Service) forPush(ctx context.Context, l *lease, mdesc ocispec.Descriptor, m ocispec.Manifest, mbytes []byte, progress ProgressFunc) (ocispec.Descriptor, ocispec.Manifest, []byte, error) {
	out := m
	out.Layers = append([]ocispec.Descriptor(nil), m.Layers...)
	changed := false
	for i, ld := range m.Layers {
		gz, ok := gzipMediaType[ld.MediaType]
		if !ok {
			continue
		}
		progress(Progress{ID: shortDigest(ld.Digest), Action: "Preparing"})
		cd, err := s.gzipBlob(ctx, l, ld, gz)
		if err != nil {
			return ocispec.Descriptor{}, ocispec.Manifest{}, nil, err
		}
		out.Layers[i] = cd
		changed = true
	}
	if !changed {
		return mdesc, m, mbytes, nil
	}
	nb, err := json.Marshal(out)
	if err != nil {
		return ocispec.Descriptor{}, ocispec.Manifest{}, nil, err
	}
	nd := ocispec.Descriptor{MediaType: mdesc.MediaType, Digest: digest.FromBytes(nb), Size: int64(len(nb))}
	s.hold(l, []digest.Digest{nd.Digest}, nil)
	if err := content.WriteBlob(ctx, s.cs, "push-"+nd.Digest.String(), bytes.NewReader(nb), nd); err != nil && !errdefs.IsAlreadyExists(err) {
		return ocispec.Descriptor{}, ocispec.Manifest{}, nil, fmt.Errorf("store the compressed manifest: %w", err)
	}
	return nd, out, nb, nil
}

// gzipBlob stores the gzip form of an uncompressed layer blob and describes it. The
// output depends only on the input (pgzip with fixed blocks, no name or time in the
// header), so pushing the same layer again finds it in the registry.
func (s *Service) gzipBlob(ctx context.Context, l *lease, ld ocispec.Descriptor, mediaType string) (ocispec.Descriptor, error) {
	rc, err := s.cs.Reader(ctx, ld.Digest)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("layer %s: %w", ld.Digest, err)
	}
	defer rc.Close()
	ref := "gzip-" + ld.Digest.String()
	w, err := s.cs.Writer(ctx, ref, ocispec.Descriptor{})
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("compress layer %s: %w", ld.Digest, err)
	}
	defer w.Close()
	if err := w.Truncate(0); err != nil {
		return ocispec.Descriptor{}, err
	}
	zw, err := archive.Compress(w, archive.Gzip, 0)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if _, err := io.Copy(zw, rc); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("compress layer %s: %w", ld.Digest, err)
	}
	if err := zw.Close(); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("compress layer %s: %w", ld.Digest, err)
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: w.Digest(), Size: w.Offset()}
	s.hold(l, []digest.Digest{desc.Digest}, nil)
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return ocispec.Descriptor{}, fmt.Errorf("compress layer %s: %w", ld.Digest, err)
	}
	return desc, nil
}
