package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/moby/moby/api/types/network"
)

// NetworkBackend answers the /networks routes berth serves so far: prune,
// which `docker system prune` calls. (User-defined networks come with the
// networking issue; until then there is none to remove.)
type NetworkBackend interface {
	NetworksPrune(ctx context.Context, filters map[string][]string) (*network.PruneReport, error)
}

func (s *Server) networkRoutes(b NetworkBackend) {
	s.handle("POST /networks/prune", func(w http.ResponseWriter, r *http.Request) error {
		filters, err := parseFilters(r)
		if err != nil {
			return err
		}
		rep, err := b.NetworksPrune(r.Context(), filters)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		return json.NewEncoder(w).Encode(rep)
	})
}
