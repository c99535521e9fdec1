package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/build"
)

// BuildBackend answers the /build routes berth serves so far: the build
// cache's prune, which `docker system prune` calls. (Building comes with the
// build issue; until then the cache is empty.)
type BuildBackend interface {
	BuildCachePrune(ctx context.Context, filters map[string][]string, all bool) (*build.CachePruneReport, error)
}

func (s *Server) buildRoutes(b BuildBackend) {
	s.handle("POST /build/prune", func(w http.ResponseWriter, r *http.Request) error {
		filters, err := parseFilters(r)
		if err != nil {
			return err
		}
		rep, err := b.BuildCachePrune(r.Context(), filters, boolValue(r, "all"))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(rep)
	})
}
