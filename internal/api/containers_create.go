package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/daemon"
	"github.com/berth-engine/berth/internal/distribution/platform"
)

// endpointSysctlsOpt is the endpoint driver option that carries per-interface
// sysctls ("net.ipv6.conf.IFNAME.forwarding=1,...").
const endpointSysctlsOpt = "com.docker.network.endpoint.sysctls"

// createContainer answers POST /containers/create: 201 {"Id", "Warnings"}.
//
// The body is a CreateRequest: the Config with HostConfig and
// NetworkingConfig beside its fields. What the client left out gets Docker's
// defaults here, so the backend always receives all three: an empty
// HostConfig, no port bindings, NetworkMode "default" made "bridge" (with an
// endpoint configured under "default" moved to "bridge"). Then the request is
// read the way the client's API version meant it (createForVersion). The
// semantic checks (a valid name, image, mounts, resources) are the backend's.
func createContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var raw bytes.Buffer // the body again, for the fields the types no longer hold
	if r.Body != nil {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, &raw), r.Body}
	}
	var req container.CreateRequest
	present, err := readJSON(r, &req)
	if err != nil {
		return err
	}
	if !present {
		return errdefs.ErrInvalidArgument.WithMessage("invalid JSON: got EOF while reading request body")
	}
	if req.Config == nil {
		return errdefs.ErrInvalidArgument.WithMessage("config cannot be empty in order to create a container")
	}
	fillCreateDefaults(&req)

	opts := daemon.ContainerCreateOptions{
		Name:             strings.TrimPrefix(r.URL.Query().Get("name"), "/"),
		Config:           req.Config,
		HostConfig:       req.HostConfig,
		NetworkingConfig: req.NetworkingConfig,
	}
	if p := r.URL.Query().Get("platform"); p != "" && !versionBefore(ctx, "1.41") {
		pl, err := platform.Parse(p)
		if err != nil {
			return err
		}
		opts.Platform = &pl
	}
	warnings, err := createForVersion(ctx, &req, raw.Bytes())
	if err != nil {
		return err
	}

	resp, err := b.ContainerCreate(ctx, opts)
	if err != nil {
		return err
	}
	resp.Warnings = append(resp.Warnings, warnings...)
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	return writeJSON(w, http.StatusCreated, resp)
}

// fillCreateDefaults gives what the client left out of a create request its default.
func fillCreateDefaults(req *container.CreateRequest) {
	if req.Config.Volumes == nil {
		req.Config.Volumes = map[string]struct{}{}
	}
	if req.HostConfig == nil {
		req.HostConfig = &container.HostConfig{}
	}
	hc := req.HostConfig
	if hc.PortBindings == nil {
		hc.PortBindings = network.PortMap{}
	}
	if req.NetworkingConfig == nil {
		req.NetworkingConfig = &network.NetworkingConfig{}
	}
	eps := req.NetworkingConfig.EndpointsConfig
	if eps == nil {
		eps = map[string]*network.EndpointSettings{}
		req.NetworkingConfig.EndpointsConfig = eps
	}
	if hc.NetworkMode == "" || hc.NetworkMode.IsDefault() {
		hc.NetworkMode = network.NetworkBridge
		if ep, ok := eps[network.NetworkDefault]; ok {
			eps[network.NetworkBridge] = ep
			delete(eps, network.NetworkDefault)
		}
	}
	// An empty list of bindings for a port used to mean one binding to any
	// address and a free host port; Docker fills it in for such requests.
	for port, bindings := range hc.PortBindings {
		if len(bindings) == 0 {
			hc.PortBindings[port] = []network.PortBinding{{}}
		}
	}
	// 0 and every negative limit mean "unlimited", which is no limit at all.
	if hc.PidsLimit != nil && *hc.PidsLimit <= 0 {
		hc.PidsLimit = nil
	}
}

// createForVersion reads a create request as its API version meant it: fields
// added after that version are cleared, defaults that changed since are the
// old ones, and combinations a newer version forbids are refused. raw is the
// body, for the fields today's types no longer have. It returns warnings for
// the client.
func createForVersion(ctx context.Context, req *container.CreateRequest, raw []byte) ([]string, error) {
	cfg, hc, eps := req.Config, req.HostConfig, req.NetworkingConfig.EndpointsConfig
	before := func(v string) bool { return versionBefore(ctx, v) }

	if before("1.25") {
		hc.AutoRemove = false // the client removed the container itself
	}
	if before("1.40") {
		for _, m := range hc.Mounts {
			if m.BindOptions != nil {
				m.BindOptions.NonRecursive = false
			}
		}
		if hc.IpcMode.IsEmpty() {
			hc.IpcMode = container.IPCModeShareable
		}
	}
	if before("1.42") {
		for i := range hc.Mounts {
			m := &hc.Mounts[i]
			if m.BindOptions != nil {
				m.BindOptions.CreateMountpoint = false
			}
			// Not validated before 1.42: dropped rather than refused.
			if m.Type != mount.TypeVolume {
				m.VolumeOptions = nil
			}
			if m.Type != mount.TypeTmpfs {
				m.TmpfsOptions = nil
			}
		}
		hc.ConsoleSize = [2]uint{}
	} else {
		for _, m := range hc.Mounts {
			switch {
			case m.VolumeOptions != nil && m.Type != mount.TypeVolume:
				return nil, invalidf("VolumeOptions must not be specified on mount type %q", m.Type)
			case m.BindOptions != nil && m.Type != mount.TypeBind:
				return nil, invalidf("BindOptions must not be specified on mount type %q", m.Type)
			case m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs:
				return nil, invalidf("TmpfsOptions must not be specified on mount type %q", m.Type)
			}
		}
	}
	if before("1.43") {
		hc.Annotations = nil
	}
	if before("1.44") {
		if cfg.Healthcheck != nil {
			cfg.Healthcheck.StartInterval = 0
		}
		for i := range hc.Mounts {
			m := &hc.Mounts[i]
			if m.Type != mount.TypeBind {
				continue
			}
			if m.BindOptions != nil && m.BindOptions.ReadOnlyForceRecursive {
				return nil, invalidf("BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer")
			}
			// Read-only bind mounts were read-only at their top only.
			if m.ReadOnly {
				if m.BindOptions == nil {
					m.BindOptions = &mount.BindOptions{}
				}
				m.BindOptions.ReadOnlyNonRecursive = true
			}
		}
		if len(eps) > 1 {
			names := make([]string, 0, len(eps))
			for n := range eps {
				names = append(names, n)
			}
			slices.Sort(names)
			return nil, invalidf("Container cannot be created with multiple network endpoints: %s", strings.Join(names, ", "))
		}
	}
	if before("1.45") {
		for _, m := range hc.Mounts {
			if m.VolumeOptions != nil && m.VolumeOptions.Subpath != "" {
				return nil, invalidf("VolumeOptions.Subpath needs API v1.45 or newer")
			}
		}
	}
	if before("1.48") {
		for _, ep := range eps {
			if ep != nil {
				ep.GwPriority = 0
			}
		}
		for _, m := range hc.Mounts {
			if m.Type == mount.TypeImage {
				return nil, invalidf(`Mount type "Image" needs API v1.48 or newer`)
			}
		}
	}

	var warnings []string
	if w := volumeDriverWarning(ctx, hc); w != "" {
		warnings = append(warnings, w)
	}
	if before("1.52") {
		w, err := legacyCreateFields(ctx, req, raw)
		if err != nil {
			return nil, err
		}
		if w != "" {
			warnings = append(warnings, w)
		}
	}
	w, err := migrateInterfaceSysctls(ctx, req)
	if err != nil {
		return nil, err
	}
	if w != "" {
		warnings = append(warnings, w)
	}
	return warnings, nil
}

func invalidf(format string, args ...any) error {
	return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf(format, args...))
}

// volumeDriverWarning warns (API 1.48 on) that the container-wide volume
// driver does not apply to volumes given as --mount without a driver.
func volumeDriverWarning(ctx context.Context, hc *container.HostConfig) string {
	if hc.VolumeDriver == "" || versionBefore(ctx, "1.48") {
		return ""
	}
	for _, m := range hc.Mounts {
		if m.Type != mount.TypeVolume {
			continue
		}
		if m.VolumeOptions != nil && m.VolumeOptions.DriverConfig != nil && m.VolumeOptions.DriverConfig.Name != "" {
			continue
		}
		return "WARNING: the container-wide volume-driver configuration is ignored for volumes specified via 'mount'. Use '--mount type=volume,volume-driver=...' instead"
	}
	return ""
}

// legacyCreateFields handles the fields of a create body that the types no
// longer have: HostConfig.Capabilities (API 1.40 only, refused: it replaced
// the whole capability set) and the container-wide MacAddress (before 1.52),
// moved to the endpoint of the container's network.
func legacyCreateFields(ctx context.Context, req *container.CreateRequest, raw []byte) (string, error) {
	var legacy struct {
		MacAddress network.HardwareAddr `json:",omitempty"`
		HostConfig struct {
			Capabilities []string `json:",omitempty"`
		}
	}
	_ = json.Unmarshal(raw, &legacy) // best effort: the body was decoded once already
	if len(legacy.HostConfig.Capabilities) > 0 && compareVersions(requestVersion(ctx), "1.40") == 0 {
		return "", errdefs.ErrInvalidArgument.WithMessage("the HostConfig.Capabilities field is not supported by this daemon; use CapAdd and CapDrop to set capabilities")
	}

	hc, eps := req.HostConfig, req.NetworkingConfig.EndpointsConfig
	mac := legacy.MacAddress
	if versionBefore(ctx, "1.44") {
		if len(mac) == 0 {
			for _, ep := range eps {
				if ep != nil {
					ep.MacAddress = nil // the old API had no per-endpoint address
				}
			}
			return "", nil
		}
		if !hc.NetworkMode.IsBridge() && !hc.NetworkMode.IsUserDefined() {
			return "", errdefs.ErrInvalidArgument.WithMessage("conflicting options: mac-address and the network mode")
		}
		ep, err := endpointForNetworkMode(ctx, hc.NetworkMode, req.NetworkingConfig)
		if err != nil {
			return "", err
		}
		ep.MacAddress = mac
		return "", nil
	}
	if len(mac) == 0 {
		return "", nil
	}
	if hc.NetworkMode.IsBridge() || hc.NetworkMode.IsUserDefined() {
		ep, err := endpointForNetworkMode(ctx, hc.NetworkMode, req.NetworkingConfig)
		if err != nil {
			return "", fmt.Errorf("unable to migrate container-wide MAC address to a specific network: %w", err)
		}
		switch {
		case len(ep.MacAddress) == 0:
			ep.MacAddress = mac
		case !slices.Equal(ep.MacAddress, mac):
			return "", errdefs.ErrInvalidArgument.WithMessage("the container-wide MAC address must match the endpoint-specific MAC address for the main network, or be left empty")
		}
	}
	return "The container-wide MacAddress field is now deprecated. It should be specified in EndpointsConfig instead.", nil
}

// migrateInterfaceSysctls moves a top-level sysctl naming eth0
// ("net.ipv4.conf.eth0.forwarding") to the driver options of the endpoint of
// the container's network, where it can be applied once the interface
// exists. API 1.48 on refuses such sysctls instead; any other interface is
// refused always, its name being unpredictable.
func migrateInterfaceSysctls(ctx context.Context, req *container.CreateRequest) (string, error) {
	hc := req.HostConfig
	if !hc.NetworkMode.IsPrivate() {
		return "", nil
	}
	var keys []string
	for k := range hc.Sysctls {
		if p := strings.SplitN(k, ".", 5); len(p) == 5 && p[0] == "net" && strings.HasPrefix(p[3], "eth") {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return "", nil
	}
	slices.Sort(keys)
	var moved []string
	var ep *network.EndpointSettings
	for _, k := range keys {
		if !versionBefore(ctx, "1.48") {
			return "", invalidf("interface specific sysctl setting %q must be supplied using driver option '%s'", k, endpointSysctlsOpt)
		}
		p := strings.SplitN(k, ".", 5)
		if p[3] != "eth0" {
			return "", invalidf("unable to determine network endpoint for sysctl %s, use driver option '%s' to set per-interface sysctls", k, endpointSysctlsOpt)
		}
		if ep == nil {
			var err error
			if ep, err = endpointForNetworkMode(ctx, hc.NetworkMode, req.NetworkingConfig); err != nil {
				return "", fmt.Errorf("unable to find a network for sysctl %s: %w", k, err)
			}
		}
		moved = append(moved, fmt.Sprintf("net.%s.%s.IFNAME.%s=%s", p[1], p[2], p[4], hc.Sysctls[k]))
	}
	opt := strings.Join(moved, ",")
	warning := fmt.Sprintf("Migrated sysctl %q to DriverOpts{%q:%q}.", strings.Join(keys, ","), endpointSysctlsOpt, opt)
	if ep.DriverOpts == nil {
		ep.DriverOpts = map[string]string{}
	}
	if old, ok := ep.DriverOpts[endpointSysctlsOpt]; ok {
		opt += "," + old // the endpoint's own settings come last, and win
	}
	ep.DriverOpts[endpointSysctlsOpt] = opt
	for _, k := range keys {
		delete(hc.Sysctls, k)
	}
	return warning, nil
}

// endpointForNetworkMode finds the endpoint settings of the network the
// container's NetworkMode names, creating them when there are none at all.
// With several endpoints, one keyed by another spelling of the network (ID or
// short ID) cannot be told apart from a second network, so that is refused.
func endpointForNetworkMode(ctx context.Context, mode container.NetworkMode, nc *network.NetworkingConfig) (*network.EndpointSettings, error) {
	name := mode.NetworkName()
	if len(nc.EndpointsConfig) == 0 {
		ep := &network.EndpointSettings{}
		nc.EndpointsConfig = map[string]*network.EndpointSettings{name: ep}
		return ep, nil
	}
	if versionBefore(ctx, "1.44") {
		for key, ep := range nc.EndpointsConfig { // there is only one before 1.44
			if ep == nil {
				ep = &network.EndpointSettings{}
				nc.EndpointsConfig[key] = ep
			}
			return ep, nil
		}
	}
	ep, ok := nc.EndpointsConfig[name]
	if !ok {
		return nil, errdefs.ErrInvalidArgument.WithMessage("HostConfig.NetworkMode must match the identity of a network in NetworkSettings.Networks")
	}
	if ep == nil {
		ep = &network.EndpointSettings{}
		nc.EndpointsConfig[name] = ep
	}
	return ep, nil
}
