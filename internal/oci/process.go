package oci

import (
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultPathEnv is the PATH of a container whose image sets none.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// process returns the container's process: the program, its environment,
// user, working directory, terminal, limits and privileges.
func (b *builder) process() (*specs.Process, error) {
	cfg, hc := b.cfg, b.hc
	p := &specs.Process{
		Terminal:        cfg.Tty,
		Args:            args(cfg),
		Cwd:             cfg.WorkingDir,
		NoNewPrivileges: b.sec.noNewPrivileges,
		OOMScoreAdj:     ptr(hc.OomScoreAdj),
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if b.initPath != "" {
		p.Args = append([]string{InitPath, "--"}, p.Args...)
	}
	if cfg.Tty && (hc.ConsoleSize[0] > 0 || hc.ConsoleSize[1] > 0) {
		p.ConsoleSize = &specs.Box{Height: hc.ConsoleSize[0], Width: hc.ConsoleSize[1]}
	}

	user, home, err := resolveUser(b.in.Rootfs, cfg.User, hc.GroupAdd)
	if err != nil {
		return nil, err
	}
	user.Umask = hc.Umask
	p.User = user

	p.Env = environment(cfg, home)

	rlimits, err := rlimits(hc.Ulimits, b.in.Defaults.Ulimits)
	if err != nil {
		return nil, err
	}
	p.Rlimits = rlimits

	p.Capabilities = &specs.LinuxCapabilities{
		Bounding:  slices.Clone(b.caps),
		Effective: slices.Clone(b.caps),
		Permitted: slices.Clone(b.caps),
	}
	return p, nil
}

// environment returns the process's environment as Docker builds it: PATH,
// HOSTNAME and (with a terminal) TERM=xterm, each replaced by the container's
// own variable of that name, then the container's others in order; a variable
// given without "=" removes the name. HOME follows, from /etc/passwd, unless
// set, as runc adds it.
func environment(cfg *container.Config, home string) []string {
	env := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + cfg.Hostname}
	if cfg.Tty {
		env = append(env, "TERM=xterm")
	}
	index := map[string]int{}
	for i, e := range env {
		k, _, _ := strings.Cut(e, "=")
		index[k] = i
	}
	removed := map[int]bool{}
	for _, e := range cfg.Env {
		k, _, hasValue := strings.Cut(e, "=")
		i, known := index[k]
		switch {
		case !hasValue && known:
			removed[i] = true
		case !hasValue:
		case known:
			env[i] = e
			delete(removed, i)
		default:
			index[k] = len(env)
			env = append(env, e)
		}
	}
	var out []string
	hasHome := false
	for i, e := range env {
		if removed[i] {
			continue
		}
		out = append(out, e)
		hasHome = hasHome || strings.HasPrefix(e, "HOME=")
	}
	if !hasHome {
		if home == "" {
			home = "/"
		}
		out = append(out, "HOME="+home)
	}
	return out
}

// rlimits returns the container's --ulimit values, then each daemon default
// the container does not set.
func rlimits(own, daemon []*container.Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	seen := map[string]bool{}
	for _, list := range [][]*container.Ulimit{own, daemon} {
		for _, u := range list {
			if u == nil || seen[u.Name] {
				continue
			}
			seen[u.Name] = true
			if err := checkUlimit(u); err != nil {
				return nil, err
			}
			out = append(out, specs.POSIXRlimit{
				Type: "RLIMIT_" + strings.ToUpper(u.Name),
				Soft: uint64(u.Soft),
				Hard: uint64(u.Hard),
			})
		}
	}
	return out, nil
}

// checkUlimit refuses an unknown name or a soft limit above the hard one (-1
// is unlimited).
func checkUlimit(u *container.Ulimit) error {
	if _, err := u.GetRlimit(); err != nil {
		return invalid("invalid ulimit type: %s", u.Name)
	}
	switch {
	case u.Hard == -1:
	case u.Soft == -1:
		return invalid("ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: %d", u.Hard)
	case u.Soft > u.Hard:
		return invalid("ulimit soft limit must be less than or equal to hard limit: %d > %d", u.Soft, u.Hard)
	}
	return nil
}
