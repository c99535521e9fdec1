package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/distribution"
	"github.com/berth-engine/berth/internal/distribution/auth"
	"github.com/berth-engine/berth/internal/distribution/platform"
	"github.com/berth-engine/berth/internal/snapshot"
)

// maxConfigSize bounds the image configs berth reads.
const maxConfigSize = 32 << 20

// Progress is one step of a pull or push, in the words docker prints. ID is
// the short digest of the blob it is about.
//
//	pull: "Pulling fs layer", "Waiting", "Downloading" (Current/Total),
//	      "Download complete", "Extracting", "Pull complete", "Already exists"
//	push: "Preparing", "Pushing" (Current/Total), "Pushed", "Layer already exists",
//	      "Mounted from <repo>"
type Progress struct {
	ID      string
	Action  string
	Current int64
	Total   int64
}

// ProgressFunc hears progress. The Service calls it from one goroutine at a
// time, often: keep it cheap.
type ProgressFunc func(Progress)

// serialized returns a ProgressFunc that calls fn under a lock (or does
// nothing without fn).
func serialized(fn ProgressFunc) ProgressFunc {
	if fn == nil {
		return func(Progress) {}
	}
	var mu sync.Mutex
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		fn(p)
	}
}

// PullOptions tune Pull.
type PullOptions struct {
	// Platform to pull from an index; nil means the host's.
	Platform *ocispec.Platform
	// Credentials for the registry; nil uses the registry client's.
	Credentials auth.Credentials
	Progress    ProgressFunc
}

// ChainIDs returns the OCI chain IDs of a stack of layers given their diff IDs
// (uncompressed digests), base first: the first is the first diff ID, each
// next one is sha256("<previous chain ID> <diff ID>").
func ChainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		out[i] = digest.FromString(out[i-1].String() + " " + d.String())
	}
	return out
}

// Pull downloads the image ref names ("busybox", "busybox:1.36",
// "host:5000/app@sha256:...") and unpacks its layers, each exactly once:
// layers whose snapshot exists are not downloaded again. The image and its
// names (the tag, and name@digest of what the tag resolved to: the index for a
// multi-platform image) are recorded only at the end, in one transaction, so
// a failed or interrupted pull leaves no image; what it unpacked and stored
// completely is reused by the next attempt.
func (s *Service) Pull(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	if s.cfg.Registry == nil {
		return Image{}, fmt.Errorf("pull %s: no registry client: %w", ref, errdefs.ErrNotImplemented)
	}
	named, err := normalize(ref)
	if err != nil {
		return Image{}, err
	}
	progress := serialized(opts.Progress)
	repo, err := s.cfg.Registry.Repository(ctx, named, opts.Credentials)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", reference.FamiliarString(named), err)
	}
	top, err := repo.Resolve(ctx, distribution.TagOrDigest(named))
	if err != nil {
		return Image{}, err
	}
	l := s.newLease()
	defer s.release(l)
	s.hold(l, []digest.Digest{top.Digest}, nil)

	topBytes, err := repo.FetchManifest(ctx, top)
	if err != nil {
		return Image{}, err
	}
	mdesc, mbytes := top, topBytes
	switch {
	case distribution.IsIndex(top.MediaType):
		var idx ocispec.Index
		if err := json.Unmarshal(topBytes, &idx); err != nil {
			return Image{}, fmt.Errorf("pull %s: decode index: %w: %w", ref, err, errdefs.ErrDataLoss)
		}
		want := platform.Default()
		if opts.Platform != nil {
			want = platform.Normalize(*opts.Platform)
		}
		if mdesc, err = platform.Select(idx.Manifests, want); err != nil {
			return Image{}, fmt.Errorf("pull %s: %w", reference.FamiliarString(named), err)
		}
		if mbytes, err = repo.FetchManifest(ctx, mdesc); err != nil {
			return Image{}, err
		}
		if mdesc.MediaType == "" {
			mdesc.MediaType = distribution.DetectManifestType(mbytes)
		}
	case distribution.IsManifest(top.MediaType):
	default:
		return Image{}, fmt.Errorf("pull %s: unsupported manifest type %q: %w", ref, top.MediaType, errdefs.ErrNotImplemented)
	}
	if !distribution.IsManifest(mdesc.MediaType) {
		return Image{}, fmt.Errorf("pull %s: unsupported manifest type %q: %w", ref, mdesc.MediaType, errdefs.ErrNotImplemented)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mbytes, &m); err != nil {
		return Image{}, fmt.Errorf("pull %s: decode manifest: %w: %w", ref, err, errdefs.ErrDataLoss)
	}
	s.hold(l, []digest.Digest{mdesc.Digest, m.Config.Digest}, nil)
	cfgBytes, err := fetchConfig(ctx, repo, m.Config)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: config: %w", ref, err)
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return Image{}, fmt.Errorf("pull %s: decode config: %w: %w", ref, err, errdefs.ErrDataLoss)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return Image{}, fmt.Errorf("pull %s: the manifest has %d layers, the config %d diff IDs: %w", ref, len(m.Layers), len(cfg.RootFS.DiffIDs), errdefs.ErrDataLoss)
	}
	chain := ChainIDs(cfg.RootFS.DiffIDs)
	var layerBlobs []digest.Digest
	var chainNames []string
	for i, ld := range m.Layers {
		layerBlobs = append(layerBlobs, ld.Digest)
		chainNames = append(chainNames, chain[i].String())
	}
	s.hold(l, layerBlobs, chainNames)

	for _, b := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{top, topBytes}, {mdesc, mbytes}, {m.Config, cfgBytes}} {
		if err := content.WriteBlob(ctx, s.cs, "pull-"+b.desc.Digest.String(), bytes.NewReader(b.data), b.desc); err != nil {
			return Image{}, fmt.Errorf("pull %s: store %s: %w", ref, b.desc.Digest, err)
		}
	}
	size, err := s.pullLayers(ctx, l, repo, m.Layers, cfg.RootFS.DiffIDs, chain, progress)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", reference.FamiliarString(named), err)
	}

	rec := &record{ID: m.Config.Digest, Manifest: mdesc, Config: cfgBytes, Layers: m.Layers, ChainIDs: chain, Size: size, Added: time.Now().UTC()}
	names := []string{}
	if _, ok := named.(reference.Tagged); ok {
		names = append(names, named.String())
	}
	byDigest, err := reference.WithDigest(reference.TrimNamed(named), top.Digest)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	names = append(names, byDigest.String())
	if err := s.record(rec, names, top); err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	return s.Get(ctx, rec.ID.String())
}

// record writes an image and names for it in one transaction.
func (s *Service) record(rec *record, names []string, target ocispec.Descriptor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		if old, err := getRecord(tx, rec.ID); err == nil && old.LastTagged.After(rec.LastTagged) {
			rec.LastTagged = old.LastTagged // pulled or loaded again: its tags stay as old
		}
		if err := putRecord(tx, rec); err != nil {
			return err
		}
		for _, n := range names {
			if err := putRef(tx, n, refRecord{ID: rec.ID, Target: target, Added: rec.Added}); err != nil {
				return err
			}
		}
		return nil
	})
}

func fetchConfig(ctx context.Context, repo *distribution.Repository, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > maxConfigSize {
		return nil, fmt.Errorf("config of %d bytes is larger than %d: %w", desc.Size, maxConfigSize, errdefs.ErrInvalidArgument)
	}
	rc, err := repo.Fetch(ctx, desc, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// layerJob is one layer of a pull: its download (to the content store and,
// when the unpacker is already waiting for it, straight into the unpacker)
// and its unpack.
type layerJob struct {
	desc    ocispec.Descriptor
	diffID  digest.Digest
	chainID digest.Digest
	parent  digest.Digest
	fetch   bool // the blob is not in the content store
	unpack  bool // the snapshot does not exist
	// stream receives the download's bytes when the unpacker gets them while
	// they arrive; ready is closed when the download ended, with err.
	stream chan *io.PipeReader
	ready  chan struct{}
	err    error
}

// pullLayers makes every layer's blob and snapshot present and returns the
// layers' total size. Downloads run in parallel (bounded), unpacking strictly
// in order: layer N is unpacked once layers below it are committed, straight
// from the network when its download starts after the unpacker got to it,
// from the content store otherwise.
func (s *Service) pullLayers(ctx context.Context, l *lease, repo *distribution.Repository, layers []ocispec.Descriptor, diffIDs, chain []digest.Digest, progress ProgressFunc) (int64, error) {
	jobs := make([]*layerJob, len(layers))
	var sizes []int64
	// The snapshots that exist: a committed snapshot's parents exist too.
	have := -1
	for i := len(chain) - 1; i >= 0; i-- {
		if _, err := s.sn.Stat(ctx, chain[i].String()); err == nil {
			have = i
			break
		} else if !errdefs.IsNotFound(err) {
			return 0, err
		}
	}
	for i, ld := range layers {
		j := &layerJob{desc: ld, diffID: diffIDs[i], chainID: chain[i], unpack: i > have, stream: make(chan *io.PipeReader, 1), ready: make(chan struct{})}
		if i > 0 {
			j.parent = chain[i-1]
		}
		if _, err := s.cs.Info(ctx, ld.Digest); errdefs.IsNotFound(err) {
			j.fetch = true
		} else if err != nil {
			return 0, err
		}
		jobs[i] = j
		switch {
		case !j.unpack && !j.fetch:
			progress(Progress{ID: shortDigest(ld.Digest), Action: "Already exists"})
		case j.fetch:
			progress(Progress{ID: shortDigest(ld.Digest), Action: "Pulling fs layer"})
		}
		if !j.fetch {
			close(j.ready)
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var cursor atomic.Int64 // the layer the unpacker waits for
	cursor.Store(0)
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.cfg.MaxConcurrentDownloads)
	wg.Go(func() {
		for i, j := range jobs {
			if !j.fetch {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				j.err = context.Cause(ctx)
				close(j.ready)
				continue
			}
			wg.Go(func() {
				defer func() { <-sem }()
				streaming := j.unpack && cursor.Load() == int64(i)
				j.err = s.download(ctx, repo, j, streaming, progress)
				if j.err != nil {
					cancel(j.err)
				}
				close(j.ready)
			})
		}
	})

	var err error
	for i, j := range jobs {
		cursor.Store(int64(i))
		var n int64
		n, err = s.unpackJob(ctx, l, j, progress)
		if err != nil {
			cancel(err)
			break
		}
		sizes = append(sizes, n)
	}
	wg.Wait()
	if err == nil {
		for _, j := range jobs {
			if j.err != nil {
				err = j.err
				break
			}
		}
	}
	if err != nil {
		if c := context.Cause(ctx); c != nil && errors.Is(err, context.Canceled) && !errors.Is(c, context.Canceled) {
			err = c // the first failure, not the cancellation it caused
		}
		return 0, err
	}
	var total int64
	for _, n := range sizes {
		total += n
	}
	return total, nil
}

func shortDigest(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

// download stores j's blob in the content store, and when streaming also hands
// the bytes to the unpacker as they arrive. On failure the partial blob is
// removed.
func (s *Service) download(ctx context.Context, repo *distribution.Repository, j *layerJob, streaming bool, progress ProgressFunc) (err error) {
	id := shortDigest(j.desc.Digest)
	ref := "pull-" + j.desc.Digest.String()
	w, err := s.cs.Writer(ctx, ref, ocispec.Descriptor{Digest: j.desc.Digest, Size: j.desc.Size})
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	var pw *io.PipeWriter
	if streaming {
		var pr *io.PipeReader
		pr, pw = io.Pipe()
		j.stream <- pr
		// The unpacker may give up (another layer failed) without reading.
		stop := context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })
		defer stop()
	}
	defer func() {
		if pw != nil {
			pw.CloseWithError(err)
		}
		w.Close()
		if err != nil {
			s.cs.Abort(context.WithoutCancel(ctx), ref)
		}
	}()
	if w.Offset() > 0 {
		// Fetch starts at the beginning; so does the blob.
		if err := w.Truncate(0); err != nil {
			return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
		}
	}
	rc, err := repo.Fetch(ctx, j.desc, func(done, total int64) {
		progress(Progress{ID: id, Action: "Downloading", Current: done, Total: total})
	})
	if err != nil {
		return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	defer rc.Close()
	var dst io.Writer = w
	if pw != nil {
		dst = io.MultiWriter(w, pw)
	}
	if _, err := io.Copy(dst, rc); err != nil {
		return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	if err := w.Commit(ctx, j.desc.Size, j.desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	progress(Progress{ID: id, Action: "Download complete"})
	return nil
}

// unpackJob waits for j's bytes and unpacks them, or only waits for the
// download when the snapshot exists. It returns the layer's size.
func (s *Service) unpackJob(ctx context.Context, l *lease, j *layerJob, progress ProgressFunc) (int64, error) {
	id := shortDigest(j.desc.Digest)
	if !j.unpack {
		select {
		case <-j.ready:
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		}
		if j.err != nil {
			return 0, j.err
		}
		if j.fetch {
			progress(Progress{ID: id, Action: "Pull complete"})
		}
		return s.layerSize(ctx, j.chainID)
	}
	var src io.Reader
	var closeSrc func()
	select {
	case pr := <-j.stream:
		src, closeSrc = pr, func() { pr.Close() }
	case <-j.ready:
		if j.err != nil {
			return 0, j.err
		}
		rc, err := s.cs.Reader(ctx, j.desc.Digest)
		if err != nil {
			return 0, fmt.Errorf("layer %s: %w", j.desc.Digest, err)
		}
		src, closeSrc = rc, func() { rc.Close() }
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
	defer closeSrc()
	progress(Progress{ID: id, Action: "Extracting", Total: j.desc.Size})
	dr, _, err := archive.Decompress(src)
	if err != nil {
		if pr, ok := src.(*io.PipeReader); ok {
			pr.CloseWithError(err)
		}
		return 0, fmt.Errorf("layer %s: %w", j.desc.Digest, err)
	}
	defer dr.Close()
	n, _, err := s.unpack(ctx, l, j.parent, dr, j.diffID, func() error {
		// The compressed stream may end after the tar does: read it to its
		// end, where the blob's digest is checked, and wait for the store.
		if _, err := io.Copy(io.Discard, src); err != nil {
			return fmt.Errorf("layer %s: %w", j.desc.Digest, err)
		}
		select {
		case <-j.ready:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		return j.err
	})
	if err != nil {
		if pr, ok := src.(*io.PipeReader); ok {
			pr.CloseWithError(err)
		}
		return 0, err
	}
	progress(Progress{ID: id, Action: "Pull complete"})
	return n, nil
}

// LayerSizes returns the bytes of file content each of img's layers holds,
// base first, as docker history shows them.
func (s *Service) LayerSizes(ctx context.Context, img Image) ([]int64, error) {
	sizes := make([]int64, len(img.ChainIDs))
	for i, c := range img.ChainIDs {
		n, err := s.layerSize(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %d: %w", img.ID, i, err)
		}
		sizes[i] = n
	}
	return sizes, nil
}

// layerSize reads the size recorded on a committed layer snapshot.
func (s *Service) layerSize(ctx context.Context, chainID digest.Digest) (int64, error) {
	info, err := s.sn.Stat(ctx, chainID.String())
	if err != nil {
		return 0, err
	}
	if info.Kind != snapshot.KindCommitted {
		return 0, fmt.Errorf("layer snapshot %s is %s: %w", chainID, info.Kind, errdefs.ErrFailedPrecondition)
	}
	n, _ := strconv.ParseInt(info.Labels[labelLayerSize], 10, 64)
	return n, nil
}
