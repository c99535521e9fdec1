package api

import (
	"context"
	"net/http"
	"net/netip"
	"slices"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"
)

// The container answers as the client's API version shaped them. The types
// are today's; what older versions show differently is put back here.

func inspectContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	info, err := b.ContainerInspect(r.Context(), r.PathValue("name"), boolValue(r, "size"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, inspectForVersion(r.Context(), info))
}

// inspectV151 is a container's inspect answer up to API 1.51: NetworkSettings
// also holds the default bridge endpoint's addresses at its top level (the
// field of the outer struct hides the embedded one when encoded).
type inspectV151 struct {
	*container.InspectResponse
	NetworkSettings *networkSettingsV151
}

type networkSettingsV151 struct {
	*container.NetworkSettings
	EndpointID          string
	Gateway             netip.Addr
	GlobalIPv6Address   netip.Addr
	GlobalIPv6PrefixLen int
	IPAddress           netip.Addr
	IPPrefixLen         int
	IPv6Gateway         netip.Addr
	MacAddress          network.HardwareAddr
	*networkSettingsV143
}

// networkSettingsV143 are the fields NetworkSettings also showed before API
// 1.44, always empty in berth as in Docker's later versions.
type networkSettingsV143 struct {
	Bridge                 string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []struct {
		Addr      string
		PrefixLen int
	}
	SecondaryIPv6Addresses []struct {
		Addr      string
		PrefixLen int
	}
}

// inspectForVersion returns what to encode for the request's API version.
func inspectForVersion(ctx context.Context, info *container.InspectResponse) any {
	if info.Config == nil {
		info.Config = &container.Config{}
	}
	if versionBefore(ctx, "1.45") && info.NetworkSettings != nil {
		// Older clients expect the short ID and the hostname among the
		// aliases on user-defined networks.
		short := info.ID
		if len(short) > 12 {
			short = short[:12]
		}
		for name, ep := range info.NetworkSettings.Networks {
			if ep == nil || !container.NetworkMode(name).IsUserDefined() {
				continue
			}
			for _, a := range []string{short, info.Config.Hostname} {
				if a != "" && !slices.Contains(ep.Aliases, a) {
					ep.Aliases = append(ep.Aliases, a)
				}
			}
		}
	}
	if versionBefore(ctx, "1.48") {
		info.ImageManifestDescriptor = nil
	}
	if !versionBefore(ctx, "1.52") {
		return info
	}
	if info.GraphDriver == nil && info.Storage != nil && info.Storage.RootFS != nil && info.Storage.RootFS.Snapshot != nil {
		info.GraphDriver = &storage.DriverData{Name: info.Storage.RootFS.Snapshot.Name}
		info.Storage = nil
	}
	out := inspectV151{InspectResponse: info}
	if ns := info.NetworkSettings; ns != nil {
		out.NetworkSettings = &networkSettingsV151{NetworkSettings: ns}
		if versionBefore(ctx, "1.44") {
			out.NetworkSettings.networkSettingsV143 = &networkSettingsV143{}
		}
		if ep := ns.Networks[network.NetworkBridge]; ep != nil {
			s := out.NetworkSettings
			s.EndpointID, s.Gateway, s.IPAddress, s.IPPrefixLen = ep.EndpointID, ep.Gateway, ep.IPAddress, ep.IPPrefixLen
			s.GlobalIPv6Address, s.GlobalIPv6PrefixLen, s.IPv6Gateway = ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen, ep.IPv6Gateway
			s.MacAddress = ep.MacAddress
		}
	}
	return out
}

// summaryForVersion clears, in a container list entry, the fields added after
// the request's API version.
func summaryForVersion(ctx context.Context, s *container.Summary) {
	if versionBefore(ctx, "1.46") {
		s.HostConfig.Annotations = nil
	}
	if versionBefore(ctx, "1.48") {
		s.ImageManifestDescriptor = nil
	}
	if versionBefore(ctx, "1.52") {
		s.Health = nil
	}
}
