package oci

import (
	"slices"
	"strings"

	"github.com/berth-engine/berth/internal/runtime/caps"
)

// DefaultCapabilities are the capabilities of a container that adds and drops
// none: Docker's set, in Docker's order.
var DefaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// allCapabilities returns every capability the host kernel has and berthd
// itself may hand out (its bounding set: a sandbox may withhold some), in
// number order: what --privileged and --cap-add ALL grant.
func allCapabilities(h Host) []string {
	var out []string
	for i, name := range caps.Known() {
		if h.LastCap > 0 && i > h.LastCap {
			break
		}
		if h.Bounding != 0 && h.Bounding&(1<<uint(i)) == 0 {
			continue
		}
		out = append(out, name)
	}
	return out
}

// normalizeCaps upper-cases names and adds the CAP_ prefix ("net_admin" ->
// "CAP_NET_ADMIN"), keeping "ALL"; a name the kernel lacks is an error naming it.
func normalizeCaps(list []string, what string, h Host) ([]string, error) {
	all := allCapabilities(h)
	var out []string
	for _, c := range list {
		c = strings.ToUpper(c)
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		if !slices.Contains(all, c) {
			if slices.Contains(caps.Known(), c) {
				return nil, invalid("invalid %s: capability not supported by your kernel or not available in the current environment: %q", what, c)
			}
			return nil, invalid("invalid %s: unknown capability: %q", what, c)
		}
		out = append(out, c)
	}
	return out, nil
}

// capabilities computes a container's capability set as Docker does:
//
//	--privileged            every capability
//	--cap-add ALL           every capability but those dropped
//	--cap-drop ALL          only those added
//	otherwise               the defaults, less those dropped, plus those added
func capabilities(add, drop []string, privileged bool, h Host) ([]string, error) {
	if privileged {
		return allCapabilities(h), nil
	}
	drops, err := normalizeCaps(drop, "CapDrop", h)
	if err != nil {
		return nil, err
	}
	adds, err := normalizeCaps(add, "CapAdd", h)
	if err != nil {
		return nil, err
	}
	var out []string
	switch {
	case slices.Contains(adds, "ALL"):
		for _, c := range allCapabilities(h) {
			if !slices.Contains(drops, c) {
				out = append(out, c)
			}
		}
	case slices.Contains(drops, "ALL"):
		out = adds
	default:
		for _, c := range DefaultCapabilities {
			if !slices.Contains(drops, c) {
				out = append(out, c)
			}
		}
		out = append(out, adds...)
	}
	// A name added twice, or added while a default, is listed once.
	var uniq []string
	for _, c := range out {
		if c != "ALL" && !slices.Contains(uniq, c) {
			uniq = append(uniq, c)
		}
	}
	return uniq, nil
}
