package daemon

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/image"
	"github.com/berth-engine/berth/internal/mount/mounttest"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/testutil"
)

// The file system operations on real containers, as root: a daemon with
// berth-runtime and an image "bbox" made from a busybox root file system,
// which also holds /leak, a link that climbs out with "..": inside the
// container it is /etc.

type fsEnv struct {
	t      *testing.T
	d      *Daemon
	rootfs string // the image's tree, as imported
}

func newFSEnv(t *testing.T, driver string) *fsEnv {
	t.Helper()
	testutil.RequireRoot(t, "containers mount their file systems and run")
	ctx := context.Background()
	cfg := testConfig(t)
	cfg.StorageDriver = driver
	mounttest.NoLeaks(t, cfg.ExecRoot)
	mounttest.NoLeaks(t, cfg.DataRoot)
	d := newDaemon(t, cfg)
	bin := testutil.Binary(t, "berth-runtime")
	d.run.bin, d.run.rt.Self = bin, bin
	e := &fsEnv{t: t, d: d, rootfs: filepath.Join(t.TempDir(), "rootfs")}
	testutil.BusyboxRootfs(t, e.rootfs)
	if err := os.Symlink("../../../../../../etc", filepath.Join(e.rootfs, "leak")); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Tar(ctx, e.rootfs, pw)) }()
	if _, err := d.images.Import(ctx, pr, image.ImportOptions{Ref: "bbox", Changes: []string{`CMD ["sh"]`}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, c := range d.containers.List() {
			if err := d.ContainerRemove(context.Background(), c.ID, RemoveOptions{Force: true}); err != nil {
				t.Errorf("remove container %s: %v", c.ID, err)
			}
		}
	})
	return e
}

// create makes a container of bbox (unless cfg names another image).
func (e *fsEnv) create(cfg *container.Config, hc *container.HostConfig) (id, name string) {
	e.t.Helper()
	if cfg.Image == "" {
		cfg.Image = "bbox"
	}
	if hc == nil {
		hc = &container.HostConfig{}
	}
	hc.NetworkMode = "none"
	name = testutil.UniqueID("berth-test-fs-")
	resp, err := e.d.ContainerCreate(context.Background(), ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.ID, name
}

func (e *fsEnv) start(id string) {
	e.t.Helper()
	if err := e.d.ContainerStart(context.Background(), id, ""); err != nil {
		e.t.Fatal(err)
	}
}

// run starts the container and waits for it to exit 0.
func (e *fsEnv) run(id string) {
	e.t.Helper()
	e.start(id)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := e.d.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	if err != nil {
		e.t.Fatal(err)
	}
	res, ok := <-ch
	if !ok || res.StatusCode != 0 {
		e.t.Fatalf("container %s: exit %+v (%v)", id, res, ok)
	}
}

// get copies path out of the container: the tar's entries by name, their
// contents, and their headers.
func (e *fsEnv) get(name, path string) (map[string]string, map[string]*tar.Header, *container.PathStat, error) {
	e.t.Helper()
	rc, st, err := e.d.ContainerArchivePath(context.Background(), name, path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rc.Close()
	files, hdrs := readTar(e.t, rc)
	return files, hdrs, st, nil
}

func readTar(t *testing.T, r io.Reader) (map[string]string, map[string]*tar.Header) {
	t.Helper()
	files, hdrs := map[string]string{}, map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, hdrs
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name], hdrs[h.Name] = string(b), h
	}
}

// tarOf makes a tar of files (name -> content; a name ending in "/" is a
// directory) owned by uid 4321.
func tarOf(files ...string) io.Reader {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i+1 < len(files); i += 2 {
		h := &tar.Header{Name: files[i], Typeflag: tar.TypeReg, Mode: 0o640, Size: int64(len(files[i+1])), Uid: 4321, Gid: 4321, ModTime: time.Unix(1600000000, 0)}
		if strings.HasSuffix(files[i], "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o750, 0
		}
		tw.WriteHeader(h)
		io.WriteString(tw, files[i+1])
	}
	tw.Close()
	return &buf
}

func wantErr(t *testing.T, what string, err error, class func(error) bool, msg string) {
	t.Helper()
	if err == nil || !class(err) || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s: got %v, want %q", what, err, msg)
	}
}

// eventually polls check until it returns "" or 10 s pass.
func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestContainerCopy(t *testing.T) {
	for _, mode := range []string{"stopped", "running"} {
		t.Run(mode, func(t *testing.T) {
			e := newFSEnv(t, "overlay2")
			data, ro := t.TempDir(), t.TempDir()
			os.WriteFile(filepath.Join(data, "hello"), []byte("from the host"), 0o644)
			os.WriteFile(filepath.Join(ro, "kept"), []byte("ro"), 0o644)
			cmd := []string{"true"}
			if mode == "running" {
				// Shows that a copy in reaches the running container, and the
				// reverse: it copies /tmp/put, once there, to /tmp/seen.
				cmd = []string{"sh", "-c", "echo from-inside > /tmp/inside; while [ ! -f /tmp/put ]; do sleep 0.02; done; cp /tmp/put /tmp/seen; exec sleep 1000"}
			}
			id, name := e.create(&container.Config{Cmd: cmd}, &container.HostConfig{Binds: []string{data + ":/data", ro + ":/ro:ro"}})
			if mode == "running" {
				e.start(id)
			} else {
				e.run(id)
			}
			ctx := context.Background()
			passwd, _ := os.ReadFile(filepath.Join(e.rootfs, "etc/passwd"))
			fi, _ := os.Stat(filepath.Join(e.rootfs, "etc/passwd"))

			st, err := e.d.ContainerStatPath(ctx, name, "/etc/passwd")
			if err != nil {
				t.Fatal(err)
			}
			if st.Name != "passwd" || st.Size != int64(len(passwd)) || st.Mode != 0o644 || st.Mtime.Unix() != fi.ModTime().Unix() || st.LinkTarget != "" {
				t.Errorf("stat /etc/passwd: %+v", st)
			}
			if st, err := e.d.ContainerStatPath(ctx, name, "/leak"); err != nil || st.Mode&os.ModeSymlink == 0 || st.LinkTarget != "/etc" || st.Name != "leak" {
				t.Errorf("stat /leak: %+v, %v", st, err)
			}
			if st, err := e.d.ContainerStatPath(ctx, id, "/data/"); err != nil || !st.Mode.IsDir() || st.Name != "data" {
				t.Errorf("stat /data/: %+v, %v", st, err)
			}
			_, err = e.d.ContainerStatPath(ctx, name, "/missing")
			wantErr(t, "stat /missing", err, cerrdefs.IsNotFound, "Could not find the file /missing in container "+name)

			// Out: a file, a link followed on the way, a directory with the
			// managed files and the volume in it.
			files, hdrs, st, err := e.get(name, "/etc/passwd")
			if err != nil || len(files) != 1 || files["passwd"] != string(passwd) || st.Name != "passwd" {
				t.Fatalf("get /etc/passwd: %q, %v", files, err)
			}
			if h := hdrs["passwd"]; h.Mode != 0o644 || h.ModTime.Unix() != fi.ModTime().Unix() {
				t.Errorf("header %+v", h)
			}
			if files, _, _, err := e.get(name, "/leak/passwd"); err != nil || files["passwd"] != string(passwd) {
				t.Errorf("get /leak/passwd (the container's, not the host's): %q, %v", files, err)
			}
			files, hdrs, _, err = e.get(name, "/etc")
			if err != nil {
				t.Fatal(err)
			}
			hosts, _ := os.ReadFile(e.d.containers.Dir(id) + "/hosts")
			if files["etc/passwd"] != string(passwd) || files["etc/hosts"] != string(hosts) || !strings.Contains(string(hosts), "localhost") || hdrs["etc/"] == nil {
				t.Errorf("get /etc: %q", slices.Sorted(mapKeysOf(files)))
			}
			if files, _, _, err := e.get(id, "/data"); err != nil || files["data/hello"] != "from the host" {
				t.Errorf("get /data: %q, %v", files, err)
			}
			_, _, _, err = e.get(name, "/missing/file")
			wantErr(t, "get /missing/file", err, cerrdefs.IsNotFound, "Could not find the file /missing/file in container "+name)

			// In: owned by root unless asked, through a link to a directory,
			// into the volume.
			if err := e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/tmp"}, tarOf("put", "copied in", "sub/", "", "sub/f", "x")); err != nil {
				t.Fatal(err)
			}
			files, hdrs, _, err = e.get(name, "/tmp/put")
			if err != nil || files["put"] != "copied in" || hdrs["put"].Uid != 0 || hdrs["put"].Gid != 0 || hdrs["put"].Mode != 0o640 {
				t.Errorf("copied file: %q %+v %v", files, hdrs["put"], err)
			}
			if err := e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/tmp", CopyUIDGID: true}, tarOf("owned", "x")); err != nil {
				t.Fatal(err)
			}
			if _, hdrs, _, err := e.get(name, "/tmp/owned"); err != nil || hdrs["owned"].Uid != 4321 || hdrs["owned"].Gid != 4321 {
				t.Errorf("copyUIDGID: %+v %v", hdrs["owned"], err)
			}
			if err := e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/leak"}, tarOf("via-link", "y")); err != nil {
				t.Fatal(err)
			}
			if files, _, _, err := e.get(name, "/etc/via-link"); err != nil || files["via-link"] != "y" {
				t.Errorf("copied through /leak: %q %v", files, err)
			}
			if _, err := os.Stat("/etc/via-link"); err == nil {
				os.Remove("/etc/via-link")
				t.Errorf("the copy through /leak reached the host's /etc")
			}
			if err := e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/data/"}, tarOf("in-volume", "z")); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(data, "in-volume")); err != nil || string(b) != "z" {
				t.Errorf("volume file: %q %v", b, err)
			}

			// Refusals, in Docker's words, leaving nothing behind.
			err = e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/ro"}, tarOf("no", "x"))
			wantErr(t, "copy into a read-only bind", err, cerrdefs.IsInvalidArgument, "mounted volume is marked read-only")
			err = e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/etc/passwd"}, tarOf("no", "x"))
			wantErr(t, "copy into a file", err, cerrdefs.IsInvalidArgument, "extraction point is not a directory")
			err = e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/nowhere"}, tarOf("no", "x"))
			wantErr(t, "copy into a missing directory", err, cerrdefs.IsNotFound, "Could not find the file /nowhere in container "+name)
			err = e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/", NoOverwriteDirNonDir: true}, tarOf("etc", "not a dir"))
			wantErr(t, "a file over a directory", err, cerrdefs.IsInvalidArgument, `cannot overwrite directory "/etc" with non-directory "/"`)
			err = e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/tmp"}, tarOf("../../escape", "x"))
			wantErr(t, "an entry climbing out", err, cerrdefs.IsInvalidArgument, "is outside of")
			if entries, _ := os.ReadDir(ro); len(entries) != 1 {
				t.Errorf("read-only bind changed: %v", entries)
			}
			if st, err := e.d.ContainerStatPath(ctx, name, "/etc"); err != nil || !st.Mode.IsDir() {
				t.Errorf("/etc after the refused overwrite: %+v %v", st, err)
			}

			if mode == "running" {
				eventually(t, func() string {
					files, _, _, err := e.get(name, "/tmp/inside")
					if err != nil || files["inside"] != "from-inside\n" {
						return "the container's own file: " + files["inside"]
					}
					return ""
				})
				eventually(t, func() string {
					files, _, _, err := e.get(name, "/tmp/seen")
					if err != nil || files["seen"] != "copied in" {
						return "the container did not see the copied file"
					}
					return ""
				})
				if st := e.d.containers.List(); len(st) != 1 || !st[0].Snapshot().State.Running() {
					t.Errorf("the container stopped")
				}
			}
		})
	}
}

func TestContainerCopyReadOnlyRoot(t *testing.T) {
	e := newFSEnv(t, "overlay2")
	data := t.TempDir()
	id, name := e.create(&container.Config{Cmd: []string{"true"}}, &container.HostConfig{ReadonlyRootfs: true, Binds: []string{data + ":/data"}})
	ctx := context.Background()
	err := e.d.ContainerExtractToDir(ctx, id, ArchivePutOptions{Path: "/tmp"}, tarOf("no", "x"))
	wantErr(t, "copy into a read-only root", err, cerrdefs.IsInvalidArgument, "container rootfs is marked read-only")
	// A tar that climbs from the volume into the root through a link is
	// stopped by the read-only view.
	err = e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/data"}, tarOf("ok", "fine"))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(data, "ok")); string(b) != "fine" {
		t.Errorf("volume file %q", b)
	}
	os.Symlink("/tmp", filepath.Join(data, "toroot"))
	err = e.d.ContainerExtractToDir(ctx, name, ArchivePutOptions{Path: "/data"}, tarOf("toroot/sneaky", "x"))
	if err == nil {
		t.Errorf("wrote into the read-only root through a link")
	}
	if _, err := e.d.ContainerStatPath(ctx, name, "/tmp/sneaky"); !cerrdefs.IsNotFound(err) {
		t.Errorf("/tmp/sneaky: %v", err)
	}
}

func TestContainerChanges(t *testing.T) {
	for _, driver := range []string{"overlay2", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			e := newFSEnv(t, driver)
			ctx := context.Background()
			id, name := e.create(&container.Config{Cmd: []string{"sh", "-c",
				"touch /new; rm /etc/group; mkdir -p /a/b; echo x > /a/b/c; echo more >> /etc/passwd; rm -r /home; mkdir /home"}}, nil)
			e.run(id)
			// A view of the image a killed berthd left behind goes at the next diff.
			img, err := e.d.images.Get(ctx, "bbox")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.d.snaps.View(ctx, viewKeyPrefix+"0123456789ab-left", img.ChainIDs[len(img.ChainIDs)-1].String()); err != nil {
				t.Fatal(err)
			}
			got, err := e.d.ContainerChanges(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.d.snaps.Stat(ctx, viewKeyPrefix+"0123456789ab-left"); !cerrdefs.IsNotFound(err) {
				t.Errorf("stale view: %v", err)
			}
			e.d.snaps.Walk(ctx, func(_ context.Context, i snapshot.Info) error {
				if i.Kind == snapshot.KindView {
					t.Errorf("view %s left", i.Name)
				}
				return nil
			})
			want := []string{"A /a", "A /a/b", "A /a/b/c", "C /etc", "D /etc/group", "C /etc/passwd", "C /home", "D /home/app", "A /new"}
			if s := changeStrings(got); !slices.Equal(s, want) {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
			}

			// Export: the image's files with the container's changes.
			var buf bytes.Buffer
			if err := e.d.ContainerExport(ctx, name, &buf); err != nil {
				t.Fatal(err)
			}
			files, _ := readTar(t, &buf)
			for _, p := range []string{"bin/busybox", "bin/sh", "etc/passwd", "new", "a/b/c", "leak", "tmp/"} {
				if _, ok := files[p]; !ok {
					t.Errorf("export lacks %s", p)
				}
			}
			if _, ok := files["etc/group"]; ok {
				t.Errorf("export has the deleted etc/group")
			}
			if !strings.HasSuffix(files["etc/passwd"], "more\n") || files["a/b/c"] != "x\n" {
				t.Errorf("export: passwd %q, a/b/c %q", files["etc/passwd"], files["a/b/c"])
			}

			// A running container's changes, as they happen.
			id2, _ := e.create(&container.Config{Cmd: []string{"sh", "-c", "touch /live; exec sleep 1000"}}, nil)
			e.start(id2)
			eventually(t, func() string {
				got, err := e.d.ContainerChanges(ctx, id2)
				if s := changeStrings(got); err != nil || !slices.Equal(s, []string{"A /live"}) {
					return "running container's changes: " + strings.Join(s, ", ")
				}
				return ""
			})
			if _, err := e.d.ContainerChanges(ctx, "nosuch"); !cerrdefs.IsNotFound(err) {
				t.Errorf("unknown container: %v", err)
			}
		})
	}
}

func TestContainerCommit(t *testing.T) {
	for _, driver := range []string{"overlay2", "vfs"} {
		t.Run(driver, func(t *testing.T) {
			e := newFSEnv(t, driver)
			ctx := context.Background()
			since := time.Now()
			id, name := e.create(&container.Config{Cmd: []string{"sh", "-c", "echo committed > /file; rm /etc/group"}}, nil)
			e.run(id)
			imgID, err := e.d.ContainerCommit(ctx, CommitOptions{
				Container: name, Repo: "berth-test-fs-commit", Tag: "v1", Comment: "a message", Author: "Tess <t@example.com>",
				Changes: []string{`CMD ["cat", "/file"]`}, Pause: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			img, err := e.d.images.Get(ctx, "berth-test-fs-commit:v1")
			if err != nil || img.ID.String() != imgID || !strings.HasPrefix(imgID, "sha256:") {
				t.Fatalf("image %s: %+v %v", imgID, img.ID, err)
			}
			if c := img.Config; !slices.Equal(c.Config.Cmd, []string{"cat", "/file"}) || c.Author != "Tess <t@example.com>" {
				t.Errorf("config %+v", c)
			}
			hist, err := e.d.ImageHistory(ctx, imgID)
			if err != nil || hist[0].Comment != "a message" || hist[0].CreatedBy != "sh -c echo committed > /file; rm /etc/group" || hist[0].Size != int64(len("committed\n")) {
				t.Errorf("history %+v %v", hist, err)
			}
			// The layer holds the change and the deletion, not the runtime's mount points.
			rc, err := e.d.images.Content().Reader(ctx, img.Layers[len(img.Layers)-1].Digest)
			if err != nil {
				t.Fatal(err)
			}
			files, _ := readTar(t, rc)
			rc.Close()
			if names := slices.Sorted(mapKeysOf(files)); !slices.Equal(names, []string{"etc/", "etc/.wh.group", "file"}) {
				t.Errorf("committed layer holds %q", names)
			}
			past, sub := e.d.Events().Subscribe(since, nil)
			sub.Close()
			var seen []string
			for _, m := range past {
				if m.Action == eventtypes.ActionCommit && m.Actor.Attributes["imageID"] == imgID && m.Actor.Attributes["imageRef"] == "berth-test-fs-commit:v1" && m.Actor.Attributes["comment"] == "a message" {
					seen = append(seen, "commit")
				}
				if m.Type == eventtypes.ImageEventType && m.Action == "tag" {
					seen = append(seen, "tag")
				}
			}
			if !slices.Contains(seen, "commit") || !slices.Contains(seen, "tag") {
				t.Errorf("events: %+v", past)
			}

			// The image runs: its command prints the committed file.
			id2, name2 := e.create(&container.Config{Image: "berth-test-fs-commit:v1", Tty: true}, nil)
			e.run(id2)
			var out bytes.Buffer
			err = e.d.ContainerLogs(ctx, id2, LogsOptions{Stdout: true, Stderr: true, Tail: -1}, func(bool) io.Writer { return &out })
			if err != nil || !strings.Contains(out.String(), "committed") {
				t.Errorf("logs of the committed image's container: %q %v", out.String(), err)
			}
			_, err = e.d.ContainerStatPath(ctx, name2, "/etc/group")
			wantErr(t, "the deleted file in the new image", err, cerrdefs.IsNotFound, "Could not find the file")
			// diff on the two layers: /etc/group, deleted by the upper one, is new again.
			id4, _ := e.create(&container.Config{Image: "berth-test-fs-commit:v1", Cmd: []string{"sh", "-c", "echo g > /etc/group; rm /file"}}, nil)
			e.run(id4)
			got, err := e.d.ContainerChanges(ctx, id4)
			if s := changeStrings(got); err != nil || !slices.Equal(s, []string{"C /etc", "A /etc/group", "D /file"}) {
				t.Errorf("changes on the committed image: %q %v", s, err)
			}

			// A running container is paused meanwhile, and runs on after.
			id3, _ := e.create(&container.Config{Cmd: []string{"sh", "-c", "echo x > /running; exec sleep 1000"}}, nil)
			e.start(id3)
			eventually(t, func() string {
				if _, err := e.d.ContainerStatPath(ctx, id3, "/running"); err != nil {
					return err.Error()
				}
				return ""
			})
			since = time.Now()
			if _, err := e.d.ContainerCommit(ctx, CommitOptions{Container: id3, Pause: true}); err != nil {
				t.Fatal(err)
			}
			c3, _ := e.d.containers.Get(id3)
			if st := c3.Snapshot().State.Status; st != "running" {
				t.Errorf("status after commit %q", st)
			}
			past, sub = e.d.Events().Subscribe(since, nil)
			sub.Close()
			var actions []string
			for _, m := range past {
				if m.Actor.ID == id3 {
					actions = append(actions, string(m.Action))
				}
			}
			if !slices.Equal(actions, []string{"pause", "commit", "unpause"}) {
				t.Errorf("events of the paused commit: %q", actions)
			}

			_, err = e.d.ContainerCommit(ctx, CommitOptions{Container: id, Repo: "bad repo"})
			if !cerrdefs.IsInvalidArgument(err) {
				t.Errorf("invalid repo: %v", err)
			}
			_, err = e.d.ContainerCommit(ctx, CommitOptions{Container: id, Changes: []string{"RUN true"}})
			if !cerrdefs.IsInvalidArgument(err) {
				t.Errorf("RUN in changes: %v", err)
			}
		})
	}
}

func mapKeysOf[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
