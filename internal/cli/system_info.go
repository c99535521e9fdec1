package cli

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/format"
)

// infoOptions are the flags of `berth info`.
type infoOptions struct {
	Format string
}

// infoView is what --format templates see: the daemon's fields at the top
// ({{.Driver}}, {{json .}}) and the client's under ClientInfo, as in docker.
type infoView struct {
	*system.Info
	ClientInfo *clientInfo
}

type clientInfo struct {
	Debug     bool
	Version   string
	GitCommit string
	GoVersion string
	Os        string
	Arch      string
	BuildTime string
}

func (c *CLI) newInfoCommand() *cobra.Command {
	var opts infoOptions
	cmd := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runInfo(cmd, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func (c *CLI) runInfo(cmd *cobra.Command, opts infoOptions) error {
	if opts.Format != "" { // a broken template fails before the daemon is asked
		if _, err := format.New("info", opts.Format); err != nil {
			return err
		}
	}
	b := c.env.Build.complete()
	ci := &clientInfo{Debug: c.opts.Debug, Version: b.Version, GitCommit: b.GitCommit,
		GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH, BuildTime: ansicTime(b.BuildTime)}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.Info(cmd.Context(), client.InfoOptions{})
	out := cmd.OutOrStdout()
	if opts.Format != "" {
		if err != nil {
			return err
		}
		return format.Execute(out, "info", opts.Format, infoView{Info: &res.Info, ClientInfo: ci})
	}
	fmt.Fprintf(out, "Client:\n Version:    %s\n Debug Mode: %t\n\nServer:\n", ci.Version, ci.Debug)
	if err != nil {
		return err
	}
	printServerInfo(out, &res.Info)
	for _, w := range res.Info.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), w)
	}
	return nil
}

// printServerInfo writes docker's human layout of the daemon's information:
// one " Key: value" line per field, details indented below their heading,
// optional sections only when the daemon filled them.
func printServerInfo(w io.Writer, info *system.Info) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p(" Containers: %d", info.Containers)
	p("  Running: %d", info.ContainersRunning)
	p("  Paused: %d", info.ContainersPaused)
	p("  Stopped: %d", info.ContainersStopped)
	p(" Images: %d", info.Images)
	p(" Server Version: %s", info.ServerVersion)
	p(" Storage Driver: %s", info.Driver)
	for _, kv := range info.DriverStatus {
		p("  %s: %s", kv[0], kv[1])
	}
	p(" Logging Driver: %s", info.LoggingDriver)
	p(" Cgroup Driver: %s", info.CgroupDriver)
	if info.CgroupVersion != "" {
		p(" Cgroup Version: %s", info.CgroupVersion)
	}
	p(" Plugins:")
	p("  Volume: %s", strings.Join(info.Plugins.Volume, " "))
	p("  Network: %s", strings.Join(info.Plugins.Network, " "))
	if len(info.Plugins.Authorization) > 0 {
		p("  Authorization: %s", strings.Join(info.Plugins.Authorization, " "))
	}
	p("  Log: %s", strings.Join(info.Plugins.Log, " "))
	p(" Swarm: %s", orDash(string(info.Swarm.LocalNodeState), "inactive"))
	if len(info.Runtimes) > 0 {
		names := make([]string, 0, len(info.Runtimes))
		for name := range info.Runtimes {
			names = append(names, name)
		}
		slices.Sort(names)
		p(" Runtimes: %s", strings.Join(names, " "))
		p(" Default Runtime: %s", info.DefaultRuntime)
	}
	p(" Init Binary: %s", info.InitBinary)
	p(" containerd version: %s", info.ContainerdCommit.ID)
	p(" runc version: %s", info.RuncCommit.ID)
	p(" init version: %s", info.InitCommit.ID)
	if len(info.SecurityOptions) > 0 {
		p(" Security Options:")
		for _, opt := range info.SecurityOptions {
			printSecurityOption(p, opt)
		}
	}
	p(" Kernel Version: %s", info.KernelVersion)
	p(" Operating System: %s", info.OperatingSystem)
	p(" OSType: %s", info.OSType)
	p(" Architecture: %s", info.Architecture)
	p(" CPUs: %d", info.NCPU)
	p(" Total Memory: %s", units.BytesSize(float64(info.MemTotal)))
	p(" Name: %s", info.Name)
	p(" ID: %s", info.ID)
	p(" Docker Root Dir: %s", info.DockerRootDir)
	p(" Debug Mode: %t", info.Debug)
	if info.Debug {
		p("  File Descriptors: %d", info.NFd)
		p("  Goroutines: %d", info.NGoroutines)
		p("  System Time: %s", info.SystemTime)
		p("  EventsListeners: %d", info.NEventsListener)
	}
	if info.HTTPProxy != "" {
		p(" HTTP Proxy: %s", info.HTTPProxy)
	}
	if info.HTTPSProxy != "" {
		p(" HTTPS Proxy: %s", info.HTTPSProxy)
	}
	if info.NoProxy != "" {
		p(" No Proxy: %s", info.NoProxy)
	}
	if len(info.Labels) > 0 {
		p(" Labels:")
		for _, l := range info.Labels {
			p("  %s", l)
		}
	}
	p(" Experimental: %t", info.ExperimentalBuild)
	if rc := info.RegistryConfig; rc != nil {
		var insecure []string
		for _, idx := range rc.IndexConfigs {
			if idx != nil && !idx.Secure {
				insecure = append(insecure, idx.Name)
			}
		}
		slices.Sort(insecure)
		for _, cidr := range rc.InsecureRegistryCIDRs {
			insecure = append(insecure, cidr.String())
		}
		if len(insecure) > 0 {
			p(" Insecure Registries:")
			for _, r := range insecure {
				p("  %s", r)
			}
		}
		if len(rc.Mirrors) > 0 {
			p(" Registry Mirrors:")
			for _, m := range rc.Mirrors {
				p("  %s", m)
			}
		}
	}
	p(" Live Restore Enabled: %t", info.LiveRestoreEnabled)
	if info.ProductLicense != "" {
		p(" Product License: %s", info.ProductLicense)
	}
	p("")
}

// printSecurityOption shows one of the daemon's "name=seccomp,profile=builtin"
// options as docker does: the name, then each other setting titled below it.
func printSecurityOption(p func(string, ...any), opt string) {
	var name string
	var rest [][2]string
	for _, kv := range strings.Split(opt, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "name":
			name = v
			continue
		case "":
			continue
		}
		rest = append(rest, [2]string{k, v})
	}
	if name == "" { // an old daemon's plain "seccomp"
		p("  %s", opt)
		return
	}
	p("  %s", name)
	for _, kv := range rest {
		p("   %s: %s", strings.ToUpper(kv[0][:1])+kv[0][1:], kv[1])
	}
}
