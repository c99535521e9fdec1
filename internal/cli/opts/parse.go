package opts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/docker/go-connections/nat"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
)

// ParseRestartPolicy reads --restart: no, always, unless-stopped or
// on-failure[:N]. As in docker, only its form is checked here; the daemon
// judges the policy's name and count.
func ParseRestartPolicy(s string) (container.RestartPolicy, error) {
	if s == "" {
		return container.RestartPolicy{}, nil
	}
	var p container.RestartPolicy
	name, count, ok := strings.Cut(s, ":")
	if ok && name == "" {
		return p, errors.New("invalid restart policy format: no policy provided before colon")
	}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return p, errors.New("invalid restart policy format: maximum retry count must be an integer")
		}
		p.MaximumRetryCount = n
	}
	p.Name = container.RestartPolicyMode(name)
	return p, nil
}

// ParseDevice reads --device HOST[:CONTAINER][:PERMISSIONS], the
// permissions a combination of r, w and m (default rwm).
func ParseDevice(s string) (container.DeviceMapping, error) {
	if strings.Count(s, ":") > 2 {
		return container.DeviceMapping{}, fmt.Errorf("bad format for path: %s", s)
	}
	parts := strings.Split(s, ":")
	if parts[0] == "" {
		return container.DeviceMapping{}, fmt.Errorf("bad format for path: %s", s)
	}
	d := container.DeviceMapping{PathOnHost: parts[0], CgroupPermissions: "rwm"}
	switch len(parts) {
	case 2:
		if validDeviceMode(parts[1]) {
			d.CgroupPermissions = parts[1]
		} else {
			d.PathInContainer = parts[1]
		}
	case 3:
		if !validDeviceMode(parts[2]) {
			return container.DeviceMapping{}, fmt.Errorf("bad mode specified: %s", parts[2])
		}
		d.PathInContainer, d.CgroupPermissions = parts[1], parts[2]
	}
	if d.PathInContainer == "" {
		d.PathInContainer = d.PathOnHost
	}
	if !path.IsAbs(d.PathInContainer) {
		return container.DeviceMapping{}, fmt.Errorf("%s is not an absolute path", d.PathInContainer)
	}
	return d, nil
}

// validDeviceMode reports whether mode is a non-empty set of r, w and m,
// each at most once.
func validDeviceMode(mode string) bool {
	if mode == "" {
		return false
	}
	seen := map[rune]bool{}
	for _, c := range mode {
		if c != 'r' && c != 'w' && c != 'm' || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

// ParseSecurityOpts checks --security-opt values (key=value or key:value,
// no-new-privileges alone) and replaces seccomp=FILE by the profile's
// compacted JSON, which is what the daemon expects. The option
// systempaths=unconfined is the client's business: it is dropped and
// reported as unmasked (empty, non-nil MaskedPaths and ReadonlyPaths).
func ParseSecurityOpts(in []string) (out []string, unmaskPaths bool, err error) {
	for _, opt := range in {
		if opt == "systempaths=unconfined" {
			unmaskPaths = true
			continue
		}
		k, v, ok := strings.Cut(opt, "=")
		if !ok && k != "no-new-privileges" {
			k, v, ok = strings.Cut(opt, ":")
		}
		if (!ok || v == "") && k != "no-new-privileges" {
			return nil, false, fmt.Errorf("Invalid --security-opt: %q", opt)
		}
		if k == "seccomp" && v != "builtin" && v != "unconfined" {
			f, err := os.ReadFile(v)
			if err != nil {
				return nil, false, fmt.Errorf("opening seccomp profile (%s) failed: %v", v, err)
			}
			var b bytes.Buffer
			if err := json.Compact(&b, f); err != nil {
				return nil, false, fmt.Errorf("compacting json for seccomp profile (%s) failed: %v", v, err)
			}
			opt = "seccomp=" + b.String()
		}
		out = append(out, opt)
	}
	return out, unmaskPaths, nil
}

// ParsePorts reads -p values ([ip:][hostPort:]containerPort[/proto], ranges
// allowed, or the long form published=8080,target=80,protocol=udp) and
// --expose values (port or range [/proto]) into the exposed ports and the
// bindings of the create request.
func ParsePorts(publish, expose []string) (network.PortSet, network.PortMap, error) {
	var specs []string
	for _, p := range publish {
		if !strings.Contains(p, "=") {
			specs = append(specs, p)
			continue
		}
		params := map[string]string{"protocol": "tcp"}
		for _, kv := range strings.Split(p, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, nil, fmt.Errorf("invalid publish opts format (should be name=value but got '%s')", kv)
			}
			params[k] = v
		}
		specs = append(specs, fmt.Sprintf("%s:%s/%s", params["published"], params["target"], params["protocol"]))
	}
	natPorts, natBindings, err := nat.ParsePortSpecs(specs)
	if err != nil {
		return nil, nil, err
	}
	ports := network.PortSet{}
	bindings := network.PortMap{}
	for p := range natPorts {
		np, err := network.ParsePort(string(p))
		if err != nil {
			return nil, nil, err
		}
		ports[np] = struct{}{}
	}
	for p, bs := range natBindings {
		np, err := network.ParsePort(string(p))
		if err != nil {
			return nil, nil, err
		}
		for _, b := range bs {
			var ip netip.Addr
			if b.HostIP != "" {
				if ip, err = netip.ParseAddr(b.HostIP); err != nil {
					return nil, nil, fmt.Errorf("invalid IP address: %s", b.HostIP)
				}
			}
			bindings[np] = append(bindings[np], network.PortBinding{HostIP: ip, HostPort: b.HostPort})
		}
	}
	for _, e := range expose {
		if strings.Contains(e, ":") {
			return nil, nil, fmt.Errorf("invalid port format for --expose: %s", e)
		}
		proto, port := nat.SplitProtoPort(e)
		start, end, err := nat.ParsePortRange(port)
		if err != nil {
			return nil, nil, fmt.Errorf("invalid range format for --expose: %s, error: %s", e, err)
		}
		for i := start; i <= end; i++ {
			np, err := network.ParsePort(strconv.FormatUint(i, 10) + "/" + proto)
			if err != nil {
				return nil, nil, err
			}
			ports[np] = struct{}{}
		}
	}
	return ports, bindings, nil
}
