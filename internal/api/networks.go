package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
)

// NetworkBackend answers the /networks routes. A network is named in the
// path by its full ID, its name, or a unique prefix of its ID; resolving the
// name (and refusing an ambiguous one) is the backend's job, as are the
// semantic checks of a request (a valid name, driver, subnet, option or
// filter). Errors carry their class (containerd/errdefs) and Docker's
// wording, which the client prints after "Error response from daemon: ":
//
//	NotFound          "network NAME not found", "No such container: NAME"
//	InvalidArgument   a bad filter, subnet or option; an ambiguous name
//	PermissionDenied  (403) creating or removing a pre-defined network
//	                  ("bridge", "host", "none")
//	Conflict          a name already taken, overlapping subnets, a network
//	                  in use ("error while removing network: network NAME
//	                  id ID has active endpoints")
//
// The route, not the backend, shapes the JSON per API version: fields a
// client's version did not have are dropped on the way in and out.
type NetworkBackend interface {
	// NetworkList lists the networks matching filters: driver, id (a prefix
	// or the whole), label (key or key=value), name (a substring), scope
	// (local, global, swarm), type (custom or builtin), dangling (true or
	// false). An unknown filter is InvalidArgument ("invalid filter 'x'").
	NetworkList(ctx context.Context, filters map[string][]string) ([]network.Summary, error)
	// NetworkInspect returns one network with its endpoints. verbose asks
	// for the swarm details (services), scope restricts the lookup to local,
	// global or swarm networks ("" means any).
	NetworkInspect(ctx context.Context, idOrName string, verbose bool, scope string) (network.Inspect, error)
	// NetworkCreate creates a network. The route has already dropped the
	// fields the client's API version did not have (EnableIPv4 before 1.48).
	NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error)
	// NetworkRemove removes a network no container is connected to.
	NetworkRemove(ctx context.Context, idOrName string) error
	// NetworkConnect connects the container req.Container (an ID, prefix
	// or name) to the network, with req.EndpointConfig (nil for defaults:
	// any free address, no aliases).
	NetworkConnect(ctx context.Context, idOrName string, req network.ConnectRequest) error
	// NetworkDisconnect disconnects req.Container from the network;
	// req.Force makes it work when the container is gone or the network
	// state is inconsistent.
	NetworkDisconnect(ctx context.Context, idOrName string, req network.DisconnectRequest) error
	// NetworksPrune removes the user-defined networks no container uses that
	// the filters select (until, label, label!), and says which it removed.
	NetworksPrune(ctx context.Context, filters map[string][]string) (*network.PruneReport, error)
}

// The API versions that changed what the network routes carry.
const (
	// networkIPv4Version brought CreateRequest.EnableIPv4 (docker network
	// create --ipv4=false).
	networkIPv4Version = "1.48"
	// networkStatusVersion brought Inspect.Status (the addresses in use).
	networkStatusVersion = "1.52"
	// connectMACVersion brought a MAC address per connect
	// (docker network connect --mac-address).
	connectMACVersion = "1.54"
)

// networkRoutes registers the /networks area. As in Docker's router, GET and
// DELETE take the network from the rest of the path (a name with a slash is
// then "not found" rather than "page not found"); connect and disconnect
// take one path segment. "create" and "prune" are POST routes of their own,
// so GET /networks/create inspects a network named create, as with Docker.
func (s *Server) networkRoutes(b NetworkBackend) {
	route := func(pattern string, h func(b NetworkBackend, w http.ResponseWriter, r *http.Request) error) {
		s.handle(pattern, func(w http.ResponseWriter, r *http.Request) error { return h(b, w, r) })
	}
	route("GET /networks", listNetworks)
	route("GET /networks/{id...}", func(b NetworkBackend, w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("id") == "" {
			return listNetworks(b, w, r) // "/networks/": Docker lists here too
		}
		return inspectNetwork(b, w, r)
	})
	route("POST /networks/create", createNetwork)
	route("DELETE /networks/{id...}", func(b NetworkBackend, w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		if id == "" {
			return errPageNotFound
		}
		return noContent(w, b.NetworkRemove(r.Context(), id))
	})
	route("POST /networks/{id}/connect", connectNetwork)
	route("POST /networks/{id}/disconnect", func(b NetworkBackend, w http.ResponseWriter, r *http.Request) error {
		var req network.DisconnectRequest
		if _, err := readJSON(r, &req); err != nil {
			return err
		}
		return emptyOK(w, b.NetworkDisconnect(r.Context(), r.PathValue("id"), req))
	})
	route("POST /networks/prune", pruneNetworks)
}

// listNetworks answers GET /networks: always a list, [] when none match.
func listNetworks(b NetworkBackend, w http.ResponseWriter, r *http.Request) error {
	filters, err := parseFilters(r)
	if err != nil {
		return err
	}
	list, err := b.NetworkList(r.Context(), filters)
	if err != nil {
		return err
	}
	if list == nil {
		list = []network.Summary{}
	}
	for i := range list {
		fillNetworkDefaults(&list[i].Network)
	}
	return writeJSON(w, http.StatusOK, list)
}

// inspectNetwork answers GET /networks/{id}?verbose=&scope=. verbose is read
// as strconv.ParseBool reads it (Docker's router does the same), so "yes"
// is a 400 here rather than true.
func inspectNetwork(b NetworkBackend, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var verbose bool
	if v := q.Get("verbose"); v != "" {
		var err error
		if verbose, err = strconv.ParseBool(v); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid value for verbose: %s: %v", v, err))
		}
	}
	nw, err := b.NetworkInspect(r.Context(), r.PathValue("id"), verbose, q.Get("scope"))
	if err != nil {
		return err
	}
	fillNetworkDefaults(&nw.Network)
	if nw.Containers == nil {
		nw.Containers = map[string]network.EndpointResource{}
	}
	if versionBefore(r.Context(), networkStatusVersion) {
		nw.Status = nil
	}
	return writeJSON(w, http.StatusOK, nw)
}

// createNetwork answers POST /networks/create: 201 {"Id", "Warning"}. The
// body is required (Name is), so an empty one is Docker's EOF error.
func createNetwork(b NetworkBackend, w http.ResponseWriter, r *http.Request) error {
	var req network.CreateRequest
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, 1<<20)); err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	present, err := readJSON(r, &req)
	if err != nil {
		if bad := badIPAMAddress(body); bad != nil {
			return bad
		}
		return err
	}
	if !present {
		return errdefs.ErrInvalidArgument.WithMessage("invalid JSON: got EOF while reading request body")
	}
	if versionBefore(r.Context(), networkIPv4Version) {
		req.EnableIPv4 = nil
	}
	resp, err := b.NetworkCreate(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, resp)
}

// badIPAMAddress is, for a create request whose IPAM addresses do not parse,
// the error in Docker's words ("Invalid subnet foo : invalid CIDR address:
// foo") instead of the JSON decoder's; nil when they all parse.
func badIPAMAddress(body []byte) error {
	var raw struct {
		IPAM *struct {
			Config []struct{ Subnet, IPRange, Gateway string }
		}
	}
	if json.Unmarshal(body, &raw) != nil || raw.IPAM == nil {
		return nil
	}
	invalid := func(what, v, why string) error {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid %s %s : %s: %s", what, v, why, v))
	}
	for _, c := range raw.IPAM.Config {
		if _, err := netip.ParsePrefix(c.Subnet); c.Subnet != "" && err != nil {
			return invalid("subnet", c.Subnet, "invalid CIDR address")
		}
		if _, err := netip.ParsePrefix(c.IPRange); c.IPRange != "" && err != nil {
			return invalid("ip range", c.IPRange, "invalid CIDR address")
		}
		if _, err := netip.ParseAddr(c.Gateway); c.Gateway != "" && err != nil {
			return invalid("gateway", c.Gateway, "invalid address")
		}
	}
	return nil
}

// connectNetwork answers POST /networks/{id}/connect: an empty 200.
func connectNetwork(b NetworkBackend, w http.ResponseWriter, r *http.Request) error {
	var req network.ConnectRequest
	if _, err := readJSON(r, &req); err != nil {
		return err
	}
	if req.EndpointConfig != nil && versionBefore(r.Context(), connectMACVersion) {
		req.EndpointConfig.MacAddress = nil
	}
	return emptyOK(w, b.NetworkConnect(r.Context(), r.PathValue("id"), req))
}

// pruneNetworks answers POST /networks/prune with the IDs removed.
func pruneNetworks(b NetworkBackend, w http.ResponseWriter, r *http.Request) error {
	filters, err := parseFilters(r)
	if err != nil {
		return err
	}
	rep, err := b.NetworksPrune(r.Context(), filters)
	if err != nil {
		return err
	}
	if rep == nil {
		rep = &network.PruneReport{}
	}
	return writeJSON(w, http.StatusOK, rep)
}

// fillNetworkDefaults gives a network the JSON Docker sends: Options and
// Labels as objects and IPAM.Config as a list even when empty (never null),
// which templates such as {{range .IPAM.Config}} and scripts using jq rely on.
func fillNetworkDefaults(n *network.Network) {
	if n.Options == nil {
		n.Options = map[string]string{}
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	if n.IPAM.Config == nil {
		n.IPAM.Config = []network.IPAMConfig{}
	}
}
