package oci

import (
	"strconv"
	"strings"
)

// Seccomp profile names in --security-opt seccomp=<value> and
// Defaults.SeccompProfile. Any other value is a profile: its JSON, as the
// docker CLI sends it after reading the file, or a path to read.
const (
	SeccompUnconfined = "unconfined"
	SeccompBuiltin    = "builtin"
)

// securityOpts are the parsed --security-opt values of one container.
type securityOpts struct {
	noNewPrivileges bool
	seccomp         string   // "" (the daemon's), SeccompUnconfined, SeccompBuiltin, JSON or a path
	apparmor        string   // profile name
	labels          []string // label=... values, and "disable"
	writableCgroups *bool
}

// parseSecurityOpts reads HostConfig.SecurityOpt as Docker does: bare
// "no-new-privileges", "writable-cgroups" and "disable", or key=value (key:value
// is still accepted) for label, apparmor, seccomp, no-new-privileges and
// writable-cgroups. nnp is the daemon's no-new-privileges default.
func parseSecurityOpts(opts []string, nnp bool) (securityOpts, error) {
	s := securityOpts{noNewPrivileges: nnp}
	for _, opt := range opts {
		switch opt {
		case "no-new-privileges":
			s.noNewPrivileges = true
			continue
		case "writable-cgroups":
			t := true
			s.writableCgroups = &t
			continue
		case "disable":
			s.labels = append(s.labels, "disable")
			continue
		}
		sep := "="
		if !strings.Contains(opt, "=") {
			sep = ":"
		}
		k, v, ok := strings.Cut(opt, sep)
		if !ok {
			return s, invalid("invalid --security-opt 1: %q", opt)
		}
		switch k {
		case "label":
			s.labels = append(s.labels, v)
		case "apparmor":
			s.apparmor = v
		case "seccomp":
			s.seccomp = v
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, invalid("invalid --security-opt 2: %q", opt)
			}
			s.noNewPrivileges = b
		case "writable-cgroups":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s, invalid("invalid --security-opt 2: %q", opt)
			}
			s.writableCgroups = &b
		default:
			return s, invalid("invalid --security-opt 2: %q", opt)
		}
	}
	return s, nil
}

// checkLSM refuses an AppArmor profile or SELinux label berth cannot apply.
// Docker ignores them silently where the module is missing; berth says so,
// since a user asking for confinement should not get less without knowing.
// "apparmor=unconfined" and "label=disable" ask for nothing and pass.
func checkLSM(s securityOpts, h Host) error {
	if p := s.apparmor; p != "" && p != "unconfined" {
		if !h.AppArmor {
			return invalid("AppArmor is not available on this host: cannot apply profile %q (--security-opt apparmor=%s)", p, p)
		}
		return invalid("berth does not apply AppArmor profiles yet: cannot apply profile %q (--security-opt apparmor=%s)", p, p)
	}
	for _, l := range s.labels {
		if l == "disable" || l == "" {
			continue
		}
		if !h.SELinux {
			return invalid("SELinux is not available on this host: cannot apply label %q (--security-opt label=%s)", l, l)
		}
		return invalid("berth does not apply SELinux labels yet: cannot apply label %q (--security-opt label=%s)", l, l)
	}
	return nil
}
