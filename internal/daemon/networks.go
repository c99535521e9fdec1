package daemon

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
)

// NetworksPrune removes the unused user-defined networks. berth has none yet
// (bridge networks come with the networking part), so there is nothing to
// remove; the filters are still checked as Docker checks them.
func (d *Daemon) NetworksPrune(ctx context.Context, filters map[string][]string) (*network.PruneReport, error) {
	for k := range filters {
		switch k {
		case "until", "label", "label!":
		default:
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter '%s'", k))
		}
	}
	return &network.PruneReport{NetworksDeleted: []string{}}, nil
}
