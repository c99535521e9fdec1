package oci

import (
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Namespaces.
//
// A container gets new mount, network, uts, pid, ipc and cgroup namespaces
// unless an option shares one:
//
//	--network host | container:<id>   none (the host's) | Join.Network
//	--network none, bridge, <name>    a new one, or Join.Network (the network
//	                                  driver's, already configured)
//	--uts host                        none, and no host name is set
//	--pid host | container:<id>       none | Join.PID
//	--ipc host | container:<id>       none | Join.IPC; private, shareable and
//	                                  none each get a new one
//	--cgroupns host | private         none | a new one (private is the default,
//	                                  on cgroup v1 too)
//	--userns host                     no user namespace even when the daemon
//	                                  remaps (Defaults.UsernsRemap)
//
// To share a namespace of a container in a remapped user namespace, one must
// also be in its user namespace: Join.User.

// namespaces returns the spec's namespaces, in Docker's order.
func (b *builder) namespaces() ([]specs.LinuxNamespace, error) {
	hc := b.hc
	var ns []specs.LinuxNamespace
	add := func(t specs.LinuxNamespaceType, path string) {
		ns = append(ns, specs.LinuxNamespace{Type: t, Path: path})
	}
	add(specs.MountNamespace, "")

	joinsUser := false
	if !b.cfg.NetworkDisabled {
		switch nm := hc.NetworkMode; {
		case nm.IsHost():
		case nm.IsContainer():
			if b.in.Join.Network == "" {
				return nil, invalid("network mode %s: no network namespace to join", nm)
			}
			add(specs.NetworkNamespace, b.in.Join.Network)
			joinsUser = true
		default:
			add(specs.NetworkNamespace, b.in.Join.Network)
		}
	} else {
		add(specs.NetworkNamespace, "")
	}

	if !hc.UTSMode.Valid() {
		return nil, invalid("invalid UTS mode: %v", hc.UTSMode)
	}
	if !hc.UTSMode.IsHost() {
		add(specs.UTSNamespace, "")
	}

	switch pm := hc.PidMode; {
	case !pm.Valid():
		return nil, invalid("invalid PID mode: %v", pm)
	case pm.IsHost():
	case pm.IsContainer():
		if b.in.Join.PID == "" {
			return nil, invalid("PID mode %s: no PID namespace to join", pm)
		}
		add(specs.PIDNamespace, b.in.Join.PID)
		joinsUser = true
	default:
		add(specs.PIDNamespace, "")
	}

	switch im := hc.IpcMode; {
	case !im.Valid():
		return nil, invalid("invalid IPC mode: %v", im)
	case im.IsHost():
	case im.IsContainer():
		if b.in.Join.IPC == "" {
			return nil, invalid("IPC mode %s: no IPC namespace to join", im)
		}
		add(specs.IPCNamespace, b.in.Join.IPC)
		joinsUser = true
	default:
		add(specs.IPCNamespace, "")
	}

	switch cm := hc.CgroupnsMode; {
	case !cm.Valid():
		return nil, invalid("invalid cgroup namespace mode: %v", cm)
	case cm.IsHost():
	default:
		add(specs.CgroupNamespace, "")
	}

	if b.userns() {
		path := ""
		if joinsUser {
			path = b.in.Join.User
		}
		add(specs.UserNamespace, path)
	}
	return ns, nil
}

// userns reports whether the container runs in a remapped user namespace.
func (b *builder) userns() bool {
	return b.in.Defaults.UsernsRemap != nil && !b.hc.UsernsMode.IsHost()
}

// hasNamespace reports whether ns has a namespace of type t (new or joined).
func hasNamespace(ns []specs.LinuxNamespace, t specs.LinuxNamespaceType) bool {
	for _, n := range ns {
		if n.Type == t {
			return true
		}
	}
	return false
}

// privateNetwork reports whether the container has a network stack of its own
// (Docker's NetworkMode.IsPrivate: not the host's, not another container's).
func privateNetwork(cfg *container.Config, hc *container.HostConfig) bool {
	return cfg.NetworkDisabled || hc.NetworkMode.IsPrivate()
}
