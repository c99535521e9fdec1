package daemon

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	networktypes "github.com/moby/moby/api/types/network"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/network"
)

// network inspect shows the IPAM options a network was created with as Docker
// does: null when none were sent (docker-py checks), an empty object for an empty
// one (the docker CLI sends that), the options otherwise.
func TestNetworkInspectIPAMOptionsEchoed(t *testing.T) {
	for _, tc := range []struct {
		sent map[string]string
		want string
	}{
		{nil, `null`},
		{map[string]string{}, `{}`},
		{map[string]string{"foo": "bar"}, `{"foo":"bar"}`},
	} {
		n := &network.Network{ID: "0123", Name: "n", Driver: network.DriverBridge, IPAMOptions: tc.sent,
			IPv4: &network.Subnet{Prefix: netip.MustParsePrefix("10.9.0.0/24"), Gateway: netip.MustParseAddr("10.9.0.1")}}
		b, err := json.Marshal(apiNetwork(n).IPAM)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Options json.RawMessage }
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if string(got.Options) != tc.want {
			t.Errorf("IPAM options %v shown as %s, want %s", tc.sent, got.Options, tc.want)
		}
	}
}

// An endpoint's Links (legacy links on a user network) reach the network
// controller by alias; malformed ones are refused in Docker's words.
func TestEndpointRequestLinks(t *testing.T) {
	r, err := endpointRequest("net", &networktypes.EndpointSettings{Links: []string{"up1:bar", "solo", "/db:/client/data"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"bar": "up1", "solo": "solo", "data": "db"}
	if len(r.Links) != len(want) {
		t.Errorf("links %v, want %v", r.Links, want)
	}
	for alias, target := range want {
		if r.Links[alias] != target {
			t.Errorf("link alias %s -> %q, want %q", alias, r.Links[alias], target)
		}
	}
	for spec, msg := range map[string]string{"": "empty string specified for links", "a:b:c": "bad format for links: a:b:c"} {
		_, err := endpointRequest("net", &networktypes.EndpointSettings{Links: []string{spec}})
		if !cerrdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), msg) {
			t.Errorf("link %q: %v; want an invalid-argument error %q", spec, err, msg)
		}
	}
}

// --link with a user-defined network mode makes no legacy link (the docker CLI
// sends it in the network's endpoint settings as well, where it is a DNS alias):
// Docker ignores HostConfig.Links then, and so the linked container need not exist.
func TestLegacyLinksOnlyOffUserNetworks(t *testing.T) {
	for mode, want := range map[container.NetworkMode]bool{"": true, "default": true, "bridge": true, "front": false, "test 01": false} {
		s := &ctr.Container{HostConfig: &container.HostConfig{NetworkMode: mode, Links: []string{"up1:bar"}}}
		if got := len(legacyLinks(s)) > 0; got != want {
			t.Errorf("network mode %q: legacy links %v, want %v", mode, got, want)
		}
	}
}

// The default bridge shows dockerd's options (default_bridge, the binding
// address, the MTU); a user network only what it was given, and the record is
// not changed.
func TestDefaultBridgeOptionsAsDockerd(t *testing.T) {
	recorded := map[string]string{"com.docker.network.bridge.name": "berth0"}
	def := &network.Network{ID: "0", Name: "bridge", Driver: network.DriverBridge, Default: true, Options: recorded}
	got := apiNetwork(def).Options
	for k, v := range map[string]string{
		"com.docker.network.bridge.default_bridge":    "true",
		"com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
		"com.docker.network.driver.mtu":               "1500",
		"com.docker.network.bridge.name":              "berth0",
	} {
		if got[k] != v {
			t.Errorf("default bridge option %s = %q, want %q", k, got[k], v)
		}
	}
	if len(recorded) != 1 {
		t.Errorf("the network's record was changed: %v", recorded)
	}
	user := &network.Network{ID: "1", Name: "u", Driver: network.DriverBridge, Options: map[string]string{"a": "b"}}
	if got := apiNetwork(user).Options; len(got) != 1 || got["a"] != "b" {
		t.Errorf("user network options %v", got)
	}
}
