package oci

import (
	"errors"
	"maps"
	"slices"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// builder holds one container's options, normalized, while Spec turns them
// into the parts of a runtime spec.
type builder struct {
	in       Input
	cfg      *container.Config     // a copy: merged, adapted
	hc       *container.HostConfig // a copy: adapted, validated
	sec      securityOpts
	caps     []string // the capability set
	initPath string   // host path of --init's program, or ""
}

// Spec returns the runtime spec of the container that in describes. It takes
// Docker's defaults for everything in.Config and in.HostConfig leave unset
// (Adapt), checks the options as Docker does (Validate), and fails with
// Docker's message, of class errdefs.ErrInvalidArgument, on a bad one.
// in is not modified; the result is the caller's.
func Spec(in Input) (*specs.Spec, error) {
	if in.Config == nil || in.HostConfig == nil {
		return nil, errors.New("oci.Spec: Config and HostConfig are required")
	}
	cfg, hc := *in.Config, *in.HostConfig
	cfg.Env, cfg.Cmd, cfg.Entrypoint = slices.Clone(cfg.Env), slices.Clone(cfg.Cmd), slices.Clone(cfg.Entrypoint)
	if err := MergeImage(&cfg, in.Image); err != nil {
		return nil, err
	}
	Adapt(in.ID, &cfg, &hc, in.Defaults, in.Host)
	if _, err := Validate(&cfg, &hc, in.Defaults, in.Host); err != nil {
		return nil, err
	}
	b := &builder{in: in, cfg: &cfg, hc: &hc}

	var err error
	if b.sec, err = parseSecurityOpts(hc.SecurityOpt, in.Defaults.NoNewPrivileges); err != nil {
		return nil, err
	}
	if b.caps, err = capabilities(hc.CapAdd, hc.CapDrop, hc.Privileged, in.Host); err != nil {
		return nil, err
	}
	if hc.PidMode.IsPrivate() && ((hc.Init != nil && *hc.Init) || (hc.Init == nil && in.Defaults.Init)) {
		if in.Defaults.InitPath == "" {
			return nil, invalid("--init: the daemon has no init program configured (init-path)")
		}
		b.initPath = in.Defaults.InitPath
	}

	s := &specs.Spec{
		Version:     specs.Version,
		Hostname:    cfg.Hostname,
		Annotations: maps.Clone(hc.Annotations),
		Linux: &specs.Linux{
			Resources:   &specs.LinuxResources{},
			CgroupsPath: b.cgroupsPath(),
		},
	}
	if s.Process, err = b.process(); err != nil {
		return nil, err
	}
	if s.Linux.Namespaces, err = b.namespaces(); err != nil {
		return nil, err
	}
	if !hasNamespace(s.Linux.Namespaces, specs.UTSNamespace) {
		s.Hostname = ""
	}
	if b.userns() {
		s.Linux.UIDMappings = slices.Clone(in.Defaults.UsernsRemap.UIDs)
		s.Linux.GIDMappings = slices.Clone(in.Defaults.UsernsRemap.GIDs)
	}
	if err := b.mounts(s); err != nil {
		return nil, err
	}
	if err := b.devices(s); err != nil {
		return nil, err
	}
	if err := b.resources(s); err != nil {
		return nil, err
	}
	s.Linux.Sysctl, s.Domainname = b.sysctls()
	s.Linux.Seccomp, err = seccompFor(b.sec.seccomp, in.Defaults.SeccompProfile, hc.Privileged, SeccompTarget{
		Arch: in.Host.Arch, Caps: b.caps, Kernel: in.Host.Kernel,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
