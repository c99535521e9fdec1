package oci

import (
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Devices.
//
// Every container has the standard device nodes the runtime creates (null,
// zero, full, random, urandom, tty, console, ptmx and its pts) and the device
// cgroup allows only Docker's list below; berth-runtime appends, as runc does,
// the rules those standard nodes need. Then:
//
//	--device /dev/x[:/dev/y[:rwm]]   the host node (or every node under a host
//	                                 directory) created in the container, and
//	                                 allowed with those permissions
//	--device-cgroup-rule 'c 42:* rmw' one more allow rule
//	--privileged                     every host device, and every access allowed

// defaultDeviceRules are Docker's device cgroup rules: deny everything, allow
// the standard character devices, and deny /dev/fuse (10:229) explicitly.
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	rule := func(allow bool, major, minor int64) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: allow, Type: "c", Major: &major, Minor: &minor, Access: "rwm"}
	}
	return []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		rule(true, 1, 5),     // /dev/zero
		rule(true, 1, 3),     // /dev/null
		rule(true, 1, 9),     // /dev/urandom
		rule(true, 1, 8),     // /dev/random
		rule(true, 5, 0),     // /dev/tty
		rule(true, 5, 1),     // /dev/console
		rule(false, 10, 229), // /dev/fuse
	}
}

// parseDeviceCgroupRule reads a --device-cgroup-rule: "<a|b|c> <major|*>:<minor|*> <rwm>".
func parseDeviceCgroupRule(rule string) (specs.LinuxDeviceCgroup, error) {
	bad := invalid("invalid device cgroup rule format: '%s'", rule)
	f := strings.Split(rule, " ")
	if len(f) != 3 || (f[0] != "a" && f[0] != "b" && f[0] != "c") {
		return specs.LinuxDeviceCgroup{}, bad
	}
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok || !validAccess(f[2]) {
		return specs.LinuxDeviceCgroup{}, bad
	}
	num := func(s, what string) (*int64, error) {
		if s == "*" {
			n := int64(-1)
			return &n, nil
		}
		for _, c := range s {
			if c < '0' || c > '9' {
				return nil, bad
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || s == "" {
			return nil, invalid("invalid %s value in device cgroup rule format: '%s'", what, rule)
		}
		return &n, nil
	}
	major, err := num(maj, "major")
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	minor, err := num(min, "minor")
	if err != nil {
		return specs.LinuxDeviceCgroup{}, err
	}
	return specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Major: major, Minor: minor, Access: f[2]}, nil
}

// validAccess reports whether s is one to three of the letters r, w and m.
func validAccess(s string) bool {
	if len(s) < 1 || len(s) > 3 {
		return false
	}
	for _, c := range s {
		if c != 'r' && c != 'w' && c != 'm' {
			return false
		}
	}
	return true
}

// devices sets the spec's device nodes and device cgroup rules.
func (b *builder) devices(s *specs.Spec) error {
	rules := defaultDeviceRules()
	var devs []specs.LinuxDevice
	if b.hc.Privileged {
		host, err := hostDevices("/dev")
		if err != nil {
			return err
		}
		devs = host
		for _, d := range b.hc.Devices {
			if d.PathInContainer == "" || d.PathInContainer == d.PathOnHost {
				continue // already there, as every host device is
			}
			found, _, err := devicesFromPath(d.PathOnHost, d.PathInContainer, "rwm")
			if err != nil {
				return err
			}
			devs = append(devs, found...)
		}
		rules = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else {
		for _, d := range b.hc.Devices {
			perms := d.CgroupPermissions
			if perms == "" {
				perms = "rwm"
			}
			if !validAccess(perms) {
				return invalid("invalid device mode: %s", d.CgroupPermissions)
			}
			dst := d.PathInContainer
			if dst == "" {
				dst = d.PathOnHost
			}
			found, allow, err := devicesFromPath(d.PathOnHost, dst, perms)
			if err != nil {
				return err
			}
			devs = append(devs, found...)
			rules = append(rules, allow...)
		}
		for _, r := range b.hc.DeviceCgroupRules {
			rule, err := parseDeviceCgroupRule(r)
			if err != nil {
				return err
			}
			rules = append(rules, rule)
		}
	}
	s.Linux.Devices = devs
	s.Linux.Resources.Devices = rules
	return nil
}
