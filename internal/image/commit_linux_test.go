package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/containerd/errdefs"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// rawTar is an uncompressed layer tar of entries (see entry).
func rawTar(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, ModTime: time.Unix(1700000000, 0), Typeflag: tar.TypeReg, Size: int64(len(e.body))}
		if strings.HasSuffix(e.name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, e.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCommitAddsALayer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		e := newEnv(t, driver, nil)
		base, _ := makeLayer(t, entry{"etc/", ""}, entry{"etc/motd", "hello"}, entry{"etc/gone", "x"}, entry{"bin/", ""}, entry{"bin/app", "v1"})
		parent, err := e.svc.Import(ctx, bytes.NewReader(base), ImportOptions{Ref: "base:1"})
		if err != nil {
			t.Fatal(err)
		}
		layer := rawTar(t, entry{"bin/", ""}, entry{"bin/app", "v2"}, entry{"etc/", ""}, entry{"etc/.wh.gone", ""}, entry{"new", "added"})
		cfg := ocispec.ImageConfig{Cmd: []string{"/bin/app"}, Env: []string{"A=1"}}
		img, err := e.svc.Commit(ctx, CommitOptions{
			Parent: "base:1", Layer: bytes.NewReader(layer), Config: cfg,
			Author: "Ann <ann@example.com>", Comment: "second", CreatedBy: "sh -c build", Ref: "committed:v2",
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(img.RepoTags, []string{"committed:v2"}) || img.LastTagTime.IsZero() {
			t.Errorf("RepoTags %q, LastTagTime %v", img.RepoTags, img.LastTagTime)
		}
		if len(img.Layers) != 2 || img.Layers[0].Digest != parent.Layers[0].Digest || img.Layers[1].MediaType != ocispec.MediaTypeImageLayer {
			t.Fatalf("layers %+v", img.Layers)
		}
		if len(img.ChainIDs) != 2 || img.ChainIDs[0] != parent.ChainIDs[0] || img.Config.RootFS.DiffIDs[1] != img.Layers[1].Digest {
			t.Errorf("chain %v diff IDs %v", img.ChainIDs, img.Config.RootFS.DiffIDs)
		}
		if !reflect.DeepEqual(img.Config.Config, cfg) || img.Config.Author != "Ann <ann@example.com>" || img.Config.Architecture != parent.Config.Architecture {
			t.Errorf("config %+v", img.Config)
		}
		h := img.Config.History
		if len(h) != 2 || h[1].Comment != "second" || h[1].CreatedBy != "sh -c build" || h[1].Author != "Ann <ann@example.com>" || h[1].EmptyLayer {
			t.Errorf("history %+v", h)
		}
		if img.Size != parent.Size+int64(len("v2")+len("added")) {
			t.Errorf("size %d, parent %d", img.Size, parent.Size)
		}
		files := e.rootfs(t, "committed:v2")
		if files["bin/app"] != "v2" || files["etc/motd"] != "hello" || files["new"] != "added" {
			t.Errorf("rootfs %q", keys(files))
		}
		if _, ok := files["etc/gone"]; ok {
			t.Errorf("the whiteout did not remove etc/gone: %q", keys(files))
		}
		// The parent is untouched, and deleting it keeps the child whole.
		if files := e.rootfs(t, "base:1"); files["bin/app"] != "v1" || files["etc/gone"] != "x" {
			t.Errorf("parent rootfs %q", keys(files))
		}
		if _, err := e.svc.Delete(ctx, "base:1", false); err != nil {
			t.Fatal(err)
		}
		if files := e.rootfs(t, "committed:v2"); files["etc/motd"] != "hello" {
			t.Errorf("after deleting the parent: %q", keys(files))
		}
		// The layer blob is the tar itself.
		rc, err := e.cs.Reader(ctx, img.Layers[1].Digest)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, layer) {
			t.Errorf("stored layer differs from the committed tar (%d bytes, want %d)", len(got), len(layer))
		}
	})
}

func TestCommitEmptyLayer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		e := newEnv(t, driver, nil)
		base, _ := makeLayer(t, entry{"f", "x"})
		parent, err := e.svc.Import(ctx, bytes.NewReader(base), ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		before := e.snapshots(t)
		// An empty tar, delivered a byte at a time: nothing to unpack.
		img, err := e.svc.Commit(ctx, CommitOptions{Parent: parent.ID.String(), Layer: iotest.OneByteReader(bytes.NewReader(rawTar(t))), CreatedBy: "true"})
		if err != nil {
			t.Fatal(err)
		}
		if img.ID == parent.ID || !reflect.DeepEqual(img.Layers, parent.Layers) || !reflect.DeepEqual(img.ChainIDs, parent.ChainIDs) || img.Size != parent.Size {
			t.Errorf("empty commit changed the layers: %+v", img)
		}
		if h := img.Config.History; len(h) != 2 || !h[1].EmptyLayer || h[1].CreatedBy != "true" {
			t.Errorf("history %+v", h)
		}
		if len(img.RepoTags) != 0 {
			t.Errorf("tags %q", img.RepoTags)
		}
		if after := e.snapshots(t); !reflect.DeepEqual(after, before) {
			t.Errorf("snapshots %q, before %q", after, before)
		}
	})
}

func TestCommitRefusals(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		e := newEnv(t, driver, nil)
		base, _ := makeLayer(t, entry{"f", "x"})
		if _, err := e.svc.Import(ctx, bytes.NewReader(base), ImportOptions{Ref: "base"}); err != nil {
			t.Fatal(err)
		}
		before := e.snapshots(t)
		blobs := len(e.blobs(t))
		if _, err := e.svc.Commit(ctx, CommitOptions{Parent: "nosuch", Layer: bytes.NewReader(rawTar(t))}); !errdefs.IsNotFound(err) {
			t.Errorf("unknown parent: %v", err)
		}
		digestRef := "x@sha256:" + strings.Repeat("a", 64)
		if _, err := e.svc.Commit(ctx, CommitOptions{Parent: "base", Ref: digestRef, Layer: bytes.NewReader(rawTar(t))}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("digest ref: %v", err)
		}
		// A layer that breaks off half-way leaves no image, snapshot or blob.
		layer := rawTar(t, entry{"big", strings.Repeat("z", 10000)})
		_, err := e.svc.Commit(ctx, CommitOptions{Parent: "base", Ref: "half:1", Layer: io.MultiReader(bytes.NewReader(layer[:3000]), iotest.ErrReader(io.ErrUnexpectedEOF))})
		if err == nil {
			t.Fatal("a broken layer committed")
		}
		if _, err := e.svc.Get(ctx, "half:1"); !errdefs.IsNotFound(err) {
			t.Errorf("half:1 exists: %v", err)
		}
		if after := e.snapshots(t); !reflect.DeepEqual(after, before) {
			t.Errorf("snapshots %q, before %q", after, before)
		}
		if n := len(e.blobs(t)); n != blobs {
			t.Errorf("%d blobs, before %d", n, blobs)
		}
	})
}
