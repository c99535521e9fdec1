package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
)

// fakeNetworks is a NetworkBackend that records each call as a line and
// answers from canned data. It knows two networks, "bridge" (builtin,
// with one container) and "web" (user-defined, no options or labels: the
// route must still send them as objects). Names mean something to it:
//
//	nosuch   NotFound "network nosuch not found"
//	bridge   remove answers 403, Docker's pre-defined network refusal
//	busy     remove answers Conflict (active endpoints)
//	taken    create answers Conflict (the name exists)
//	ghost    connect and disconnect answer NotFound for the container
type fakeNetworks struct {
	callLog
	mu         sync.Mutex
	create     network.CreateRequest
	connect    network.ConnectRequest
	disconnect network.DisconnectRequest
}

var fakeNetworkCreated = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

var fakeBridge = network.Network{
	Name: "bridge", ID: "f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566", Created: fakeNetworkCreated,
	Scope: "local", Driver: "bridge", EnableIPv4: true,
	IPAM:    network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: netip.MustParsePrefix("172.17.0.0/16"), Gateway: netip.MustParseAddr("172.17.0.1")}}},
	Options: map[string]string{"com.docker.network.bridge.name": "berth0"},
	Labels:  map[string]string{},
}

var fakeWeb = network.Network{
	Name: "web", ID: "7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99", Created: fakeNetworkCreated,
	Scope: "local", Driver: "bridge", EnableIPv4: true, IPAM: network.IPAM{Driver: "default"},
}

func notFoundNetwork(name string) error {
	return cerrdefs.ErrNotFound.WithMessage("network " + name + " not found")
}

func (f *fakeNetworks) NetworkList(ctx context.Context, filters map[string][]string) ([]network.Summary, error) {
	f.call("list %s", formatFilters(filters))
	if filters["bogus"] != nil {
		return nil, cerrdefs.ErrInvalidArgument.WithMessage("invalid filter 'bogus'")
	}
	if filters["name"] != nil {
		return nil, nil // nothing matches: the route must still send a list
	}
	return []network.Summary{{Network: fakeBridge}, {Network: fakeWeb}}, nil
}

func (f *fakeNetworks) NetworkInspect(ctx context.Context, idOrName string, verbose bool, scope string) (network.Inspect, error) {
	f.call("inspect %s verbose=%v scope=%s", idOrName, verbose, scope)
	switch idOrName {
	case "bridge":
		return network.Inspect{Network: fakeBridge, Containers: map[string]network.EndpointResource{
			"c0ffee": {Name: "app", EndpointID: "e1", IPv4Address: netip.MustParsePrefix("172.17.0.2/16")},
		}, Status: &network.Status{}}, nil
	case "web":
		return network.Inspect{Network: fakeWeb}, nil
	}
	return network.Inspect{}, notFoundNetwork(idOrName)
}

func (f *fakeNetworks) NetworkCreate(ctx context.Context, req network.CreateRequest) (network.CreateResponse, error) {
	f.call("create %s driver=%s", req.Name, req.Driver)
	f.mu.Lock()
	f.create = req
	f.mu.Unlock()
	switch req.Name {
	case "taken":
		return network.CreateResponse{}, cerrdefs.ErrConflict.WithMessage("network with name taken already exists")
	case "host":
		return network.CreateResponse{}, cerrdefs.ErrPermissionDenied.WithMessage("operation is not permitted on predefined host network ")
	}
	return network.CreateResponse{ID: "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef"}, nil
}

func (f *fakeNetworks) NetworkRemove(ctx context.Context, idOrName string) error {
	f.call("remove %s", idOrName)
	switch idOrName {
	case "nosuch":
		return notFoundNetwork(idOrName)
	case "bridge":
		return cerrdefs.ErrPermissionDenied.WithMessage("bridge is a pre-defined network and cannot be removed")
	case "busy":
		return fmt.Errorf("error while removing network: %w", cerrdefs.ErrConflict.WithMessage("network busy id 0a1b has active endpoints"))
	}
	return nil
}

func (f *fakeNetworks) NetworkConnect(ctx context.Context, idOrName string, req network.ConnectRequest) error {
	f.call("connect %s %s", idOrName, req.Container)
	f.mu.Lock()
	f.connect = req
	f.mu.Unlock()
	switch {
	case idOrName == "nosuch":
		return notFoundNetwork(idOrName)
	case req.Container == "ghost":
		return cerrdefs.ErrNotFound.WithMessage("No such container: ghost")
	}
	return nil
}

func (f *fakeNetworks) NetworkDisconnect(ctx context.Context, idOrName string, req network.DisconnectRequest) error {
	f.call("disconnect %s %s force=%v", idOrName, req.Container, req.Force)
	f.mu.Lock()
	f.disconnect = req
	f.mu.Unlock()
	switch {
	case idOrName == "nosuch":
		return notFoundNetwork(idOrName)
	case req.Container == "ghost":
		return cerrdefs.ErrNotFound.WithMessage("No such container: ghost")
	}
	return nil
}

func (f *fakeNetworks) NetworksPrune(ctx context.Context, filters map[string][]string) (*network.PruneReport, error) {
	f.call("prune %s", formatFilters(filters))
	if filters["label"] != nil {
		return nil, nil
	}
	return &network.PruneReport{NetworksDeleted: []string{"old1", "old2"}}, nil
}

func newNetworkServer(t *testing.T) (*Server, *fakeNetworks) {
	t.Helper()
	f := &fakeNetworks{}
	return New(Options{Networks: f, Version: "1.2.3"}), f
}

const (
	fakeBridgeJSON = `{"Name":"bridge","Id":"f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566","Created":"2026-11-20T10:00:00Z",` +
		`"Scope":"local","Driver":"bridge","EnableIPv4":true,"EnableIPv6":false,` +
		`"IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"172.17.0.0/16","Gateway":"172.17.0.1"}]},` +
		`"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,` +
		`"Options":{"com.docker.network.bridge.name":"berth0"},"Labels":{}`
	// The web network has no options, labels or subnets: {} and [], not null.
	fakeWebJSON = `{"Name":"web","Id":"7d86d31b1478e7cca9ebed7e73aa0fdeec46c5ca29497431d3007d2d9e15ed99","Created":"2026-11-20T10:00:00Z",` +
		`"Scope":"local","Driver":"bridge","EnableIPv4":true,"EnableIPv6":false,` +
		`"IPAM":{"Driver":"default","Options":null,"Config":[]},` +
		`"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,` +
		`"Options":{},"Labels":{}`
)

// TestNetworkRoutes drives each route through the server's handler and
// checks what the backend was asked for, the status and the body Docker
// would send.
func TestNetworkRoutes(t *testing.T) {
	s, f := newNetworkServer(t)
	q := url.QueryEscape
	checkRoutes(t, s, &f.callLog, []routeCase{
		{"GET", "/v1.50/networks", "", 200, "list ", "[" + fakeBridgeJSON + "}," + fakeWebJSON + "}]"},
		// Docker's router lists at /networks/ too; no version prefix means the newest.
		{"GET", "/networks/", "", 200, "list ", ""},
		// Both filter encodings; the values reach the backend sorted.
		{"GET", "/v1.41/networks?filters=" + q(`{"driver":{"bridge":true},"label":["b","a=1"],"type":{"custom":true},"dangling":["true"]}`), "", 200,
			"list dangling=true driver=bridge label=a=1,b type=custom", ""},
		{"GET", "/v1.50/networks?filters=" + q(`{"name":["nothing"]}`), "", 200, "list name=nothing", `[]`},
		{"GET", "/v1.50/networks?filters=" + q(`{"bogus":["x"]}`), "", 400, "list bogus=x", `{"message":"invalid filter 'bogus'"}`},
		{"GET", "/v1.50/networks?filters=notjson", "", 400, "", ""},

		{"GET", "/v1.50/networks/bridge", "", 200, "inspect bridge verbose=false scope=",
			fakeBridgeJSON + `,"Containers":{"c0ffee":{"Name":"app","EndpointID":"e1","MacAddress":"","IPv4Address":"172.17.0.2/16","IPv6Address":""}}}`},
		{"GET", "/v1.50/networks/web?verbose=true&scope=local", "", 200, "inspect web verbose=true scope=local", fakeWebJSON + `,"Containers":{}}`},
		{"GET", "/v1.50/networks/web?verbose=1", "", 200, "inspect web verbose=true scope=", ""},
		{"GET", "/v1.50/networks/web?verbose=yes", "", 400, "",
			`{"message":"invalid value for verbose: yes: strconv.ParseBool: parsing \"yes\": invalid syntax"}`},
		{"GET", "/v1.50/networks/nosuch", "", 404, "inspect nosuch verbose=false scope=", `{"message":"network nosuch not found"}`},
		// The name is the rest of the path; "create" is a name to GET.
		{"GET", "/v1.50/networks/a/b", "", 404, "inspect a/b verbose=false scope=", `{"message":"network a/b not found"}`},
		{"GET", "/v1.50/networks/create", "", 404, "inspect create verbose=false scope=", ""},

		{"POST", "/v1.50/networks/create", `{"Name":"front","Driver":"bridge","IPAM":{"Driver":"default","Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.1"}]}}`, 201,
			"create front driver=bridge", `{"Id":"0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef","Warning":""}`},
		{"POST", "/v1.50/networks/create", `{"Name":"taken"}`, 409, "create taken driver=", `{"message":"network with name taken already exists"}`},
		{"POST", "/v1.50/networks/create", `{"Name":"host"}`, 403, "create host driver=", ""},
		{"POST", "/v1.50/networks/create", `{"Name":`, 400, "", ""},
		{"POST", "/v1.50/networks/create", `{"Name":"x"} {}`, 400, "", `{"message":"unexpected content after JSON"}`},
		{"POST", "/v1.50/networks/create", "", 400, "", `{"message":"invalid JSON: got EOF while reading request body"}`},
		// A malformed address does not decode into the request's netip types: refused in Docker's words.
		{"POST", "/v1.50/networks/create", `{"Name":"x","IPAM":{"Config":[{"Subnet":"10.9.0/24"}]}}`, 400, "", `{"message":"Invalid subnet 10.9.0/24 : invalid CIDR address: 10.9.0/24"}`},
		{"POST", "/v1.50/networks/create", `{"Name":"x","IPAM":{"Config":[{"Subnet":"10.9.0.0/24","IPRange":"10.9.0.0/33"}]}}`, 400, "", `{"message":"Invalid ip range 10.9.0.0/33 : invalid CIDR address: 10.9.0.0/33"}`},
		{"POST", "/v1.50/networks/create", `{"Name":"x","IPAM":{"Config":[{"Subnet":"10.9.0.0/24","Gateway":"10.9.0.300"}]}}`, 400, "", `{"message":"Invalid gateway 10.9.0.300 : invalid address: 10.9.0.300"}`},

		{"DELETE", "/v1.50/networks/web", "", 204, "remove web", ""},
		{"DELETE", "/v1.50/networks/nosuch", "", 404, "remove nosuch", `{"message":"network nosuch not found"}`},
		{"DELETE", "/v1.50/networks/bridge", "", 403, "remove bridge", `{"message":"bridge is a pre-defined network and cannot be removed"}`},
		{"DELETE", "/v1.50/networks/busy", "", 409, "remove busy", `{"message":"error while removing network: network busy id 0a1b has active endpoints"}`},

		{"POST", "/v1.50/networks/web/connect", `{"Container":"app","EndpointConfig":{"Aliases":["db"]}}`, 200, "connect web app", ""},
		{"POST", "/v1.50/networks/nosuch/connect", `{"Container":"app"}`, 404, "connect nosuch app", `{"message":"network nosuch not found"}`},
		{"POST", "/v1.50/networks/web/connect", `{"Container":"ghost"}`, 404, "connect web ghost", `{"message":"No such container: ghost"}`},
		{"POST", "/v1.50/networks/web/connect", `{"Container":`, 400, "", ""},
		{"POST", "/v1.50/networks/web/disconnect", `{"Container":"app","Force":true}`, 200, "disconnect web app force=true", ""},
		{"POST", "/v1.50/networks/web/disconnect", `{"Container":"ghost"}`, 404, "disconnect web ghost force=false", `{"message":"No such container: ghost"}`},
		{"POST", "/v1.50/networks/nosuch/disconnect", `{"Container":"app"}`, 404, "disconnect nosuch app force=false", ""},
		{"POST", "/v1.50/networks/web/disconnect", `[]`, 400, "", ""},

		{"POST", "/v1.50/networks/prune", "", 200, "prune ", `{"NetworksDeleted":["old1","old2"]}`},
		{"POST", "/v1.50/networks/prune?filters=" + q(`{"label":["x"],"until":["1h"]}`), "", 200, "prune label=x until=1h", `{"NetworksDeleted":null}`},
		{"POST", "/v1.50/networks/prune?filters=%7B", "", 400, "", ""},

		{"PUT", "/v1.50/networks/web", "", 404, "", `{"message":"page not found"}`},
		{"POST", "/v1.50/networks/web/frobnicate", "", 404, "", `{"message":"page not found"}`},
	})
}

// TestNetworkCreateDecodesTheRequest checks that every field docker network
// create sends reaches the backend, and that EnableIPv4 is dropped for a
// client older than the API that brought it.
func TestNetworkCreateDecodesTheRequest(t *testing.T) {
	s, f := newNetworkServer(t)
	body := `{"Name":"front","Driver":"bridge","Scope":"local","EnableIPv4":false,"EnableIPv6":true,"Internal":true,"Attachable":true,` +
		`"IPAM":{"Driver":"default","Options":{"o":"1"},"Config":[{"Subnet":"10.9.0.0/24","IPRange":"10.9.0.128/25","Gateway":"10.9.0.1","AuxiliaryAddresses":{"router":"10.9.0.2"}},` +
		`{"Subnet":"fd00:9::/64"}]},"Options":{"com.docker.network.bridge.name":"br-front"},"Labels":{"tier":"front"}}`
	if rec := send(t, s, "POST", "/v1.50/networks/create", body, jsonHeader); rec.Code != 201 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	got := f.create
	ipam := got.IPAM
	if got.Name != "front" || got.Driver != "bridge" || got.Scope != "local" || got.EnableIPv4 == nil || *got.EnableIPv4 ||
		got.EnableIPv6 == nil || !*got.EnableIPv6 || !got.Internal || !got.Attachable ||
		got.Options["com.docker.network.bridge.name"] != "br-front" || got.Labels["tier"] != "front" ||
		ipam == nil || ipam.Driver != "default" || ipam.Options["o"] != "1" || len(ipam.Config) != 2 {
		t.Fatalf("request %+v", got)
	}
	c := ipam.Config[0]
	if c.Subnet.String() != "10.9.0.0/24" || c.IPRange.String() != "10.9.0.128/25" || c.Gateway.String() != "10.9.0.1" ||
		c.AuxAddress["router"].String() != "10.9.0.2" || ipam.Config[1].Subnet.String() != "fd00:9::/64" {
		t.Errorf("IPAM config %+v", ipam.Config)
	}
	if rec := send(t, s, "POST", "/v1.47/networks/create", `{"Name":"old","EnableIPv4":false}`, jsonHeader); rec.Code != 201 || f.create.EnableIPv4 != nil {
		t.Errorf("API 1.47: %d, EnableIPv4 %v (want it dropped)", rec.Code, f.create.EnableIPv4)
	}
	if rec := send(t, s, "POST", "/v1.50/networks/create", `{"Name":"x"}`, map[string]string{"Content-Type": "text/plain"}); rec.Code != 400 {
		t.Errorf("text/plain body: %d %s", rec.Code, rec.Body)
	}
}

// TestNetworkConnectDecodesTheRequest checks the endpoint settings docker
// network connect sends (--ip, --ip6, --alias, --link, --driver-opt), and
// that a MAC address is dropped for a client older than the API that
// brought it (every version berth serves, so far).
func TestNetworkConnectDecodesTheRequest(t *testing.T) {
	s, f := newNetworkServer(t)
	body := `{"Container":"app","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.9.0.7","IPv6Address":"fd00:9::7"},` +
		`"Links":["db:database"],"Aliases":["web","www"],"DriverOpts":{"k":"v"},"MacAddress":"02:42:0a:09:00:07"}}`
	if rec := send(t, s, "POST", "/v1.50/networks/front/connect", body, jsonHeader); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Fatalf("connect: %d %q", rec.Code, rec.Body)
	}
	ep := f.connect.EndpointConfig
	if f.connect.Container != "app" || ep == nil || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address.String() != "10.9.0.7" ||
		ep.IPAMConfig.IPv6Address.String() != "fd00:9::7" || strings.Join(ep.Links, ",") != "db:database" ||
		strings.Join(ep.Aliases, ",") != "web,www" || ep.DriverOpts["k"] != "v" {
		t.Errorf("request %+v endpoint %+v", f.connect, ep)
	}
	if ep != nil && ep.MacAddress != nil {
		t.Errorf("MAC address %s reached the backend on API 1.50", ep.MacAddress)
	}
	// No endpoint config at all is a plain connect.
	if rec := send(t, s, "POST", "/networks/front/connect", `{"Container":"app"}`, jsonHeader); rec.Code != 200 || f.connect.EndpointConfig != nil {
		t.Errorf("plain connect: %d %+v", rec.Code, f.connect)
	}
}

// TestNetworkInspectDropsNewerFields: Status came with API 1.52, so an
// older client does not see it.
func TestNetworkInspectDropsNewerFields(t *testing.T) {
	s, _ := newNetworkServer(t)
	rec := send(t, s, "GET", "/v1.50/networks/bridge", "", nil)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || rec.Code != 200 {
		t.Fatalf("inspect: %d %s (%v)", rec.Code, rec.Body, err)
	}
	if _, ok := m["Status"]; ok {
		t.Errorf("Status sent to an API 1.50 client: %s", m["Status"])
	}
}

// TestNetworkRoutesAbsentWithoutBackend: a server without a network backend
// does not serve the area.
func TestNetworkRoutesAbsentWithoutBackend(t *testing.T) {
	s := New(Options{Version: "1.2.3"})
	if rec := send(t, s, "GET", "/v1.50/networks", "", nil); rec.Code != 404 {
		t.Errorf("GET /networks without a backend: %d", rec.Code)
	}
}
