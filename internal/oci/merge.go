package oci

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MergeImage fills the options a user left unset from the image's defaults,
// in place, as Docker does when it creates a container (the merged Config is
// what `inspect` shows):
//
//   - User, WorkingDir, StopSignal: the image's when unset.
//   - Env: the user's variables, then each image variable the user did not set.
//   - Labels, Volumes, ExposedPorts: the union, the user's values winning.
//   - Entrypoint and Cmd: a user's Entrypoint resets the image's Cmd; without
//     one, the user's Cmd (or else the image's) follows the image's Entrypoint.
//     An Entrypoint of [""] (`--entrypoint ""`) means none at all.
//
// It fails, as Docker does, when no command is left to run.
func MergeImage(cfg *container.Config, img *ocispec.ImageConfig) error {
	if img != nil {
		if cfg.User == "" {
			cfg.User = img.User
		}
		if cfg.WorkingDir == "" {
			cfg.WorkingDir = img.WorkingDir
		}
		if cfg.StopSignal == "" {
			cfg.StopSignal = img.StopSignal
		}
		cfg.Env = mergeEnv(cfg.Env, img.Env)
		if len(img.Labels) > 0 {
			labels := maps.Clone(img.Labels)
			maps.Copy(labels, cfg.Labels)
			cfg.Labels = labels
		}
		if len(img.Volumes) > 0 {
			vols := maps.Clone(img.Volumes)
			maps.Copy(vols, cfg.Volumes)
			cfg.Volumes = vols
		}
		if len(img.ExposedPorts) > 0 {
			ports := network.PortSet{}
			for p := range img.ExposedPorts {
				port, err := network.ParsePort(p)
				if err != nil {
					return fmt.Errorf("image exposes port %q: %w", p, err)
				}
				ports[port] = struct{}{}
			}
			maps.Copy(ports, cfg.ExposedPorts)
			cfg.ExposedPorts = ports
		}
		if len(cfg.Entrypoint) == 0 {
			if len(cfg.Cmd) == 0 {
				cfg.Cmd = slices.Clone(img.Cmd)
			}
			if cfg.Entrypoint == nil {
				cfg.Entrypoint = slices.Clone(img.Entrypoint)
			}
		}
	}
	if len(cfg.Entrypoint) == 1 && cfg.Entrypoint[0] == "" {
		cfg.Entrypoint = nil
	}
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		return invalid("no command specified")
	}
	return nil
}

// mergeEnv returns the user's variables followed by each image variable whose
// name the user did not set.
func mergeEnv(user, image []string) []string {
	out := slices.Clone(user)
	set := map[string]bool{}
	for _, e := range user {
		k, _, _ := strings.Cut(e, "=")
		set[k] = true
	}
	for _, e := range image {
		if k, _, _ := strings.Cut(e, "="); !set[k] {
			out = append(out, e)
		}
	}
	return out
}

// args returns the program and its arguments: the entrypoint followed by the
// command, or the command alone.
func args(cfg *container.Config) []string {
	if len(cfg.Entrypoint) == 0 {
		return slices.Clone(cfg.Cmd)
	}
	return append(slices.Clone(cfg.Entrypoint), cfg.Cmd...)
}
