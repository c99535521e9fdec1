//go:build !linux

package image

import (
	"context"
	"fmt"
	"io"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

const unpackKeyPrefix = "extract-"

const labelLayerSize = "berth.image.layer.size"

func (s *Service) unpack(ctx context.Context, l *lease, parent digest.Digest, r io.Reader, diffID digest.Digest, before func() error) (int64, digest.Digest, error) {
	return 0, "", fmt.Errorf("unpack layer: %w", errdefs.ErrNotImplemented)
}
