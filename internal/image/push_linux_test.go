package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/distribution"
)

// registerUncompressed stores an image whose layers are uncompressed tars, as
// docker load leaves them, and registers it as name.
func registerUncompressed(t *testing.T, e *env, name string, layers ...[]entry) Image {
	t.Helper()
	ctx := context.Background()
	var ldescs []ocispec.Descriptor
	var diffIDs []digest.Digest
	for _, es := range layers {
		gz, diffID := makeLayer(t, es...)
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		d := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: diffID, Size: int64(len(raw))}
		if err := content.WriteBlob(ctx, e.cs, "test-"+d.Digest.String(), bytes.NewReader(raw), d); err != nil {
			t.Fatal(err)
		}
		ldescs, diffIDs = append(ldescs, d), append(diffIDs, diffID)
	}
	cfg := mustJSON(t, ocispec.Image{Platform: amd64, RootFS: ocispec.RootFS{Type: "layers", DiffIDs: diffIDs}})
	cdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))}
	m := mustJSON(t, ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cdesc, Layers: ldescs})
	mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(m), Size: int64(len(m))}
	for _, b := range []struct {
		d    ocispec.Descriptor
		data []byte
	}{{cdesc, cfg}, {mdesc, m}} {
		if err := content.WriteBlob(ctx, e.cs, "test-"+b.d.Digest.String(), bytes.NewReader(b.data), b.d); err != nil {
			t.Fatal(err)
		}
	}
	img, err := e.svc.Register(ctx, mdesc, []string{name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPushCompressesUncompressedLayersOnce checks what a user of docker load +
// docker push sees: the registry gets gzip layers and a manifest naming them,
// the image keeps its ID, the second push sends nothing and yields the same
// manifest, and removing the image frees the compressed copies too.
func TestPushCompressesUncompressedLayersOnce(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		reg := startRegistry(t)
		e := newEnv(t, driver, newClient(t, reg.host))
		blobsBefore := len(e.blobs(t))
		target := reg.host + "/loaded/app:v1"
		img := registerUncompressed(t, e, target, []entry{{"a", strings.Repeat("a", 100<<10)}}, []entry{{"b", "b"}})

		first, err := e.svc.Push(ctx, target, PushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := reg.count(http.MethodPatch, "/blobs/uploads/"); n != 2 {
			t.Errorf("%d streamed uploads (PATCH), want one per layer, compressed while sent", n)
		}
		repo, err := newClient(t, reg.host).Repository(ctx, mustNamed(t, target), nil)
		if err != nil {
			t.Fatal(err)
		}
		mb, err := repo.FetchManifest(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(mb, &m); err != nil {
			t.Fatal(err)
		}
		if m.Config.Digest != img.ID {
			t.Errorf("pushed config %s, want the image's own %s", m.Config.Digest, img.ID)
		}
		for i, l := range m.Layers {
			blob, err := fetchBlob(ctx, repo, l)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(bytes.NewReader(blob))
			if err != nil {
				t.Fatalf("pushed layer %d is not gzip: %v", i, err)
			}
			raw, _ := io.ReadAll(zr)
			if l.MediaType != ocispec.MediaTypeImageLayerGzip || digest.FromBytes(raw) != img.Config.RootFS.DiffIDs[i] {
				t.Errorf("pushed layer %d: %s, uncompressed %s, want gzip of %s", i, l.MediaType, digest.FromBytes(raw), img.Config.RootFS.DiffIDs[i])
			}
		}

		// Again, to a registry that has it all: nothing is uploaded and the
		// manifest is the same (the compressed copies were kept).
		patches := reg.count(http.MethodPatch, "/blobs/uploads/") + reg.count(http.MethodPut, "/blobs/uploads/")
		second, err := e.svc.Push(ctx, target, PushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if second.Digest != first.Digest {
			t.Errorf("second push: manifest %s, first %s", second.Digest, first.Digest)
		}
		if n := reg.count(http.MethodPatch, "/blobs/uploads/") + reg.count(http.MethodPut, "/blobs/uploads/"); n != patches {
			t.Errorf("second push uploaded again (%d requests)", n-patches)
		}

		if _, err := e.svc.Delete(ctx, img.ID.String(), true); err != nil {
			t.Fatal(err)
		}
		if n := len(e.blobs(t)); n != blobsBefore {
			t.Errorf("%d blobs left after removing the only image, want %d", n, blobsBefore)
		}
	})
}

func mustNamed(t *testing.T, ref string) reference.Named {
	t.Helper()
	n, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func fetchBlob(ctx context.Context, repo *distribution.Repository, d ocispec.Descriptor) ([]byte, error) {
	rc, err := repo.Fetch(ctx, d, nil)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestPushFallsBackWhenTheStreamFails checks that a registry refusing the
// streamed upload of a layer being compressed still gets the image: the
// finished compressed copy is pushed the ordinary way.
func TestPushFallsBackWhenTheStreamFails(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		reg := startRegistry(t)
		reg.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if r.Method == http.MethodPatch {
				io.Copy(io.Discard, r.Body)
				http.Error(w, `{"errors":[{"code":"UNSUPPORTED","message":"no streams"}]}`, http.StatusMethodNotAllowed)
				return
			}
			next.ServeHTTP(w, r)
		})
		e := newEnv(t, driver, newClient(t, reg.host))
		target := reg.host + "/loaded/app:v1"
		img := registerUncompressed(t, e, target, []entry{{"a", strings.Repeat("a", 300<<10)}})
		desc, err := e.svc.Push(ctx, target, PushOptions{})
		if err != nil {
			t.Fatalf("push when the registry refuses streams: %v", err)
		}
		reg.setWrap(nil)
		e2 := newEnv(t, driver, newClient(t, reg.host))
		back, err := e2.svc.Pull(ctx, target, PullOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if back.ID != img.ID || back.Manifest.Digest != desc.Digest {
			t.Errorf("pulled back %s (manifest %s), want %s (%s)", back.ID, back.Manifest.Digest, img.ID, desc.Digest)
		}
	})
}
