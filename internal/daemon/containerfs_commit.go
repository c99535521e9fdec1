package daemon

import (
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/image/change"
)

// commitConfig is the configuration docker commit gives the new image: the
// request's Config (the container's own when there is none), edited by the
// --change instructions as a Dockerfile would, then completed from the
// container's configuration where it says nothing (Docker's merge: user,
// working directory and stop signal when unset; environment variables,
// labels, ports and volumes added; the container's command and entrypoint
// when the result has neither).
func commitConfig(s *ctr.Container, opts CommitOptions) (ocispec.ImageConfig, error) {
	base := opts.Config
	if base == nil {
		base = s.Config
	}
	cfg := imageConfig(base)
	cmdSet := false
	for _, c := range opts.Changes {
		if err := change.Apply(&cfg, []string{c}); err != nil {
			return ocispec.ImageConfig{}, err
		}
		switch kw, _, _ := strings.Cut(strings.TrimSpace(c), " "); strings.ToUpper(kw) {
		case "CMD":
			cmdSet = true
		case "ENTRYPOINT":
			if !cmdSet {
				// As in a Dockerfile: a new entrypoint drops the command it
				// inherited.
				cfg.Cmd = nil
			}
		}
	}
	mergeCommitConfig(&cfg, imageConfig(s.Config))
	return cfg, nil
}

// imageConfig is the part of a container's configuration an image keeps.
func imageConfig(c *container.Config) ocispec.ImageConfig {
	if c == nil {
		return ocispec.ImageConfig{}
	}
	ic := ocispec.ImageConfig{
		User:        c.User,
		Env:         slices.Clone(c.Env),
		Entrypoint:  slices.Clone(c.Entrypoint),
		Cmd:         slices.Clone(c.Cmd),
		Volumes:     maps.Clone(c.Volumes),
		WorkingDir:  c.WorkingDir,
		Labels:      maps.Clone(c.Labels),
		StopSignal:  c.StopSignal,
		ArgsEscaped: c.ArgsEscaped, //nolint:staticcheck // kept as Docker keeps it
	}
	if len(c.ExposedPorts) > 0 {
		ic.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			ic.ExposedPorts[p.String()] = struct{}{}
		}
	}
	return ic
}

// mergeCommitConfig completes cfg from the container's configuration ctrCfg
// where cfg leaves things unset, as Docker's commit does.
func mergeCommitConfig(cfg *ocispec.ImageConfig, ctrCfg ocispec.ImageConfig) {
	if cfg.User == "" {
		cfg.User = ctrCfg.User
	}
	if len(cfg.ExposedPorts) == 0 {
		cfg.ExposedPorts = ctrCfg.ExposedPorts
	} else {
		for p := range ctrCfg.ExposedPorts {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	if len(cfg.Env) == 0 {
		cfg.Env = ctrCfg.Env
	} else {
		set := map[string]bool{}
		for _, e := range cfg.Env {
			k, _, _ := strings.Cut(e, "=")
			set[k] = true
		}
		for _, e := range ctrCfg.Env {
			if k, _, _ := strings.Cut(e, "="); !set[k] {
				cfg.Env = append(cfg.Env, e)
			}
		}
	}
	for k, v := range ctrCfg.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		if _, ok := cfg.Labels[k]; !ok {
			cfg.Labels[k] = v
		}
	}
	if len(cfg.Entrypoint) == 0 {
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = ctrCfg.Cmd
			cfg.ArgsEscaped = ctrCfg.ArgsEscaped //nolint:staticcheck // kept as Docker keeps it
		}
		if cfg.Entrypoint == nil {
			cfg.Entrypoint = ctrCfg.Entrypoint
		}
	}
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = ctrCfg.WorkingDir
	}
	if len(cfg.Volumes) == 0 {
		cfg.Volumes = ctrCfg.Volumes
	} else {
		maps.Copy(cfg.Volumes, ctrCfg.Volumes)
	}
	if cfg.StopSignal == "" {
		cfg.StopSignal = ctrCfg.StopSignal
	}
}
