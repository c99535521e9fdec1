package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

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
	target := filepath.Join(s.cfg.Root, "tmp", key)
	err = inPrivateMountNamespace(func() error {
		if err := os.MkdirAll(target, 0o700); err != nil {
			return err
		}
		defer os.Remove(target)
		if err := mount.All(mounts, target); err != nil {
			return err
		}
		defer mount.UnmountAll(target, unix.MNT_DETACH)
		n, err := archive.Apply(ctx, target, tee, archive.ApplyOptions{Mode: archive.Native})
		if err != nil {
			return err
		}
		size = n
		// The layer must be on disk before its snapshot is committed: a
		// committed layer is trusted and reused without looking inside.
		fd, err := unix.Open(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Syncfs(fd)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("syncfs: %w", err)
		}
		return mount.UnmountAll(target, 0)
	})
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

// inPrivateMountNamespace runs fn on a thread of its own in a new mount
// namespace whose mounts do not propagate anywhere. fn's mounts are invisible
// to the rest of the system and vanish with the thread even if the process is
// killed half-way. fn must mount and use the mounts on its own goroutine.
func inPrivateMountNamespace(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread exits with this goroutine, and the
		// namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("make mounts private: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}
