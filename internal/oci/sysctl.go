package oci

import (
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
)

// Sysctls.
//
// --sysctl sets only namespaced kernel parameters, each in a namespace of the
// container's own:
//
//	net.*                                    not with --network host
//	kernel.msgmax, msgmnb, msgmni, sem,      not with --ipc host
//	shmall, shmmax, shmmni, shm_rmid_forced,
//	fs.mqueue.*
//	kernel.domainname                        sets the domain name, as -–domainname
//	                                         does; not with --uts host
//
// A container with a network stack of its own also gets Docker's two
// defaults, which the default capabilities allow anyway: ping without
// CAP_NET_RAW (net.ipv4.ping_group_range "0 2147483647", except in a remapped
// user namespace) and binding ports below 1024 without CAP_NET_BIND_SERVICE
// (net.ipv4.ip_unprivileged_port_start "0"). --sysctl overrides them.

// ipcSysctls are the sysctls of the IPC namespace besides fs.mqueue.*.
var ipcSysctls = []string{
	"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
	"kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}

// checkSysctls refuses a sysctl that is not namespaced, or whose namespace
// the container shares with the host.
func checkSysctls(cfg *container.Config, hc *container.HostConfig) error {
	for _, k := range slices.Sorted(maps.Keys(hc.Sysctls)) {
		switch {
		case strings.HasPrefix(k, "net."):
			if hc.NetworkMode.IsHost() && !cfg.NetworkDisabled {
				return invalid("sysctl %q not allowed in host network namespace", k)
			}
		case slices.Contains(ipcSysctls, k) || strings.HasPrefix(k, "fs.mqueue."):
			if hc.IpcMode.IsHost() {
				return invalid("sysctl %q not allowed in host IPC namespace", k)
			}
		case k == "kernel.domainname":
			if hc.UTSMode.IsHost() {
				return invalid("sysctl %q not allowed in host UTS namespace", k)
			}
		default:
			return invalid("sysctl '%s=%s' is not allowed", k, hc.Sysctls[k])
		}
	}
	if cfg.Domainname != "" && hc.UTSMode.IsHost() {
		return invalid("domain name %q needs a UTS namespace of the container's own, not --uts host", cfg.Domainname)
	}
	return nil
}

// sysctls returns the spec's sysctls and domain name.
func (b *builder) sysctls() (map[string]string, string) {
	out := map[string]string{}
	if privateNetwork(b.cfg, b.hc) {
		if !b.userns() {
			out["net.ipv4.ping_group_range"] = "0 2147483647"
		}
		if b.in.Host.Kernel.AtLeast(KernelVersion{4, 11}) {
			out["net.ipv4.ip_unprivileged_port_start"] = "0"
		}
	}
	domain := b.cfg.Domainname
	for k, v := range b.hc.Sysctls {
		if k == "kernel.domainname" {
			domain = v
			continue
		}
		out[k] = v
	}
	return out, domain
}
