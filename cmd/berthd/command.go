package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/buildinfo"
	"github.com/berth-engine/berth/internal/daemon"
	"github.com/berth-engine/berth/internal/daemon/config"
)

// Stamped by the build: go build -ldflags "-X main.version=... -X main.gitCommit=... -X main.buildTime=..."
var (
	version   = "0.1.0-dev"
	gitCommit = ""
	buildTime = "" // RFC 3339
)

// run is berthd's whole life: parse the command line, load the configuration,
// serve until told to stop. It returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := &cobra.Command{
		Use:                   "berthd [OPTIONS]",
		Short:                 "berth's daemon: the Docker Engine API on a unix socket",
		Args:                  cobra.NoArgs,
		SilenceErrors:         true,
		SilenceUsage:          true,
		DisableFlagsInUseLine: true,
	}
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	flags := cmd.Flags()
	cfgFlags := config.AddFlags(flags)
	showVersion := flags.BoolP("version", "v", false, "Print version information and quit")
	validate := flags.Bool("validate", false, "Validate the daemon configuration and quit")
	flags.SortFlags = false

	status := 0
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		build := buildInfo()
		if *showVersion {
			fmt.Fprintf(stdout, "berthd version %s, build %s\n", build.Version, orUnknown(build.GitCommit))
			return nil
		}
		cfg, err := cfgFlags.Load()
		if err != nil {
			return err
		}
		if *validate {
			fmt.Fprintln(stdout, "configuration OK")
			return nil
		}
		return serve(cfg, build, stderr)
	}
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(stderr, "berthd: %s\n", oneLine(err.Error()))
		status = 1
	}
	return status
}

// buildInfo returns what the build stamped, completed from the binary itself
// where the build said nothing.
func buildInfo() daemon.BuildInfo {
	b := buildinfo.Info{Version: version, GitCommit: gitCommit, BuildTime: buildTime}.Complete()
	return daemon.BuildInfo{Version: b.Version, GitCommit: b.GitCommit, BuildTime: b.BuildTime}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}
