package daemon

import (
	"context"

	"github.com/moby/moby/api/types/build"
)

// BuildCachePrune empties the build cache. berth does not build images yet, so
// the cache is empty and nothing is removed.
func (d *Daemon) BuildCachePrune(ctx context.Context, filters map[string][]string, all bool) (*build.CachePruneReport, error) {
	return &build.CachePruneReport{CachesDeleted: []string{}}, nil
}
