package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// createWith posts body to /containers/create at API version v and returns
// the status, the answer and the options the backend received.
func createWith(t *testing.T, v, query, body string) (int, string, *fakeContainers) {
	t.Helper()
	s, f := newContainerServer(t)
	rec := send(t, s, "POST", "/v"+v+"/containers/create"+query, body, jsonHeader)
	return rec.Code, rec.Body.String(), f
}

func TestCreateDefaultsWhatTheClientLeftOut(t *testing.T) {
	code, body, f := createWith(t, "1.50", "?name=/web&platform=linux/arm64", `{"Image":"busybox","Cmd":["true"]}`)
	if code != 201 || body != `{"Id":"c0ffee","Warnings":[]}`+"\n" {
		t.Fatalf("create: %d %s", code, body)
	}
	o := f.create
	if o.Name != "web" || o.Config.Image != "busybox" || o.Config.Volumes == nil {
		t.Errorf("config: name %q %+v", o.Name, o.Config)
	}
	if o.HostConfig == nil || o.HostConfig.NetworkMode != "bridge" || o.HostConfig.PortBindings == nil {
		t.Errorf("host config not defaulted: %+v", o.HostConfig)
	}
	if o.NetworkingConfig == nil || o.NetworkingConfig.EndpointsConfig == nil {
		t.Errorf("networking config not defaulted: %+v", o.NetworkingConfig)
	}
	if o.Platform == nil || o.Platform.OS != "linux" || o.Platform.Architecture != "arm64" {
		t.Errorf("platform %+v", o.Platform)
	}
}

func TestCreateNormalisesHostConfig(t *testing.T) {
	body := `{"Image":"busybox",
		"HostConfig":{"NetworkMode":"default","PidsLimit":-1,"PortBindings":{"80/tcp":[],"53/udp":[{"HostPort":"5353"}]}},
		"NetworkingConfig":{"EndpointsConfig":{"default":{"Aliases":["db"]}}}}`
	code, out, f := createWith(t, "1.50", "", body)
	if code != 201 {
		t.Fatalf("create: %d %s", code, out)
	}
	hc, eps := f.create.HostConfig, f.create.NetworkingConfig.EndpointsConfig
	if hc.NetworkMode != "bridge" || eps["bridge"] == nil || eps["bridge"].Aliases[0] != "db" || eps["default"] != nil {
		t.Errorf("default network not made bridge: %s %v", hc.NetworkMode, eps)
	}
	if hc.PidsLimit != nil {
		t.Errorf("pids limit -1 kept as %d", *hc.PidsLimit)
	}
	pb := hc.PortBindings[network.MustParsePort("80/tcp")]
	if len(pb) != 1 || pb[0].HostPort != "" || len(hc.PortBindings[network.MustParsePort("53/udp")]) != 1 {
		t.Errorf("port bindings %v", hc.PortBindings)
	}
}

// TestCreateByAPIVersion: the same body means different things to clients
// of different API versions.
func TestCreateByAPIVersion(t *testing.T) {
	body := `{"Image":"busybox","Healthcheck":{"Test":["CMD","true"],"StartInterval":1000000000},
		"HostConfig":{"Annotations":{"a":"b"},"ConsoleSize":[24,80],
			"Mounts":[{"Type":"bind","Source":"/src","Target":"/dst","ReadOnly":true}]}}`
	_, _, f := createWith(t, "1.50", "", body)
	c, hc := f.create.Config, f.create.HostConfig
	if c.Healthcheck.StartInterval != time.Second || hc.Annotations["a"] != "b" || hc.ConsoleSize != [2]uint{24, 80} || hc.IpcMode != "" {
		t.Errorf("1.50 lost fields: %+v %+v", c.Healthcheck, hc)
	}
	if bo := hc.Mounts[0].BindOptions; bo != nil && bo.ReadOnlyNonRecursive {
		t.Errorf("1.50: read-only bind made non-recursive")
	}

	_, _, f = createWith(t, "1.39", "", body)
	c, hc = f.create.Config, f.create.HostConfig
	if c.Healthcheck.StartInterval != 0 || hc.Annotations != nil || hc.ConsoleSize != [2]uint{} {
		t.Errorf("1.39 kept newer fields: %+v %+v", c.Healthcheck, hc)
	}
	if hc.IpcMode != container.IPCModeShareable {
		t.Errorf("1.39: ipc mode %q, want shareable", hc.IpcMode)
	}
	if bo := hc.Mounts[0].BindOptions; bo == nil || !bo.ReadOnlyNonRecursive {
		t.Errorf("1.39: a read-only bind is read-only at its top only: %+v", bo)
	}
	// The platform parameter came with 1.41.
	_, _, f = createWith(t, "1.40", "?platform=linux/arm64", `{"Image":"busybox"}`)
	if f.create.Platform != nil {
		t.Errorf("1.40 platform %v", f.create.Platform)
	}
}

func TestCreateRefusalsByAPIVersion(t *testing.T) {
	for _, c := range []struct{ version, body, message string }{
		{"1.50", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"volume","Target":"/x","TmpfsOptions":{"SizeBytes":1}}]}}`,
			`TmpfsOptions must not be specified on mount type "volume"`},
		{"1.50", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"tmpfs","Target":"/x","BindOptions":{}}]}}`,
			`BindOptions must not be specified on mount type "tmpfs"`},
		{"1.43", `{"Image":"a","NetworkingConfig":{"EndpointsConfig":{"n2":{},"n1":{}}}}`,
			"Container cannot be created with multiple network endpoints: n1, n2"},
		{"1.43", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"bind","Source":"/a","Target":"/b","BindOptions":{"ReadOnlyForceRecursive":true}}]}}`,
			"BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer"},
		{"1.44", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"volume","Source":"v","Target":"/b","VolumeOptions":{"Subpath":"x"}}]}}`,
			"VolumeOptions.Subpath needs API v1.45 or newer"},
		{"1.47", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"image","Source":"busybox","Target":"/b"}]}}`,
			`Mount type "Image" needs API v1.48 or newer`},
		{"1.50", `{"Image":"a","HostConfig":{"Sysctls":{"net.ipv4.conf.eth0.forwarding":"1"}}}`,
			`interface specific sysctl setting "net.ipv4.conf.eth0.forwarding" must be supplied using driver option 'com.docker.network.endpoint.sysctls'`},
		{"1.47", `{"Image":"a","HostConfig":{"Sysctls":{"net.ipv4.conf.eth1.forwarding":"1"}}}`,
			"unable to determine network endpoint for sysctl net.ipv4.conf.eth1.forwarding, use driver option 'com.docker.network.endpoint.sysctls' to set per-interface sysctls"},
		{"1.40", `{"Image":"a","HostConfig":{"Capabilities":["CAP_NET_ADMIN"]}}`,
			"the HostConfig.Capabilities field is not supported by this daemon; use CapAdd and CapDrop to set capabilities"},
		{"1.43", `{"Image":"a","MacAddress":"02:42:ac:11:00:09","HostConfig":{"NetworkMode":"host"}}`,
			"conflicting options: mac-address and the network mode"},
		{"1.50", `{"Image":"a","MacAddress":"02:42:ac:11:00:09","HostConfig":{"NetworkMode":"mynet"},
			"NetworkingConfig":{"EndpointsConfig":{"mynet":{"MacAddress":"02:42:ac:11:00:01"}}}}`,
			"the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty"},
	} {
		code, body, f := createWith(t, c.version, "", c.body)
		var e struct{ Message string }
		json.Unmarshal([]byte(body), &e)
		if code != 400 || e.Message != c.message || f.lastCall() != "" {
			t.Errorf("%s %s:\n got %d %q\nwant 400 %q", c.version, c.body, code, e.Message, c.message)
		}
	}
}

func TestCreateMigratesLegacyFields(t *testing.T) {
	// A container-wide MAC address (before 1.44) goes to the network's endpoint.
	code, out, f := createWith(t, "1.43", "", `{"Image":"a","MacAddress":"02:42:ac:11:00:09","HostConfig":{"NetworkMode":"mynet"}}`)
	ep := f.create.NetworkingConfig.EndpointsConfig["mynet"]
	if code != 201 || ep == nil || ep.MacAddress.String() != "02:42:ac:11:00:09" || strings.Contains(out, "deprecated") {
		t.Errorf("1.43 MAC: %d %s %+v", code, out, ep)
	}
	// 1.44 to 1.51 still migrate it, with a warning.
	code, out, f = createWith(t, "1.50", "", `{"Image":"a","MacAddress":"02:42:ac:11:00:09"}`)
	ep = f.create.NetworkingConfig.EndpointsConfig["bridge"]
	if code != 201 || ep == nil || ep.MacAddress.String() != "02:42:ac:11:00:09" ||
		!strings.Contains(out, "The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.") {
		t.Errorf("1.50 MAC: %d %s %+v", code, out, ep)
	}
	// An eth0 sysctl moves to the endpoint's driver options before 1.48.
	code, out, f = createWith(t, "1.47", "", `{"Image":"a","HostConfig":{"Sysctls":{"net.ipv6.conf.eth0.forwarding":"1","kernel.shmmax":"1"}},
		"NetworkingConfig":{"EndpointsConfig":{"bridge":{"DriverOpts":{"com.docker.network.endpoint.sysctls":"net.ipv4.conf.IFNAME.log_martians=1"}}}}}`)
	ep = f.create.NetworkingConfig.EndpointsConfig["bridge"]
	want := "net.ipv6.conf.IFNAME.forwarding=1,net.ipv4.conf.IFNAME.log_martians=1"
	if code != 201 || ep.DriverOpts["com.docker.network.endpoint.sysctls"] != want || len(f.create.HostConfig.Sysctls) != 1 ||
		!strings.Contains(out, `Migrated sysctl \"net.ipv6.conf.eth0.forwarding\"`) {
		t.Errorf("1.47 sysctl: %d %s %+v %v", code, out, ep.DriverOpts, f.create.HostConfig.Sysctls)
	}
}

func TestInspectByAPIVersion(t *testing.T) {
	s, _ := newContainerServer(t)
	var got struct {
		NetworkSettings struct {
			EndpointID  string
			IPAddress   *string
			IPPrefixLen int
			MacAddress  string
			Networks    map[string]struct{ Aliases []string }
		}
	}
	rec := send(t, s, "GET", "/v1.50/containers/web/json", "", nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	ns := got.NetworkSettings
	if ns.EndpointID != "ep1" || ns.IPAddress == nil || ns.IPPrefixLen != 16 || ns.MacAddress != "02:42:ac:11:00:02" || len(ns.Networks) != 2 {
		t.Errorf("1.50 network settings: %s", rec.Body)
	}
	if a := ns.Networks["mynet"].Aliases; len(a) != 1 {
		t.Errorf("1.50 aliases %v", a)
	}
	rec = send(t, s, "GET", "/v1.44/containers/web/json", "", nil)
	json.Unmarshal(rec.Body.Bytes(), &got)
	if a := got.NetworkSettings.Networks["mynet"].Aliases; strings.Join(a, ",") != "web,c0ffee012345,web1" {
		t.Errorf("1.44 aliases %v", a)
	}
	// Before 1.44 NetworkSettings also showed Bridge, HairpinMode and the like.
	if strings.Contains(rec.Body.String(), `"HairpinMode"`) {
		t.Errorf("1.44 network settings have 1.43's fields: %s", rec.Body)
	}
	rec = send(t, s, "GET", "/v1.43/containers/web/json", "", nil)
	for _, want := range []string{`"Bridge":""`, `"HairpinMode":false`, `"LinkLocalIPv6PrefixLen":0`, `"SecondaryIPAddresses":null`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("1.43 network settings lack %s: %s", want, rec.Body)
		}
	}

	rec = send(t, s, "GET", "/v1.50/containers/json", "", nil)
	if strings.Contains(rec.Body.String(), "healthy") || !strings.Contains(rec.Body.String(), `"Annotations":{"a":"b"}`) {
		t.Errorf("1.50 list has 1.52's health: %s", rec.Body)
	}
	rec = send(t, s, "GET", "/v1.45/containers/json", "", nil)
	if strings.Contains(rec.Body.String(), "Annotations") {
		t.Errorf("1.45 list has annotations: %s", rec.Body)
	}
}
