package runtimecli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/berth-engine/berth/internal/runtime/caps"
	"github.com/berth-engine/berth/internal/runtime/rootfs"
	"github.com/berth-engine/berth/internal/runtime/seccomp"
	"github.com/berth-engine/berth/internal/runtime/specdefault"
)

// cmdSpec writes a starting config.json into the bundle, refusing to overwrite one.
func cmdSpec(g *globals, args []string) error {
	fs := flag.NewFlagSet("spec", flag.ContinueOnError)
	bundle := fs.String("bundle", "", "directory to write config.json in")
	fs.StringVar(bundle, "b", "", "directory to write config.json in")
	rootless := fs.Bool("rootless", false, "a spec for a rootless container")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	path := filepath.Join(*bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("spec: %s exists: remove it first", path)
	}
	spec := specdefault.Default()
	if *rootless {
		specdefault.Rootless(spec)
	}
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("spec: %s exists: remove it first", path)
		}
		return fmt.Errorf("spec: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// cmdFeatures prints what this runtime supports, in runtime-spec's features format.
func cmdFeatures(g *globals, args []string) error {
	if _, err := parse(flag.NewFlagSet("features", flag.ContinueOnError), args, 0, 0); err != nil {
		return err
	}
	yes, no := true, false
	namespaces := []string{"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}
	f := features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions:  rootfs.KnownOptions(),
		Linux: &features.Linux{
			Namespaces:   namespaces,
			Capabilities: caps.Known(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: &no, SystemdUser: &no, Rdma: &no},
			Seccomp: &features.Seccomp{
				Enabled:        &yes,
				Actions:        seccomp.KnownActions(),
				Operators:      seccomp.KnownOperators(),
				Archs:          seccomp.KnownArchitectures(),
				KnownFlags:     seccomp.KnownFlags(),
				SupportedFlags: seccomp.KnownFlags(),
			},
			Apparmor: &features.Apparmor{Enabled: &no},
			Selinux:  &features.Selinux{Enabled: &no},
			IntelRdt: &features.IntelRdt{Enabled: &no},
			MountExtensions: &features.MountExtensions{
				IDMap: &features.IDMap{Enabled: &no},
			},
		},
		Annotations: map[string]string{"io.github.berth.runtime.version": Version},
	}
	return printJSON(g.stdout, f)
}

func cmdVersion(g *globals, args []string) error {
	fmt.Fprintf(g.stdout, "berth-runtime version %s\nspec: %s\n", Version, specs.Version)
	return nil
}
