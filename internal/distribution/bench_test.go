package distribution

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BenchmarkPull pulls a 100 MB image of four layers from the in-process registry on
// loopback: resolve, manifest, then config and layers in parallel (the default three
// download slots), each verified while it streams to io.Discard. MB/s is the client's
// throughput including verification.
func BenchmarkPull(b *testing.B) {
	srv := startRegistry(b, nil)
	c := newTestClient(b, Config{}, hostOf(srv))
	img := newImage(b, 4, 25<<20, nil)
	pushImage(b, openRepo(b, c, hostOf(srv)+"/bench"), img, "v1", PushOptions{})
	ctx := context.Background()
	b.SetBytes(img.size())
	b.ResetTimer()
	for b.Loop() {
		r := openRepo(b, c, hostOf(srv)+"/bench")
		desc, err := r.Resolve(ctx, "v1")
		if err != nil {
			b.Fatal(err)
		}
		mb, err := r.FetchManifest(ctx, desc)
		if err != nil {
			b.Fatal(err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(mb, &m); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(m.Layers)+1)
		for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
			wg.Go(func() {
				rc, err := r.Fetch(ctx, d, nil)
				if err != nil {
					errs <- err
					return
				}
				defer rc.Close()
				if _, err := io.Copy(io.Discard, rc); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
}
