package api

import (
	"context"
	"net/http"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/volume"
)

// VolumeBackend answers the /volumes routes. A volume is named in the path
// by its full name (volumes have no short IDs). Errors carry their class
// (containerd/errdefs) and Docker's wording: NotFound "get NAME: no such
// volume", Conflict "remove NAME: volume is in use - [IDs]", InvalidArgument
// for a bad name, option or filter.
type VolumeBackend interface {
	// Volumes lists the volumes matching filters (name, label, label!,
	// driver, dangling) and the warnings of drivers that failed to list.
	Volumes(ctx context.Context, filters map[string][]string) ([]volume.Volume, []string, error)
	// VolumeCreate creates a volume, or returns the existing one of that name.
	VolumeCreate(ctx context.Context, req volume.CreateRequest) (*volume.Volume, error)
	VolumeInspect(ctx context.Context, name string) (*volume.Volume, error)
	// VolumeRemove removes a volume; force makes a missing one no error.
	VolumeRemove(ctx context.Context, name string, force bool) error
	// VolumesPrune removes the unused volumes filters select (all, label, label!).
	VolumesPrune(ctx context.Context, filters map[string][]string) (*volume.PruneReport, error)
}

// clusterVolumesVersion is the API version that brought swarm's cluster
// volumes (ClusterVolumeSpec, PUT /volumes/{name}).
const clusterVolumesVersion = "1.42"

// errNoSwarm is Docker's answer to a cluster volume request on an engine
// that is not a swarm manager; berth never is one.
var errNoSwarm = errdefs.ErrUnavailable.WithMessage(`This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.`)

// volumeRoutes registers the /volumes area. The name is the rest of the path,
// slashes included, as Docker's router takes it (a name with a slash is then
// refused as no such volume rather than as no such page). "create" and
// "prune" are POST routes of their own: GET /volumes/create inspects a
// volume named create, as with Docker.
func (s *Server) volumeRoutes(b VolumeBackend) {
	route := func(pattern string, h func(b VolumeBackend, w http.ResponseWriter, r *http.Request) error) {
		s.handle(pattern, func(w http.ResponseWriter, r *http.Request) error { return h(b, w, r) })
	}
	route("GET /volumes", listVolumes)
	route("POST /volumes/create", createVolume)
	route("POST /volumes/prune", pruneVolumes)
	route("GET /volumes/{name...}", func(b VolumeBackend, w http.ResponseWriter, r *http.Request) error {
		v, err := b.VolumeInspect(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, v)
	})
	route("DELETE /volumes/{name...}", func(b VolumeBackend, w http.ResponseWriter, r *http.Request) error {
		return noContent(w, b.VolumeRemove(r.Context(), r.PathValue("name"), boolValue(r, "force")))
	})
	route("PUT /volumes/{name...}", updateVolume)
}

func listVolumes(b VolumeBackend, w http.ResponseWriter, r *http.Request) error {
	filters, err := parseFilters(r)
	if err != nil {
		return err
	}
	vols, warnings, err := b.Volumes(r.Context(), filters)
	if err != nil {
		return err
	}
	if vols == nil {
		vols = []volume.Volume{}
	}
	// Warnings stays null when there are none, as Docker sends it.
	return writeJSON(w, http.StatusOK, volume.ListResponse{Volumes: vols, Warnings: warnings})
}

// createVolume answers POST /volumes/create: 201 with the volume, also when
// it already existed (Docker's answer too). A request for a cluster volume
// (API 1.42 on) is swarm's, which berth is not part of.
func createVolume(b VolumeBackend, w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if _, err := readJSON(r, &req); err != nil {
		return err
	}
	if req.ClusterVolumeSpec != nil && !versionBefore(r.Context(), clusterVolumesVersion) {
		return errNoSwarm
	}
	v, err := b.VolumeCreate(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, v)
}

// pruneVolumes answers POST /volumes/prune. Before API 1.42 a prune took
// named volumes too; since, only anonymous ones unless the filter all=true
// asks for all, so an older client gets all=true added, as Docker does.
func pruneVolumes(b VolumeBackend, w http.ResponseWriter, r *http.Request) error {
	filters, err := parseFilters(r)
	if err != nil {
		return err
	}
	if versionBefore(r.Context(), clusterVolumesVersion) {
		if filters == nil {
			filters = map[string][]string{}
		}
		filters["all"] = append(filters["all"], "true")
	}
	rep, err := b.VolumesPrune(r.Context(), filters)
	if err != nil {
		return err
	}
	if rep.VolumesDeleted == nil {
		rep.VolumesDeleted = []string{}
	}
	return writeJSON(w, http.StatusOK, rep)
}

// updateVolume answers PUT /volumes/{name}, which updates cluster volumes
// only: Docker refuses it outside a swarm (whatever the API version), and so
// does berth, which is never in one.
func updateVolume(b VolumeBackend, w http.ResponseWriter, r *http.Request) error {
	return errdefs.ErrUnavailable.WithMessage("volume update only valid for cluster volumes, but swarm is unavailable")
}
