package image

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
)

// base and top are the layers of the test image: top removes etc/motd, makes
// var/cache opaque and adds files.
var (
	baseLayer = []entry{{"etc/", ""}, {"etc/motd", "hello"}, {"etc/keep", "kept"}, {"var/", ""}, {"var/cache/", ""}, {"var/cache/a", "a"}, {"var/cache/b", "b"}}
	topLayer  = []entry{{"etc/.wh.motd", ""}, {"var/cache/", ""}, {"var/cache/.wh..wh..opq", ""}, {"var/cache/c", "c"}, {"srv/", ""}, {"srv/app", "app v1"}}
	wantFiles = map[string]string{"etc/": "", "etc/keep": "kept", "var/": "", "var/cache/": "", "var/cache/c": "c", "srv/": "", "srv/app": "app v1"}
)

func TestPullRootfsAndSharedLayers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		reg := startRegistry(t)
		imgA := buildImage(t, amd64, baseLayer, topLayer)
		imgArm := buildImage(t, arm64, []entry{{"arm", "64"}})
		index := reg.push(t, "test/a", "v1", imgA, imgArm)
		imgB := buildImage(t, amd64, baseLayer, []entry{{"b", "only in b"}})
		reg.push(t, "test/b", "latest", imgB)
		e := newEnv(t, driver, newClient(t, reg.host))

		var actions []string
		got, err := e.svc.Pull(ctx, reg.host+"/test/a:v1", PullOptions{Platform: &amd64, Progress: func(p Progress) { actions = append(actions, p.Action) }})
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != imgA.cdesc.Digest || got.Manifest.Digest != imgA.desc.Digest {
			t.Errorf("pulled ID %s manifest %s, want %s %s", got.ID, got.Manifest.Digest, imgA.cdesc.Digest, imgA.desc.Digest)
		}
		if want := []string{reg.host + "/test/a:v1"}; !reflect.DeepEqual(got.RepoTags, want) {
			t.Errorf("RepoTags %q, want %q", got.RepoTags, want)
		}
		if want := []string{reg.host + "/test/a@" + index.Digest.String()}; !reflect.DeepEqual(got.RepoDigests, want) {
			t.Errorf("RepoDigests %q, want %q (the index digest)", got.RepoDigests, want)
		}
		if want := ChainIDs(imgA.diffIDs); !reflect.DeepEqual(got.ChainIDs, want) {
			t.Errorf("ChainIDs %v, want %v", got.ChainIDs, want)
		}
		if got.Size != int64(len("hello"+"kept"+"a"+"b"+"c"+"app v1")) {
			t.Errorf("Size %d", got.Size)
		}
		if got.Config.Config.Labels["test"] != "amd64" || got.Created.IsZero() {
			t.Errorf("config not kept: %+v", got.Config)
		}
		if !strings.Contains(strings.Join(actions, ","), "Pull complete") {
			t.Errorf("progress %q lacks Pull complete", actions)
		}
		for _, name := range []string{"test/a:v1", reg.host + "/test/a:v1", got.ID.String(), got.ID.Encoded()[:7], reg.host + "/test/a@" + index.Digest.String()} {
			if name == "test/a:v1" {
				if _, err := e.svc.Get(ctx, name); !errdefs.IsNotFound(err) {
					t.Errorf("Get(%q) (docker.io) = %v, want not found", name, err)
				}
				continue
			}
			if img, err := e.svc.Get(ctx, name); err != nil || img.ID != got.ID {
				t.Errorf("Get(%q) = %s, %v", name, img.ID, err)
			}
		}
		if files := e.rootfs(t, got.ID.String()); !reflect.DeepEqual(files, wantFiles) {
			t.Errorf("rootfs has %q, want %q", keys(files), keys(wantFiles))
		}

		// B shares A's base layer: it is neither downloaded nor unpacked again.
		baseGets := reg.count("GET", "/blobs/"+imgA.ldescs[0].Digest.String())
		if baseGets != 1 {
			t.Fatalf("base layer downloaded %d times by the first pull", baseGets)
		}
		before := e.snapshots(t)
		actions = nil
		b, err := e.svc.Pull(ctx, reg.host+"/test/b", PullOptions{Progress: func(p Progress) { actions = append(actions, p.ID+" "+p.Action) }})
		if err != nil {
			t.Fatal(err)
		}
		if n := reg.count("GET", "/blobs/"+imgA.ldescs[0].Digest.String()); n != baseGets {
			t.Errorf("second pull downloaded the shared base layer again")
		}
		if !strings.Contains(strings.Join(actions, ","), shortDigest(imgA.ldescs[0].Digest)+" Already exists") {
			t.Errorf("progress %q does not report the base layer as existing", actions)
		}
		if after := e.snapshots(t); len(after) != len(before)+1 {
			t.Errorf("snapshots went from %q to %q, want one more", before, after)
		}
		if files := e.rootfs(t, b.ID.String()); files["b"] != "only in b" || files["etc/motd"] != "hello" || files["srv/app"] != "" {
			t.Errorf("rootfs of b: %q", keys(files))
		}

		// The other platform of the index.
		arm, err := e.svc.Pull(ctx, reg.host+"/test/a:v1", PullOptions{Platform: &arm64})
		if err != nil {
			t.Fatal(err)
		}
		if arm.ID != imgArm.cdesc.Digest {
			t.Errorf("arm64 pull got %s, want %s", arm.ID, imgArm.cdesc.Digest)
		}
		// The tag moved to the arm64 image: the amd64 one is dangling.
		imgs, err := e.svc.List(ctx, ListOptions{})
		if err != nil || len(imgs) != 3 {
			t.Fatalf("List = %d images, %v", len(imgs), err)
		}
		yes := true
		dangling, _ := e.svc.List(ctx, ListOptions{Dangling: &yes})
		if len(dangling) != 1 || dangling[0].ID != got.ID {
			t.Errorf("dangling images %v, want only %s", dangling, got.ID)
		}
		byRef, _ := e.svc.List(ctx, ListOptions{References: []string{reg.host + "/test/b"}})
		if len(byRef) != 1 || byRef[0].ID != b.ID {
			t.Errorf("reference filter gave %d images", len(byRef))
		}
		byLabel, _ := e.svc.List(ctx, ListOptions{Labels: []string{"test=arm64"}})
		if len(byLabel) != 1 || byLabel[0].ID != arm.ID {
			t.Errorf("label filter gave %d images", len(byLabel))
		}
	})
}

// tamper corrupts one byte of the blob dgst whenever it is served.
func tamper(dgst string) func(w http.ResponseWriter, r *http.Request, next http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+dgst) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if len(body) > 20 {
			body[len(body)-20] ^= 0xff
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	}
}

func TestPullFailureLeavesNothing(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		reg := startRegistry(t)
		img := buildImage(t, amd64, baseLayer, topLayer)
		reg.push(t, "test/bad", "v1", img)
		var e *env
		for i, ld := range img.ldescs {
			e = newEnv(t, driver, newClient(t, reg.host))
			reg.setWrap(tamper(ld.Digest.String()))
			_, err := e.svc.Pull(ctx, reg.host+"/test/bad:v1", PullOptions{})
			if !errdefs.IsDataLoss(err) {
				t.Fatalf("pull with layer %d tampered: %v, want a data loss error", i, err)
			}
			if imgs, _ := e.svc.List(ctx, ListOptions{}); len(imgs) != 0 {
				t.Errorf("layer %d tampered: %d images recorded", i, len(imgs))
			}
			if e.blobs(t)[ld.Digest] {
				t.Errorf("layer %d tampered: the bad blob was stored", i)
			}
			for _, s := range e.snapshots(t) {
				if !strings.HasPrefix(s, "committed ") {
					t.Errorf("layer %d tampered: snapshot %q left", i, s)
				}
			}
			if ing, _ := e.cs.ListIngests(ctx); len(ing) != 0 {
				t.Errorf("layer %d tampered: ingests left: %+v", i, ing)
			}
			if i == 0 {
				// Nothing can be unpacked without the base.
				if got := e.snapshots(t); len(got) > 0 {
					t.Errorf("base tampered: snapshots left: %q", got)
				}
			}
		}
		reg.setWrap(nil)
		if _, err := e.svc.Pull(ctx, reg.host+"/test/bad:v1", PullOptions{}); err != nil {
			t.Fatalf("pull once the registry is honest: %v", err)
		}
	})
}

func TestPullCancelledThenRetried(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		reg := startRegistry(t)
		img := buildImage(t, amd64, baseLayer, topLayer)
		reg.push(t, "test/slow", "v1", img)
		e := newEnv(t, driver, newClient(t, reg.host))

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// The top layer's download hangs until the pull is cancelled.
		reg.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, img.ldescs[1].Digest.String()) {
				w.Header().Set("Content-Length", strconv.Itoa(len(img.layers[1])))
				w.WriteHeader(http.StatusOK)
				w.Write(img.layers[1][:10])
				w.(http.Flusher).Flush()
				cancel()
				<-r.Context().Done()
				return
			}
			next.ServeHTTP(w, r)
		})
		_, err := e.svc.Pull(ctx, reg.host+"/test/slow:v1", PullOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled pull: %v, want context.Canceled", err)
		}
		if imgs, _ := e.svc.List(ctx, ListOptions{}); len(imgs) != 0 {
			t.Errorf("cancelled pull recorded %d images", len(imgs))
		}
		for _, s := range e.snapshots(t) {
			if !strings.HasPrefix(s, "committed ") {
				t.Errorf("cancelled pull left snapshot %q", s)
			}
		}
		reg.setWrap(nil)
		got, err := e.svc.Pull(context.Background(), reg.host+"/test/slow:v1", PullOptions{})
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if files := e.rootfs(t, got.ID.String()); !reflect.DeepEqual(files, wantFiles) {
			t.Errorf("rootfs has %q, want %q", keys(files), keys(wantFiles))
		}
	})
}

func TestPushAndPullBack(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		src, dst := startRegistry(t), startRegistry(t)
		img := buildImage(t, amd64, baseLayer, topLayer)
		src.push(t, "test/src", "v1", img)
		client := newClient(t, src.host, dst.host)
		e := newEnv(t, driver, client)
		pulled, err := e.svc.Pull(ctx, src.host+"/test/src:v1", PullOptions{})
		if err != nil {
			t.Fatal(err)
		}
		target := dst.host + "/team/app:1.0"
		if err := e.svc.Tag(ctx, pulled.ID.String(), target); err != nil {
			t.Fatal(err)
		}
		desc, err := e.svc.Push(ctx, target, PushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if desc.Digest != img.desc.Digest {
			t.Errorf("pushed manifest %s, want %s", desc.Digest, img.desc.Digest)
		}
		if n := dst.count("PUT", "/manifests/1.0"); n != 1 {
			t.Errorf("manifest PUTs %d", n)
		}
		after, _ := e.svc.Get(ctx, target)
		if !strings.Contains(strings.Join(after.RepoDigests, " "), dst.host+"/team/app@"+img.desc.Digest.String()) {
			t.Errorf("RepoDigests after push: %q", after.RepoDigests)
		}
		// Again, and to another repository of the same registry: nothing is
		// uploaded, mounts are asked for.
		uploads := dst.count("PUT", "/blobs/uploads/")
		var actions []string
		if _, err := e.svc.Push(ctx, target, PushOptions{Progress: func(p Progress) { actions = append(actions, p.Action) }}); err != nil {
			t.Fatal(err)
		}
		if n := dst.count("PUT", "/blobs/uploads/"); n != uploads {
			t.Errorf("second push uploaded %d blobs", n-uploads)
		}
		if strings.Count(strings.Join(actions, ","), "Layer already exists") != 3 {
			t.Errorf("second push progress: %q", actions)
		}
		other := dst.host + "/other/app:1.0"
		if err := e.svc.Tag(ctx, target, other); err != nil {
			t.Fatal(err)
		}
		// go-containerregistry's registry shares blobs between repositories;
		// make other/app look empty so that the client has to ask.
		dst.setWrap(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
			if r.Method == http.MethodHead && strings.HasPrefix(r.URL.Path, "/v2/other/") {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			next.ServeHTTP(w, r)
		})
		if _, err := e.svc.Push(ctx, other, PushOptions{}); err != nil {
			t.Fatal(err)
		}
		if n := dst.count("POST", "from=team%2Fapp&mount=sha256%3A"+img.ldescs[0].Digest.Encoded()); n == 0 {
			t.Errorf("push to another repository asked for no mount")
		}
		dst.setWrap(nil)
		if _, err := e.svc.Push(ctx, dst.host+"/nosuch:1", PushOptions{}); !errdefs.IsNotFound(err) {
			t.Errorf("push of an unknown name: %v", err)
		}

		// A fresh root pulls it back, with the same digests.
		e2 := newEnv(t, driver, client)
		back, err := e2.svc.Pull(ctx, target, PullOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if back.ID != pulled.ID || back.Manifest.Digest != pulled.Manifest.Digest || !reflect.DeepEqual(back.ChainIDs, pulled.ChainIDs) {
			t.Errorf("pulled back %s/%s, want %s/%s", back.ID, back.Manifest.Digest, pulled.ID, pulled.Manifest.Digest)
		}
		if files := e2.rootfs(t, target); !reflect.DeepEqual(files, wantFiles) {
			t.Errorf("rootfs has %q", keys(files))
		}
	})
}

func TestImportWithChanges(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		e := newEnv(t, driver, nil)
		blob, diffID := makeLayer(t, entry{"bin/", ""}, entry{"bin/app", "#!/bin/sh"}, entry{"etc/", ""}, entry{"etc/conf", "x=1"})
		img, err := e.svc.Import(ctx, bytes.NewReader(blob), ImportOptions{
			Ref:     "imported/app:v2",
			Message: "Imported from -",
			Changes: []string{`CMD ["/bin/app", "serve"]`, "ENV MODE=prod", "EXPOSE 8080", "WORKDIR /srv", "USER 1000", "LABEL team=core"},
		})
		if err != nil {
			t.Fatal(err)
		}
		c := img.Config.Config
		if !reflect.DeepEqual(c.Cmd, []string{"/bin/app", "serve"}) || !reflect.DeepEqual(c.Env, []string{"MODE=prod"}) || c.WorkingDir != "/srv" || c.User != "1000" || c.Labels["team"] != "core" {
			t.Errorf("config %+v", c)
		}
		if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
			t.Errorf("ExposedPorts %v", c.ExposedPorts)
		}
		if !reflect.DeepEqual(img.Config.RootFS.DiffIDs, []digest.Digest{diffID}) || !reflect.DeepEqual(img.ChainIDs, []digest.Digest{diffID}) {
			t.Errorf("diff ID %v, want %s", img.Config.RootFS.DiffIDs, diffID)
		}
		if !reflect.DeepEqual(img.RepoTags, []string{"imported/app:v2"}) || img.Config.History[0].Comment != "Imported from -" {
			t.Errorf("RepoTags %q history %+v", img.RepoTags, img.Config.History)
		}
		if files := e.rootfs(t, "imported/app:v2"); files["bin/app"] != "#!/bin/sh" || files["etc/conf"] != "x=1" {
			t.Errorf("rootfs %q", keys(files))
		}
		// The stored layer is a gzip blob of the same tar.
		rc, err := e.cs.Reader(ctx, img.Layers[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if head, _ := io.ReadAll(io.LimitReader(rc, 2)); !bytes.Equal(head, []byte{0x1f, 0x8b}) {
			t.Errorf("layer blob is not gzip: % x", head)
		}
		if _, err := e.svc.Import(ctx, bytes.NewReader(blob), ImportOptions{Changes: []string{"RUN rm -rf /"}}); !errdefs.IsInvalidArgument(err) {
			t.Errorf("import with RUN: %v", err)
		}
	})
}
