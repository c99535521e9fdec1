package image

import (
	"bytes"
	"context"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

func randomBody(n int, seed uint64) string {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed)}).Read(b)
	return string(b)
}

func TestDeleteTagUntagAndGC(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		reg := startRegistry(t)
		base := []entry{{"big/", ""}, {"big/base", randomBody(512<<10, 1)}}
		imgA := buildImage(t, amd64, base, []entry{{"a", randomBody(256<<10, 2)}})
		imgB := buildImage(t, amd64, base, []entry{{"b", randomBody(256<<10, 3)}})
		reg.push(t, "test/a", "v1", imgA)
		reg.push(t, "test/b", "v1", imgB)
		e := newEnv(t, driver, newClient(t, reg.host))
		empty := diskUsage(t, e.root)
		a, err := e.svc.Pull(ctx, reg.host+"/test/a:v1", PullOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.svc.Pull(ctx, reg.host+"/test/b:v1", PullOptions{})
		if err != nil {
			t.Fatal(err)
		}
		full := diskUsage(t, e.root)

		// A second name only goes away.
		if err := e.svc.Tag(ctx, a.ID.Encoded()[:12], "local/extra"); err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.Delete(ctx, "local/extra:latest", false)
		if err != nil || !reflect.DeepEqual(res, []DeleteResult{{Untagged: "local/extra:latest"}}) {
			t.Fatalf("rmi of a second tag: %+v, %v", res, err)
		}
		if err := e.svc.Untag(ctx, "local/extra"); !errdefs.IsNotFound(err) {
			t.Errorf("untag of a removed name: %v", err)
		}
		if err := e.svc.Tag(ctx, a.ID.String(), "local/extra:1"); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Delete(ctx, a.ID.String(), false)
		if want := "conflict: unable to delete " + a.ID.Encoded()[:12] + " (must be forced) - image is referenced in multiple repositories"; !errdefs.IsConflict(err) || err.Error() != want {
			t.Errorf("rmi by ID with two repositories: %v, want %q", err, want)
		}

		// An image in use cannot go, even forced.
		e.setInUse(b.ID, true)
		_, err = e.svc.Delete(ctx, b.ID.String(), true)
		if want := "conflict: unable to delete " + b.ID.Encoded()[:12] + " (cannot be forced) - image is being used by running container c0ffee000000"; !errdefs.IsConflict(err) || err.Error() != want {
			t.Errorf("rmi -f of an image in use: %v, want %q", err, want)
		}
		if _, err := e.svc.Delete(ctx, reg.host+"/test/b:v1", false); !errdefs.IsConflict(err) {
			t.Errorf("rmi of the last tag of an image in use: %v", err)
		}
		e.setInUse(b.ID, false)

		// A container layer on B keeps B's top snapshot after B is deleted.
		key := "berth-test-image-ctr-gc"
		if _, err := e.svc.PrepareRootfs(ctx, b.ID.String(), key); err != nil {
			t.Fatal(err)
		}
		res, err = e.svc.Delete(ctx, reg.host+"/test/b:v1", false)
		if err != nil {
			t.Fatal(err)
		}
		if last := res[len(res)-1]; last.Deleted != b.ID.String() || len(res) != 3 {
			t.Errorf("rmi of B: %+v, want two names untagged and the image deleted", res)
		}
		if _, err := e.svc.Get(ctx, b.ID.String()); !errdefs.IsNotFound(err) {
			t.Errorf("B after rmi: %v", err)
		}
		blobs := e.blobs(t)
		if blobs[imgB.ldescs[1].Digest] || blobs[imgB.cdesc.Digest] || blobs[imgB.desc.Digest] {
			t.Errorf("B's own blobs survived its deletion")
		}
		if !blobs[imgA.ldescs[0].Digest] || !blobs[imgA.ldescs[1].Digest] {
			t.Errorf("A's blobs were collected with B")
		}
		topB := ChainIDs(imgB.diffIDs)[1].String()
		if !contains(e.snapshots(t), "committed "+topB) {
			t.Errorf("B's top layer was removed under a container: %q", e.snapshots(t))
		}
		if err := e.svc.RemoveRootfs(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Prune(ctx, PruneOptions{}); err != nil {
			t.Fatal(err)
		}
		if contains(e.snapshots(t), "committed "+topB) {
			t.Errorf("B's top layer outlived its container and its image")
		}
		if files := e.rootfs(t, a.ID.String()); files["big/base"] == "" || files["a"] == "" {
			t.Errorf("A's rootfs after B's removal: %q", keys(files))
		}

		// Forced, A and every name go, and with them every blob and layer.
		if _, err := e.svc.Delete(ctx, a.ID.String(), true); err != nil {
			t.Fatal(err)
		}
		if imgs, _ := e.svc.List(ctx, ListOptions{}); len(imgs) != 0 {
			t.Errorf("%d images left", len(imgs))
		}
		if got := e.blobs(t); len(got) != 0 {
			t.Errorf("blobs left: %v", got)
		}
		if got := e.snapshots(t); len(got) != 0 {
			t.Errorf("snapshots left: %q", got)
		}
		if after := diskUsage(t, e.root); after > empty+(full-empty)/4 {
			t.Errorf("data root uses %d bytes after removing everything: %d when empty, %d with both images", after, empty, full)
		}
	})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestPrune(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		e := newEnv(t, driver, nil)
		imp := func(ref, body string) digest.Digest {
			blob, _ := makeLayer(t, entry{"f", body})
			img, err := e.svc.Import(ctx, bytes.NewReader(blob), ImportOptions{Ref: ref})
			if err != nil {
				t.Fatal(err)
			}
			return img.ID
		}
		dangling := imp("", "dangling")
		tagged := imp("keep/me", "tagged")
		used := imp("", "used by a container")
		e.setInUse(used, true)

		rep, err := e.svc.Prune(ctx, PruneOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rep.Deleted, []DeleteResult{{Deleted: dangling.String()}}) || rep.SpaceReclaimed <= 0 {
			t.Errorf("prune: %+v, want only %s deleted and space reclaimed", rep, dangling)
		}
		rep, err = e.svc.Prune(ctx, PruneOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Deleted) != 2 || rep.Deleted[1].Deleted != tagged.String() {
			t.Errorf("prune -a: %+v, want keep/me untagged and %s deleted", rep, tagged)
		}
		imgs, _ := e.svc.List(ctx, ListOptions{})
		if len(imgs) != 1 || imgs[0].ID != used {
			t.Errorf("after prune -a: %d images, want only the one in use", len(imgs))
		}
		if got := strings.Join(e.snapshots(t), ","); got != "committed "+imgs[0].ChainIDs[0].String() {
			t.Errorf("snapshots after prune -a: %s", got)
		}
	})
}
