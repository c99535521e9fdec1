package api

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/volume"
)

// fakeVolumes is a VolumeBackend that records each call as a line and answers
// from canned data. Names mean something to it:
//
//	nosuch   NotFound "get nosuch: no such volume" (remove with force: no error)
//	busy     remove answers Conflict with Docker's in-use message
//
// Its list has one volume created without labels or options (null in JSON,
// as Docker shows them) and one with both.
type fakeVolumes struct {
	callLog
	mu     sync.Mutex
	create volume.CreateRequest // the last create's request
}

// formatFilters writes filters as "k=v1,v2 k2=v" with sorted keys.
func formatFilters(f map[string][]string) string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range f {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, k+"="+strings.Join(f[k], ","))
	}
	return strings.Join(parts, " ")
}

var fakeVolumeList = []volume.Volume{
	{Name: "plain", Driver: "local", Mountpoint: "/v/plain/_data", CreatedAt: "2025-01-02T03:04:05Z", Scope: "local"},
	{Name: "web", Driver: "local", Mountpoint: "/v/web/_data", CreatedAt: "2025-01-02T03:04:05Z", Scope: "local",
		Labels: map[string]string{"app": "web"}, Options: map[string]string{"uid": "1000"}},
}

func (f *fakeVolumes) Volumes(ctx context.Context, filters map[string][]string) ([]volume.Volume, []string, error) {
	f.call("list %s", formatFilters(filters))
	if filters["name"] != nil {
		return nil, nil, nil // nothing matches: the route must still send a list
	}
	return fakeVolumeList, nil, nil
}

func (f *fakeVolumes) VolumeCreate(ctx context.Context, req volume.CreateRequest) (*volume.Volume, error) {
	f.call("create name=%s driver=%s", req.Name, req.Driver)
	f.mu.Lock()
	f.create = req
	f.mu.Unlock()
	if req.Name == "bad/name" {
		return nil, cerrdefs.ErrInvalidArgument.WithMessage(`create bad/name: "bad/name" includes invalid characters for a local volume name`)
	}
	return &volume.Volume{Name: req.Name, Driver: "local", Mountpoint: "/v/" + req.Name + "/_data", CreatedAt: "2025-01-02T03:04:05Z",
		Labels: req.Labels, Options: req.DriverOpts, Scope: "local"}, nil
}

func (f *fakeVolumes) VolumeInspect(ctx context.Context, name string) (*volume.Volume, error) {
	f.call("inspect %s", name)
	for _, v := range fakeVolumeList {
		if v.Name == name {
			return &v, nil
		}
	}
	return nil, fmt.Errorf("get %s: %w", name, cerrdefs.ErrNotFound.WithMessage("no such volume"))
}

func (f *fakeVolumes) VolumeRemove(ctx context.Context, name string, force bool) error {
	f.call("remove %s force=%v", name, force)
	switch name {
	case "nosuch":
		if force {
			return nil
		}
		return fmt.Errorf("get %s: %w", name, cerrdefs.ErrNotFound.WithMessage("no such volume"))
	case "busy":
		return fmt.Errorf("remove %s: %w - [c0ffee]", name, cerrdefs.ErrConflict.WithMessage("volume is in use"))
	}
	return nil
}

func (f *fakeVolumes) VolumesPrune(ctx context.Context, filters map[string][]string) (*volume.PruneReport, error) {
	f.call("prune %s", formatFilters(filters))
	if filters["label"] != nil {
		return &volume.PruneReport{}, nil // nothing pruned: VolumesDeleted must still be a list
	}
	return &volume.PruneReport{VolumesDeleted: []string{"a1", "b2"}, SpaceReclaimed: 42}, nil
}

func newVolumeServer(t *testing.T) (*Server, *fakeVolumes) {
	t.Helper()
	f := &fakeVolumes{}
	return New(Options{Volumes: f, Version: "1.2.3"}), f
}

// TestVolumeRoutes drives each route and checks what the backend was asked
// for, the status and the exact body Docker would send.
func TestVolumeRoutes(t *testing.T) {
	s, f := newVolumeServer(t)
	q := url.QueryEscape
	checkRoutes(t, s, &f.callLog, []routeCase{
		{"GET", "/v1.50/volumes", "", 200, "list ",
			`{"Volumes":[{"CreatedAt":"2025-01-02T03:04:05Z","Driver":"local","Labels":null,"Mountpoint":"/v/plain/_data","Name":"plain","Options":null,"Scope":"local"},` +
				`{"CreatedAt":"2025-01-02T03:04:05Z","Driver":"local","Labels":{"app":"web"},"Mountpoint":"/v/web/_data","Name":"web","Options":{"uid":"1000"},"Scope":"local"}],"Warnings":null}`},
		// Both of Docker's filter encodings; the values reach the backend sorted.
		{"GET", "/v1.50/volumes?filters=" + q(`{"label":{"b":true,"a=1":true},"label!":{"x":true},"driver":["local"],"dangling":["true"]}`), "", 200,
			"list dangling=true driver=local label=a=1,b label!=x", ""},
		{"GET", "/v1.50/volumes?filters=" + q(`{"name":["nothing"]}`), "", 200, "list name=nothing", `{"Volumes":[],"Warnings":null}`},
		{"GET", "/v1.50/volumes?filters=notjson", "", 400, "", ""},

		{"POST", "/v1.50/volumes/create", `{"Name":"data","Driver":"local","DriverOpts":{"uid":"1000"},"Labels":{"k":"v"}}`, 201, "create name=data driver=local",
			`{"CreatedAt":"2025-01-02T03:04:05Z","Driver":"local","Labels":{"k":"v"},"Mountpoint":"/v/data/_data","Name":"data","Options":{"uid":"1000"},"Scope":"local"}`},
		// An empty body creates an anonymous volume (the backend names it).
		{"POST", "/v1.50/volumes/create", "", 201, "create name= driver=", ""},
		{"POST", "/v1.50/volumes/create", `{"Name":"bad/name"}`, 400, "create name=bad/name driver=",
			`{"message":"create bad/name: \"bad/name\" includes invalid characters for a local volume name"}`},
		{"POST", "/v1.50/volumes/create", `{"Name":`, 400, "", ""},
		// A cluster volume is swarm's: 503 from API 1.42 on; older clients
		// had no such field, and get a local volume.
		{"POST", "/v1.50/volumes/create", `{"Name":"c","ClusterVolumeSpec":{}}`, 503, "",
			`{"message":"This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again."}`},
		{"POST", "/v1.41/volumes/create", `{"Name":"c","ClusterVolumeSpec":{}}`, 201, "create name=c driver=", ""},

		{"GET", "/v1.50/volumes/web", "", 200, "inspect web",
			`{"CreatedAt":"2025-01-02T03:04:05Z","Driver":"local","Labels":{"app":"web"},"Mountpoint":"/v/web/_data","Name":"web","Options":{"uid":"1000"},"Scope":"local"}`},
		{"GET", "/v1.50/volumes/nosuch", "", 404, "inspect nosuch", `{"message":"get nosuch: no such volume"}`},
		// The name is the rest of the path, as Docker's router takes it.
		{"GET", "/v1.50/volumes/a/b", "", 404, "inspect a/b", `{"message":"get a/b: no such volume"}`},
		{"GET", "/v1.50/volumes/create", "", 404, "inspect create", `{"message":"get create: no such volume"}`},

		{"DELETE", "/v1.50/volumes/web", "", 204, "remove web force=false", ""},
		{"DELETE", "/v1.50/volumes/nosuch", "", 404, "remove nosuch force=false", `{"message":"get nosuch: no such volume"}`},
		{"DELETE", "/v1.50/volumes/nosuch?force=1", "", 204, "remove nosuch force=true", ""},
		{"DELETE", "/v1.50/volumes/busy?force=true", "", 409, "remove busy force=true", `{"message":"remove busy: volume is in use - [c0ffee]"}`},

		{"POST", "/v1.50/volumes/prune", "", 200, "prune ", `{"VolumesDeleted":["a1","b2"],"SpaceReclaimed":42}`},
		{"POST", "/v1.50/volumes/prune?filters=" + q(`{"label":["x"],"all":["true"]}`), "", 200, "prune all=true label=x",
			`{"VolumesDeleted":[],"SpaceReclaimed":0}`},
		// Before 1.42 a prune took named volumes too.
		{"POST", "/v1.41/volumes/prune", "", 200, "prune all=true", ""},

		{"PUT", "/v1.50/volumes/web?version=1", `{}`, 503, "",
			`{"message":"volume update only valid for cluster volumes, but swarm is unavailable"}`},
		{"PATCH", "/v1.50/volumes/web", "", 404, "", `{"message":"page not found"}`},
	})
}

func TestVolumeCreateDecodesTheRequest(t *testing.T) {
	s, f := newVolumeServer(t)
	rec := send(t, s, "POST", "/volumes/create",
		`{"Name":"data","Driver":"local","DriverOpts":{"type":"tmpfs","device":"tmpfs","o":"size=1m"},"Labels":{"a":"1","b":""}}`, jsonHeader)
	if rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	r := f.create
	if r.Name != "data" || r.Driver != "local" || len(r.DriverOpts) != 3 || r.DriverOpts["o"] != "size=1m" ||
		len(r.Labels) != 2 || r.Labels["b"] != "" || r.ClusterVolumeSpec != nil {
		t.Errorf("backend got %+v", r)
	}
	rec = send(t, s, "POST", "/volumes/create", `{"Name":"data"}`, map[string]string{"Content-Type": "text/plain"})
	if rec.Code != 400 || message(t, rec) != "unsupported Content-Type header (text/plain): must be 'application/json'" {
		t.Errorf("text/plain body: %d %s", rec.Code, rec.Body)
	}
}

func TestVolumeRoutesNeedABackend(t *testing.T) {
	s, _ := newTestServer(t) // system routes only
	rec := do(t, s, "GET", "/volumes")
	if rec.Code != 404 || message(t, rec) != "page not found" {
		t.Errorf("GET /volumes without a volume backend: %d %s", rec.Code, rec.Body)
	}
}
