package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-engine/berth/internal/daemon"
)

// ImageBackend is what the image routes need from the daemon.
type ImageBackend interface {
	Images(ctx context.Context, opts daemon.ImageListOptions) ([]image.Summary, error)
	ImageInspect(ctx context.Context, ref string) (*image.InspectResponse, error)
	ImageHistory(ctx context.Context, ref string) ([]image.HistoryResponseItem, error)
	ImageTag(ctx context.Context, source, repo, tag string) error
	ImageDelete(ctx context.Context, ref string, force, prune bool) ([]image.DeleteResponse, error)
	ImagesPrune(ctx context.Context, filters map[string][]string) (*image.PruneReport, error)
	ImagePull(ctx context.Context, ref, tag, platform string, auth *registry.AuthConfig, progress daemon.ProgressWriter) error
	ImagePush(ctx context.Context, ref, tag string, auth *registry.AuthConfig, progress daemon.ProgressWriter) error
	ImageImport(ctx context.Context, src io.Reader, repo, tag, message string, changes []string, platform string, progress daemon.ProgressWriter) error
	ImagesSave(ctx context.Context, refs []string, format string, w io.Writer) error
	ImagesLoad(ctx context.Context, src io.Reader, quiet bool, progress daemon.ProgressWriter) error
	// Login checks credentials against a registry (docker login).
	Login(ctx context.Context, auth registry.AuthConfig) (*registry.AuthResponse, error)
}

// imageRoutes registers the /images area. Image names hold slashes
// ("library/busybox"), which ServeMux wildcards cannot match in the middle of a
// path, so the per-image routes share one pattern and split the path themselves.
func (s *Server) imageRoutes(b ImageBackend) {
	s.handle("GET /images/json", func(w http.ResponseWriter, r *http.Request) error { return listImages(b, w, r) })
	s.handle("POST /images/create", func(w http.ResponseWriter, r *http.Request) error { return createImage(b, w, r) })
	s.handle("POST /images/load", func(w http.ResponseWriter, r *http.Request) error { return loadImages(b, w, r) })
	s.handle("POST /images/prune", func(w http.ResponseWriter, r *http.Request) error { return pruneImages(b, w, r) })
	s.handle("POST /auth", func(w http.ResponseWriter, r *http.Request) error {
		var ac registry.AuthConfig
		if err := json.NewDecoder(r.Body).Decode(&ac); err != nil {
			return fmt.Errorf("invalid login request: %v: %w", err, cerrdefs.ErrInvalidArgument)
		}
		resp, err := b.Login(r.Context(), ac)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, resp)
	})
	s.handle("GET /images/get", func(w http.ResponseWriter, r *http.Request) error {
		return saveImages(b, w, r, queryValues(r, "names"))
	})
	s.handle("GET /images/{rest...}", func(w http.ResponseWriter, r *http.Request) error {
		name, op := splitImagePath(r.PathValue("rest"))
		switch op {
		case "json":
			info, err := b.ImageInspect(r.Context(), name)
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, imageInspectForVersion(r.Context(), info))
		case "history":
			h, err := b.ImageHistory(r.Context(), name)
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, h)
		case "get":
			return saveImages(b, w, r, []string{name})
		}
		return errPageNotFound
	})
	s.handle("POST /images/{rest...}", func(w http.ResponseWriter, r *http.Request) error {
		name, op := splitImagePath(r.PathValue("rest"))
		switch op {
		case "tag":
			if err := b.ImageTag(r.Context(), name, r.URL.Query().Get("repo"), r.URL.Query().Get("tag")); err != nil {
				return err
			}
			w.WriteHeader(http.StatusCreated)
			return nil
		case "push":
			auth, err := registryAuth(r)
			if err != nil {
				return err
			}
			p := newProgressStream(w)
			return p.finish(b.ImagePush(r.Context(), name, r.URL.Query().Get("tag"), auth, p))
		}
		return errPageNotFound
	})
	s.handle("DELETE /images/{rest...}", func(w http.ResponseWriter, r *http.Request) error {
		deleted, err := b.ImageDelete(r.Context(), r.PathValue("rest"), boolValue(r, "force"), !boolValue(r, "noprune"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, deleted)
	})
}

// splitImagePath splits "library/busybox:1/json" into the name and the operation.
func splitImagePath(rest string) (name, op string) {
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return rest, ""
	}
	return rest[:i], rest[i+1:]
}

func listImages(b ImageBackend, w http.ResponseWriter, r *http.Request) error {
	filters, err := parseFilters(r)
	if err != nil {
		return err
	}
	list, err := b.Images(r.Context(), daemon.ImageListOptions{
		All: boolValue(r, "all"), Filters: filters, SharedSize: boolValue(r, "shared-size"),
		Digests: boolValue(r, "digests"), Manifests: boolValue(r, "manifests"),
	})
	if err != nil {
		return err
	}
	if list == nil {
		list = []image.Summary{}
	}
	return writeJSON(w, http.StatusOK, list)
}

// createImage is both pull (fromImage) and import (fromSrc), as in Docker's API.
func createImage(b ImageBackend, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from, src := q.Get("fromImage"), q.Get("fromSrc")
	switch {
	case from != "" && src != "":
		return fmt.Errorf("fromImage and fromSrc cannot both be set: %w", cerrdefs.ErrInvalidArgument)
	case from == "" && src == "":
		return fmt.Errorf("fromImage or fromSrc is required: %w", cerrdefs.ErrInvalidArgument)
	}
	p := newProgressStream(w)
	if from != "" {
		auth, err := registryAuth(r)
		if err != nil {
			return err
		}
		return p.finish(b.ImagePull(r.Context(), from, q.Get("tag"), q.Get("platform"), auth, p))
	}
	if src != "-" {
		return fmt.Errorf("fromSrc %q: only \"-\" (the request body) is supported; berthd fetches nothing by URL: %w", src, cerrdefs.ErrNotImplemented)
	}
	return p.finish(b.ImageImport(r.Context(), r.Body, q.Get("repo"), q.Get("tag"), q.Get("message"), q["changes"], q.Get("platform"), p))
}

// loadImages answers 200 at once: a tarball that cannot be loaded is an
// errorDetail in the stream, as Docker answers it (docker-py raises its
// ImageLoadError only from there).
func loadImages(b ImageBackend, w http.ResponseWriter, r *http.Request) error {
	p := newProgressStream(w)
	p.begin()
	return p.finish(b.ImagesLoad(r.Context(), r.Body, boolValue(r, "quiet"), p))
}

func pruneImages(b ImageBackend, w http.ResponseWriter, r *http.Request) error {
	filters, err := parseFilters(r)
	if err != nil {
		return err
	}
	report, err := b.ImagesPrune(r.Context(), filters)
	if err != nil {
		return err
	}
	if report.ImagesDeleted == nil {
		report.ImagesDeleted = []image.DeleteResponse{}
	}
	return writeJSON(w, http.StatusOK, report)
}

// saveImages streams a tarball of the images; the format is Docker's unless the
// client asks for the OCI layout (a berth extension: ?format=oci).
func saveImages(b ImageBackend, w http.ResponseWriter, r *http.Request, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no image names given: %w", cerrdefs.ErrInvalidArgument)
	}
	w.Header().Set("Content-Type", "application/x-tar")
	return b.ImagesSave(r.Context(), names, r.URL.Query().Get("format"), w)
}

// registryAuth decodes the X-Registry-Auth header (base64url JSON, as the docker CLI
// sends it); an absent header means anonymous.
func registryAuth(r *http.Request) (*registry.AuthConfig, error) {
	h := r.Header.Get("X-Registry-Auth")
	if h == "" {
		return nil, nil
	}
	raw, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		if raw, err = base64.RawURLEncoding.DecodeString(h); err != nil {
			if raw, err = base64.StdEncoding.DecodeString(h); err != nil {
				return nil, fmt.Errorf("X-Registry-Auth: not base64: %w", cerrdefs.ErrInvalidArgument)
			}
		}
	}
	var auth registry.AuthConfig
	if err := json.Unmarshal(raw, &auth); err != nil {
		return nil, fmt.Errorf("X-Registry-Auth: not JSON: %w", cerrdefs.ErrInvalidArgument)
	}
	return &auth, nil
}
