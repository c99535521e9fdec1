package image

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/distribution"
)

// gzipMediaType is the compressed form of an uncompressed layer media type.
var gzipMediaType = map[string]string{
	ocispec.MediaTypeImageLayer:                            ocispec.MediaTypeImageLayerGzip,
	"application/vnd.docker.image.rootfs.diff.tar":         "application/vnd.docker.image.rootfs.diff.tar.gzip",
	ocispec.MediaTypeImageLayerNonDistributable:            ocispec.MediaTypeImageLayerNonDistributableGzip, //nolint:staticcheck // still in use
	"application/vnd.docker.image.rootfs.foreign.diff.tar": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
}

// pushLayer makes the layer ld present in repo in the form registries expect,
// and returns the descriptor the pushed manifest names. Layers kept
// uncompressed here (imported, loaded from docker save) go gzip-compressed, as
// docker push sends them: the first time compressed while they are sent, after
// that from the compressed copy the content store keeps beside the original.
// The image itself (its config, its ID) does not change.
func (s *Service) pushLayer(ctx context.Context, l *lease, repo *distribution.Repository, ld ocispec.Descriptor, mountFrom []string, progress ProgressFunc) (ocispec.Descriptor, error) {
	mediaType, ok := gzipMediaType[ld.MediaType]
	if !ok {
		return ld, s.pushBlob(ctx, repo, ld, mountFrom, progress)
	}
	if cd, ok := s.compressedCopy(ctx, l, ld.Digest); ok {
		cd.MediaType = mediaType
		return cd, s.pushBlob(ctx, repo, cd, mountFrom, progress)
	}
	return s.pushCompressing(ctx, l, repo, ld, mediaType, progress)
}

// compressedCopy finds the gzip copy of the uncompressed blob d kept by an
// earlier push, and holds it for l.
func (s *Service) compressedCopy(ctx context.Context, l *lease, d digest.Digest) (ocispec.Descriptor, bool) {
	var cd ocispec.Descriptor
	var found bool
	s.db.View(func(tx *bolt.Tx) error {
		cd, found = getCompressed(tx, d)
		return nil
	})
	if !found {
		return ocispec.Descriptor{}, false
	}
	s.hold(l, []digest.Digest{cd.Digest}, nil)
	if _, err := s.cs.Info(ctx, cd.Digest); err != nil {
		return ocispec.Descriptor{}, false
	}
	return cd, true
}

// pushCompressing compresses the layer ld into the content store and, at the
// same time, streams the compressed bytes to the registry. Should the stream
// fail, the finished compressed blob is pushed again the ordinary way, with
// retries.
func (s *Service) pushCompressing(ctx context.Context, l *lease, repo *distribution.Repository, ld ocispec.Descriptor, mediaType string, progress ProgressFunc) (ocispec.Descriptor, error) {
	pr, pw := io.Pipe()
	type result struct {
		desc ocispec.Descriptor
		err  error
	}
	compressed := make(chan result, 1)
	go func() {
		desc, err := s.gzipBlob(ctx, l, ld, mediaType, &lenientWriter{w: pw}, progress)
		pw.CloseWithError(err)
		compressed <- result{desc, err}
	}()
	sent, serr := repo.PushBlobStream(ctx, pr)
	// The compression goes on into the content store even if the stream ended early.
	pr.CloseWithError(errors.New("the registry stream ended"))
	res := <-compressed
	if res.err != nil {
		return ocispec.Descriptor{}, res.err
	}
	if serr == nil && sent.Digest == res.desc.Digest {
		progress(Progress{ID: shortDigest(ld.Digest), Action: "Pushed"})
		return res.desc, nil
	}
	if ctx.Err() != nil {
		return ocispec.Descriptor{}, context.Cause(ctx)
	}
	return res.desc, s.pushBlob(ctx, repo, res.desc, nil, progress)
}

// lenientWriter writes to w until w fails, and from then on drops what it is
// given: the stream to the registry may end while the content store still wants
// every byte.
type lenientWriter struct {
	w      io.Writer
	failed bool
}

func (lw *lenientWriter) Write(p []byte) (int, error) {
	if !lw.failed {
		if _, err := lw.w.Write(p); err != nil {
			lw.failed = true
		}
	}
	return len(p), nil
}

// gzipBlob stores the gzip form of an uncompressed layer blob, also writing it to
// tee, records it as that layer's compressed copy, and describes it. The output
// depends only on the input (pgzip with fixed blocks, no name or time in the
// header), so pushing the same layer again finds it in the registry. progress
// hears the uncompressed bytes read, as docker push shows them.
func (s *Service) gzipBlob(ctx context.Context, l *lease, ld ocispec.Descriptor, mediaType string, tee io.Writer, progress ProgressFunc) (ocispec.Descriptor, error) {
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
	zw, err := archive.Compress(io.MultiWriter(w, tee), archive.Gzip, 0)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	id := shortDigest(ld.Digest)
	src := &progressReader{r: rc, report: func(n int64) {
		progress(Progress{ID: id, Action: "Pushing", Current: n, Total: ld.Size})
	}}
	if _, err := io.Copy(zw, src); err != nil {
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error { return putCompressed(tx, ld.Digest, desc) }); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("compress layer %s: %w", ld.Digest, err)
	}
	return desc, nil
}

// progressReader reports the bytes read through it, at most every 512 KiB.
type progressReader struct {
	r       io.Reader
	n, last int64
	report  func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.last >= 512<<10 || err == io.EOF {
		p.last = p.n
		p.report(p.n)
	}
	return n, err
}

// manifestFor returns the manifest m with layers as pushed: m itself when no
// layer changed form, else a new manifest stored in the content store and held
// by l.
func (s *Service) manifestFor(ctx context.Context, l *lease, mdesc ocispec.Descriptor, mbytes []byte, m ocispec.Manifest, layers []ocispec.Descriptor) (ocispec.Descriptor, []byte, error) {
	if slices.EqualFunc(m.Layers, layers, func(a, b ocispec.Descriptor) bool { return a.Digest == b.Digest && a.MediaType == b.MediaType }) {
		return mdesc, mbytes, nil
	}
	out := m
	out.Layers = layers
	nb, err := json.Marshal(out)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	nd := ocispec.Descriptor{MediaType: mdesc.MediaType, Digest: digest.FromBytes(nb), Size: int64(len(nb))}
	s.hold(l, []digest.Digest{nd.Digest}, nil)
	if err := content.WriteBlob(ctx, s.cs, "push-"+nd.Digest.String(), bytes.NewReader(nb), nd); err != nil && !errdefs.IsAlreadyExists(err) {
		return ocispec.Descriptor{}, nil, fmt.Errorf("store the compressed manifest: %w", err)
	}
	return nd, nb, nil
}
