package cli

import (
	"fmt"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/buildinfo"
	"github.com/berth-engine/berth/internal/cli/format"
)

// versionOptions are the flags of `berth version`.
type versionOptions struct {
	Format string
}

// versionInfo is what `berth version` renders, with docker's field names so
// that docker's --format templates work unchanged ({{.Server.APIVersion}}).
type versionInfo struct {
	Client clientVersion
	Server *serverVersion `json:",omitempty"`
}

// ServerOK reports whether the daemon answered (the default layout's test).
func (v versionInfo) ServerOK() bool { return v.Server != nil }

type clientVersion struct {
	Version           string
	APIVersion        string `json:"ApiVersion"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GitCommit         string
	GoVersion         string
	Os                string
	Arch              string
	BuildTime         string `json:"BuildTime,omitempty"`
}

type serverVersion struct {
	Platform      struct{ Name string }
	Components    []system.ComponentVersion `json:",omitempty"`
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion,omitempty"`
	GitCommit     string
	GoVersion     string
	Os            string
	Arch          string
	KernelVersion string `json:",omitempty"`
	BuildTime     string `json:",omitempty"`
}

// versionTemplate is docker's layout of `docker version`, aligned by a
// tabwriter: the client, then the server's components (the Engine's details
// in a fixed order).
const versionTemplate = `{{with .Client -}}
Client:
 Version:	{{.Version}}
 API version:	{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:	{{.GoVersion}}
 Git commit:	{{.GitCommit}}
 Built:	{{.BuildTime}}
 OS/Arch:	{{.Os}}/{{.Arch}}
{{- end}}

{{- if .ServerOK}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
  {{- else }}
  Version:	{{$component.Version}}
  {{- range $key, $value := $component.Details}}
  {{$key}}:	{{$value}}
  {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}{{- end}}`

func (c *CLI) newVersionCommand() *cobra.Command {
	var opts versionOptions
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the berth version information",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runVersion(cmd, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func (c *CLI) runVersion(cmd *cobra.Command, opts versionOptions) error {
	if opts.Format != "" { // a broken template fails before the daemon is asked
		if _, err := format.New("version", opts.Format); err != nil {
			return err
		}
	}
	b := c.env.Build.complete()
	info := versionInfo{Client: clientVersion{
		Version:           b.Version,
		APIVersion:        client.MaxAPIVersion,
		DefaultAPIVersion: client.MaxAPIVersion,
		GitCommit:         b.GitCommit,
		GoVersion:         runtime.Version(),
		Os:                runtime.GOOS,
		Arch:              runtime.GOARCH,
		BuildTime:         ansicTime(b.BuildTime),
	}}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	sv, serverErr := cl.ServerVersion(cmd.Context(), client.ServerVersionOptions{})
	info.Client.APIVersion = cl.ClientVersion()
	if serverErr == nil {
		info.Server = newServerVersion(sv)
	}

	out := cmd.OutOrStdout()
	if opts.Format != "" {
		if err := format.Execute(out, "version", opts.Format, info); err != nil {
			return err
		}
	} else {
		t, err := format.Parse("version", versionTemplate)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 20, 1, 1, ' ', 0)
		if err := t.Execute(tw, info); err != nil {
			return err
		}
		fmt.Fprintln(tw)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return serverErr
}

// newServerVersion fills docker's server fields from the daemon's answer:
// the ones the client library does not keep come from the Engine component.
func newServerVersion(sv client.ServerVersionResult) *serverVersion {
	s := &serverVersion{
		Version:       sv.Version,
		APIVersion:    sv.APIVersion,
		MinAPIVersion: sv.MinAPIVersion,
		Os:            sv.Os,
		Arch:          sv.Arch,
	}
	s.Platform.Name = sv.Platform.Name
	for _, comp := range sv.Components {
		if comp.Name == "Engine" {
			d := map[string]string{}
			for k, v := range comp.Details {
				d[k] = v
			}
			s.GitCommit, s.GoVersion, s.KernelVersion, s.BuildTime = d["GitCommit"], d["GoVersion"], d["KernelVersion"], d["BuildTime"]
			d["BuildTime"] = ansicTime(d["BuildTime"])
			comp.Details = d
		}
		s.Components = append(s.Components, comp)
	}
	return s
}

// ansicTime shows an RFC 3339 build time as docker does ("Mon Nov 23 19:03:30
// 2026"); anything else is shown as it is.
func ansicTime(s string) string {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.Format(time.ANSIC)
	}
	return s
}

// complete fills what the build did not stamp from the binary itself.
func (b BuildInfo) complete() BuildInfo {
	if b.Version == "" {
		b.Version = "unknown"
	}
	i := buildinfo.Info{Version: b.Version, GitCommit: b.GitCommit, BuildTime: b.BuildTime}.Complete()
	return BuildInfo{Version: i.Version, GitCommit: i.GitCommit, BuildTime: i.BuildTime}
}
