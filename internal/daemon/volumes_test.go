package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	volumetypes "github.com/moby/moby/api/types/volume"

	"github.com/berth-engine/berth/internal/daemon/events"
	"github.com/berth-engine/berth/internal/testutil"
	"github.com/berth-engine/berth/internal/volume"
)

// volumeDaemon is a Daemon with only what the volume verbs use: a real volume
// store in a temp dir and an event broker.
func volumeDaemon(t *testing.T) *Daemon {
	t.Helper()
	s, err := volume.Open(filepath.Join(t.TempDir(), "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &Daemon{volumes: s, events: events.NewBroker(), log: slog.New(slog.DiscardHandler)}
}

// volumeEvents returns the volume events published so far, as
// "action name" lines ("prune reclaimed=N" for a prune).
func volumeEvents(d *Daemon) []string {
	past, sub := d.events.Subscribe(time.Unix(0, 1), events.Filter{"type": {"volume"}})
	sub.Close()
	var out []string
	for _, m := range past {
		line := string(m.Action) + " " + m.Actor.ID
		if m.Actor.ID == "" {
			line += "reclaimed=" + m.Actor.Attributes["reclaimed"]
		} else if m.Actor.Attributes["driver"] != "local" {
			line += " driver=" + m.Actor.Attributes["driver"]
		}
		out = append(out, line)
	}
	return out
}

func TestVolumeCreateInspectListRemove(t *testing.T) {
	ctx := context.Background()
	d := volumeDaemon(t)
	before := time.Now().Add(-time.Second)

	v, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "data"})
	if err != nil {
		t.Fatal(err)
	}
	created, err := time.Parse(time.RFC3339, v.CreatedAt)
	if err != nil || created.Before(before.Truncate(time.Second)) || created.After(time.Now()) {
		t.Errorf("CreatedAt %q (%v), want RFC 3339 of now", v.CreatedAt, err)
	}
	// Created without labels or options, the volume shows none (null), as
	// Docker's does; a user's own labels and options come back as given.
	if v.Name != "data" || v.Driver != "local" || v.Scope != "local" || v.Labels != nil || v.Options != nil || v.Status != nil || v.UsageData != nil {
		t.Errorf("created %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() {
		t.Errorf("mountpoint %s: %v", v.Mountpoint, err)
	}
	web, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "web", Driver: "local", Labels: map[string]string{"app": "web"}, DriverOpts: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	if web.Labels["app"] != "web" || web.Options == nil || len(web.Options) != 0 {
		t.Errorf("created %+v", web)
	}
	// Creating an existing name returns it, without a second create event.
	again, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "data"})
	if err != nil || again.Mountpoint != v.Mountpoint || again.CreatedAt != v.CreatedAt {
		t.Errorf("create again: %+v, %v", again, err)
	}

	got, err := d.VolumeInspect(ctx, "web")
	if err != nil || got.Name != "web" || got.Labels["app"] != "web" || got.Mountpoint != web.Mountpoint {
		t.Errorf("inspect: %+v, %v", got, err)
	}
	list, warnings, err := d.Volumes(ctx, nil)
	if err != nil || warnings != nil || len(list) != 2 || list[0].Name != "data" || list[1].Name != "web" {
		t.Errorf("list: %+v %v %v", list, warnings, err)
	}
	list, _, err = d.Volumes(ctx, map[string][]string{"label": {"app=web"}})
	if err != nil || len(list) != 1 || list[0].Name != "web" {
		t.Errorf("list label=app=web: %+v %v", list, err)
	}
	if _, _, err := d.Volumes(ctx, map[string][]string{"colour": {"red"}}); !cerrdefs.IsInvalidArgument(err) || err.Error() != "invalid filter 'colour'" {
		t.Errorf("unknown filter: %v", err)
	}

	if err := d.VolumeRemove(ctx, "data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(v.Mountpoint); !os.IsNotExist(err) {
		t.Errorf("after rm the mountpoint remains: %v", err)
	}
	if _, err := d.VolumeInspect(ctx, "data"); !cerrdefs.IsNotFound(err) || err.Error() != "get data: no such volume" {
		t.Errorf("inspect removed: %v", err)
	}
	if err := d.VolumeRemove(ctx, "data", false); !cerrdefs.IsNotFound(err) || err.Error() != "get data: no such volume" {
		t.Errorf("rm missing: %v", err)
	}
	if err := d.VolumeRemove(ctx, "data", true); err != nil {
		t.Errorf("rm -f missing: %v", err)
	}
	if got, want := volumeEvents(d), []string{"create data", "create web", "destroy data"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestVolumeCreateRefusals(t *testing.T) {
	ctx := context.Background()
	d := volumeDaemon(t)
	for _, c := range []struct {
		req   volumetypes.CreateRequest
		class func(error) bool
		msg   string
	}{
		{volumetypes.CreateRequest{Name: "a/b"}, cerrdefs.IsInvalidArgument,
			`create a/b: "a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`},
		{volumetypes.CreateRequest{Name: "v4", Driver: "nope"}, cerrdefs.IsNotFound,
			`create v4: error looking up volume plugin nope: plugin "nope" not found`},
		{volumetypes.CreateRequest{Name: "v3", DriverOpts: map[string]string{"foo": "bar"}}, cerrdefs.IsInvalidArgument,
			`create v3: invalid option: "foo"`},
	} {
		_, err := d.VolumeCreate(ctx, c.req)
		if err == nil || !c.class(err) || err.Error() != c.msg {
			t.Errorf("create %+v: %v, want %q", c.req, err, c.msg)
		}
	}
	if ev := volumeEvents(d); len(ev) != 0 {
		t.Errorf("refused creates published %q", ev)
	}
}

func TestVolumeInUseIsNotRemoved(t *testing.T) {
	ctx := context.Background()
	d := volumeDaemon(t)
	if _, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "shared"}); err != nil {
		t.Fatal(err)
	}
	// Two containers use it, as parseMounts records them.
	for _, id := range []string{"bbbb", "aaaa"} {
		if err := d.volumes.Acquire(ctx, "shared", id); err != nil {
			t.Fatal(err)
		}
	}
	for _, force := range []bool{false, true} {
		err := d.VolumeRemove(ctx, "shared", force)
		if !cerrdefs.IsConflict(err) || err.Error() != "remove shared: volume is in use - [aaaa, bbbb]" {
			t.Errorf("rm (force=%v) of a used volume: %v", force, err)
		}
	}
	if list, _, _ := d.Volumes(ctx, map[string][]string{"dangling": {"true"}}); len(list) != 0 {
		t.Errorf("dangling lists a used volume: %+v", list)
	}
	rep, err := d.VolumesPrune(ctx, map[string][]string{"all": {"true"}})
	if err != nil || len(rep.VolumesDeleted) != 0 {
		t.Errorf("prune all removed a used volume: %+v %v", rep, err)
	}
	for _, id := range []string{"aaaa", "bbbb"} {
		d.volumes.Release(ctx, "shared", id)
	}
	if err := d.VolumeRemove(ctx, "shared", false); err != nil {
		t.Errorf("rm once released: %v", err)
	}
	if got, want := volumeEvents(d), []string{"create shared", "prune reclaimed=0", "destroy shared"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestVolumesPrune(t *testing.T) {
	ctx := context.Background()
	d := volumeDaemon(t)
	mk := func(req volumetypes.CreateRequest, content string) string {
		t.Helper()
		v, err := d.VolumeCreate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if content != "" {
			if err := os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return v.Name
	}
	anon := mk(volumetypes.CreateRequest{}, "12345")
	used := mk(volumetypes.CreateRequest{}, "")
	if err := d.volumes.Acquire(ctx, used, "c1"); err != nil {
		t.Fatal(err)
	}
	mk(volumetypes.CreateRequest{Name: "named", Labels: map[string]string{"keep": "no"}}, "123")
	mk(volumetypes.CreateRequest{Name: "kept", Labels: map[string]string{"keep": "yes"}}, "")
	mk(volumetypes.CreateRequest{Name: "tmp", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}}, "")
	baseline := len(volumeEvents(d))

	// Docker 23 on: only the unused anonymous volumes.
	rep, err := d.VolumesPrune(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.VolumesDeleted, []string{anon}) || rep.SpaceReclaimed != 5 {
		t.Errorf("prune: %+v", rep)
	}
	// all=true: named ones too, narrowed by labels; never a volume with
	// mount options, nor a used one.
	rep, err = d.VolumesPrune(ctx, map[string][]string{"all": {"true"}, "label!": {"keep=yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.VolumesDeleted, []string{"named"}) || rep.SpaceReclaimed != 3 {
		t.Errorf("prune all label!=keep=yes: %+v", rep)
	}
	if _, err := d.VolumesPrune(ctx, map[string][]string{"dangling": {"true"}}); !cerrdefs.IsInvalidArgument(err) || err.Error() != "invalid filter 'dangling'" {
		t.Errorf("prune with a list-only filter: %v", err)
	}
	left, _, _ := d.Volumes(ctx, nil)
	var names []string
	for _, v := range left {
		names = append(names, v.Name)
	}
	if want := []string{used, "kept", "tmp"}; !slices.Equal(names, slices.Sorted(slices.Values(want))) {
		t.Errorf("left %q, want %q", names, want)
	}
	got := volumeEvents(d)[baseline:]
	if want := []string{"destroy " + anon, "prune reclaimed=5", "destroy named", "prune reclaimed=3"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestSystemDiskUsageVolumes(t *testing.T) {
	ctx := context.Background()
	d := volumeDaemon(t)
	for _, req := range []volumetypes.CreateRequest{
		{Name: "big"}, {Name: "empty"}, {Name: "tmp", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}},
	} {
		if _, err := d.VolumeCreate(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	big, _ := d.VolumeInspect(ctx, "big")
	if err := os.WriteFile(filepath.Join(big.Mountpoint, "f"), []byte(strings.Repeat("x", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(big.Mountpoint, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(big.Mountpoint, "d", "g"), []byte("yy"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c1", "c2"} {
		if err := d.volumes.Acquire(ctx, "big", id); err != nil {
			t.Fatal(err)
		}
	}
	du, err := d.volumesDiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The tmpfs volume's content is not on this host: left out, as Docker does.
	var got []string
	for _, v := range du {
		if v.UsageData == nil {
			t.Fatalf("%s has no UsageData", v.Name)
		}
		if v.Mountpoint == "" || v.Driver != "local" {
			t.Errorf("%+v", v)
		}
		got = append(got, fmt.Sprintf("%s %d %d", v.Name, v.UsageData.Size, v.UsageData.RefCount))
	}
	// Apparent sizes of the files: directories count nothing, as Docker's.
	if want := []string{"big 1002 2", "empty 0 0"}; !slices.Equal(got, want) {
		t.Errorf("disk usage %q, want %q", got, want)
	}
}

// TestVolumeOwnershipOptions: berth's uid, gid and mode options (moby#21259)
// give the new volume's root its owner and mode, and show as its Options.
func TestVolumeOwnershipOptions(t *testing.T) {
	testutil.RequireRoot(t, "chown of the volume's root")
	ctx := context.Background()
	d := volumeDaemon(t)
	v, err := d.VolumeCreate(ctx, volumetypes.CreateRequest{Name: "owned", DriverOpts: map[string]string{"uid": "1000", "gid": "1001", "mode": "0750"}})
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(v.Mountpoint, &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 1000 || st.Gid != 1001 || st.Mode&0o7777 != 0o750 {
		t.Errorf("root of the volume: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	got, _ := d.VolumeInspect(ctx, "owned")
	if len(got.Options) != 3 || got.Options["uid"] != "1000" || got.Options["mode"] != "0750" {
		t.Errorf("options %v", got.Options)
	}
}
