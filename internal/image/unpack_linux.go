package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/snapshot"
)

// unpackKeyPrefix starts the key of every active snapshot a layer is unpacked
// into; Open removes those a killed process left.
const unpackKeyPrefix = "extract-"

// labelLayerSize on a committed layer snapshot records the bytes of file
// content its layer holds, so an image reusing the layer knows its size.
const labelLayerSize = "berth.image.layer.size"

// unpack applies the uncompressed layer tar r on top of the committed snapshot
// parent ("" for a base layer), checks that r's digest is diffID (when given),
// and commits the result under its chain ID. It returns the bytes of file
// content the layer wrote and r's digest. On any error nothing is left: the
// active snapshot is removed. A chain ID committed meanwhile by someone else
// is success. The snapshot is held by l against garbage collection.
//
// before, when set, runs after the tar is applied and before the check and the
// commit; Pull uses it to wait for the compressed blob's own verification.
func (s *Service) unpack(ctx context.Context, l *lease, parent digest.Digest, r io.Reader, diffID digest.Digest, before func() error) (size int64, got digest.Digest, err error) {
	key := unpackKeyPrefix + randomHex(8)
	mounts, err := s.sn.Prepare(ctx, key, string(parent))
	if err != nil {
		return 0, "", fmt.Errorf("unpack layer: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			s.sn.Remove(context.WithoutCancel(ctx), key)
		}
	}()
	digester := digest.Canonical.Digester()
	tee := io.TeeReader(r, digester.Hash())
	if dir, mode, ok := directTarget(mounts); ok {
		// The layer's own directory is at hand (the overlay's upper dir, or the
		// bind source of a base or vfs layer): apply straight into it, with
		// overlay's whiteout format where overlay will read it. No mount.
		size, err = archive.Apply(ctx, dir, tee, archive.ApplyOptions{Mode: mode})
		if err == nil {
			err = syncDir(dir)
		}
	} else {
		size, err = s.applyMounted(ctx, key, mounts, tee)
	}
	if err != nil {
		return 0, "", fmt.Errorf("unpack layer: %w", err)
	}
	if before != nil {
		if err := before(); err != nil {
			return 0, "", err
		}
	}
	got = digester.Digest()
	if diffID != "" && got != diffID {
		return 0, "", fmt.Errorf("unpack layer: uncompressed digest %s, the image config says %s: %w", got, diffID, errdefs.ErrDataLoss)
	}
	chainID := got
	if parent != "" {
		chainID = ChainIDs([]digest.Digest{parent, got})[1]
	}
	s.hold(l, nil, []string{chainID.String()})
	err = s.sn.Commit(ctx, chainID.String(), key, snapshot.WithLabels(map[string]string{labelLayerSize: strconv.FormatInt(size, 10)}))
	if err != nil && !errdefs.IsAlreadyExists(err) {
		return 0, "", fmt.Errorf("unpack layer %s: %w", got, err)
	}
	committed = err == nil
	return size, got, nil
}

// directTarget returns the directory a layer can be applied to without mounting:
// the upper dir of an overlay mount (in overlay's whiteout format), or the source
// of a single read-write bind mount (a plain tree, native format).
func directTarget(mounts []mount.Mount) (string, archive.Mode, bool) {
	if len(mounts) != 1 {
		return "", 0, false
	}
	m := mounts[0]
	switch m.Type {
	case "overlay":
		for _, o := range m.Options {
			if dir, ok := strings.CutPrefix(o, "upperdir="); ok && filepath.IsAbs(dir) {
				return dir, archive.Overlay, true
			}
		}
	case "bind", "rbind":
		for _, o := range m.Options {
			if o == "ro" {
				return "", 0, false
			}
		}
		if filepath.IsAbs(m.Source) {
			return m.Source, archive.Native, true
		}
	}
	return "", 0, false
}

// applyMounted applies a layer through its mounted snapshot, for snapshotters
// whose mounts name no directory to write to directly.
func (s *Service) applyMounted(ctx context.Context, key string, mounts []mount.Mount, r io.Reader) (size int64, err error) {
	target := filepath.Join(s.cfg.Root, "tmp", key)
	err = mount.InPrivateNamespace(func() error {
		if err := os.MkdirAll(target, 0o700); err != nil {
			return err
		}
		defer os.Remove(target)
		if err := mount.All(mounts, target); err != nil {
			return err
		}
		defer mount.UnmountAll(target, unix.MNT_DETACH)
		n, err := archive.Apply(ctx, target, r, archive.ApplyOptions{Mode: archive.Native})
		if err != nil {
			return err
		}
		size = n
		if err := syncDir(target); err != nil {
			return err
		}
		return mount.UnmountAll(target, 0)
	})
	return size, err
}

// syncDir writes the filesystem holding dir to disk: a committed layer is trusted
// and reused without looking inside, so it must be there after a crash.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Syncfs(fd); err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	return nil
}
