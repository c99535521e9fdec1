package oci

import (
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecProcess is the process `docker exec` runs: the container's own process
// (environment, user, capabilities, limits, no_new_privs) with what the exec
// asks for changed: its command, extra environment (later wins), user
// (resolved in the container's /etc/passwd under rootfs), working directory,
// terminal and console size, and all capabilities when privileged.
func ExecProcess(base *specs.Process, rootfs string, req container.ExecCreateRequest, h Host) (*specs.Process, error) {
	if len(req.Cmd) == 0 {
		return nil, invalid("No exec command specified")
	}
	p := *base
	p.Args = slices.Clone(req.Cmd)
	p.Terminal = req.Tty
	p.ConsoleSize = nil
	if req.Tty && req.ConsoleSize != nil {
		p.ConsoleSize = &specs.Box{Height: req.ConsoleSize[0], Width: req.ConsoleSize[1]}
	}
	env := slices.Clone(base.Env)
	for _, kv := range req.Env {
		k, _, _ := strings.Cut(kv, "=")
		env = slices.DeleteFunc(env, func(e string) bool { n, _, _ := strings.Cut(e, "="); return n == k })
		env = append(env, kv)
	}
	p.Env = env
	if req.WorkingDir != "" {
		p.Cwd = req.WorkingDir
	}
	if req.User != "" {
		u, _, err := resolveUser(rootfs, req.User, nil)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	if req.Privileged {
		caps := allCapabilities(h)
		p.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	}
	return &p, nil
}
