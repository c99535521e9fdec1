package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/opts"
)

// The values of --pull.
const (
	pullAlways  = "always"
	pullMissing = "missing"
	pullNever   = "never"
)

// createOptions are the flags of `create` (and `run`) that are not the
// container's configuration.
type createOptions struct {
	Name     string
	Platform string
	Pull     string
	Quiet    bool
}

// addCreateFlags registers the flags `create` and `run` share: the create
// options, then the container's (opts.Container). Like docker, the command
// line stops at the image (flags after it are the command's), and -h is
// --hostname, so help is --help alone.
func (c *CLI) addCreateFlags(cmd *cobra.Command, o *createOptions) *opts.Container {
	flags := cmd.Flags()
	flags.SetInterspersed(false)
	flags.StringVar(&o.Name, "name", "", "Assign a name to the container")
	flags.StringVar(&o.Pull, "pull", pullMissing, `Pull image before creating ("always", "missing", "never")`)
	flags.BoolVarP(&o.Quiet, "quiet", "q", false, "Suppress the pull output")
	flags.StringVar(&o.Platform, "platform", c.env.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	flags.Bool("help", false, "Print usage")
	return opts.NewContainer(flags, c.lookupEnv)
}

// parseCreate checks create's own flags and parses the container flags and
// IMAGE [COMMAND] [ARG...] of create and run; a bad one is a usage error
// (status 125, as docker).
func (c *CLI) parseCreate(cmd *cobra.Command, copts *opts.Container, o createOptions, args []string) (*opts.Config, error) {
	if err := validatePull(o.Pull); err != nil {
		return nil, withHelp(cmd, err, 125)
	}
	cfg, err := copts.Parse(cmd.Flags(), args[0], args[1:], c.lookupEnv)
	if err != nil {
		return nil, withHelp(cmd, err, 125)
	}
	return cfg, nil
}

// lookupEnv reads the client's environment for -e NAME and env files (a
// variable set to the empty string counts as unset).
func (c *CLI) lookupEnv(name string) (string, bool) {
	v := c.env.Getenv(name)
	return v, v != ""
}

func (c *CLI) newCreateCommand() *cobra.Command {
	var o createOptions
	var copts *opts.Container
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.parseCreate(cmd, copts, o, args)
			if err != nil {
				return err
			}
			id, err := c.createContainer(cmd.Context(), cfg, o)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	copts = c.addCreateFlags(cmd, &o)
	return cmd
}

func validatePull(v string) error {
	switch v {
	case pullAlways, pullMissing, pullNever, "":
		return nil
	}
	return fmt.Errorf(`invalid pull option: '%s': must be one of "always", "missing" or "never"`, v)
}

// withHelp is docker's form for an error of `run` and `create`:
//
//	berth: Error response from daemon: No such image: x
//
//	Run 'berth run --help' for more information
func withHelp(cmd *cobra.Command, err error, code int) error {
	return statusError{code: code, msg: fmt.Sprintf("%s: %s\n\nRun '%s --help' for more information",
		cmd.Root().Name(), err, cmd.CommandPath())}
}

// runStatusError gives a failure of `run` docker's exit status: 127 when the
// container's program was not found, 126 when it could not be executed, else
// 125 (the failure is berth's, not the program's).
func runStatusError(cmd *cobra.Command, err error) error {
	var st statusError
	if errors.As(err, &st) {
		return err
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"),
		strings.Contains(msg, "system cannot find the file specified"):
		return withHelp(cmd, err, 127)
	case strings.Contains(msg, syscall.EACCES.Error()), strings.Contains(msg, syscall.EISDIR.Error()):
		return withHelp(cmd, err, 126)
	}
	return withHelp(cmd, err, 125)
}

// createContainer creates the container cfg describes, pulling its image
// first with --pull always, or when the daemon does not have it with --pull
// missing (the default): "Unable to find image 'x:latest' locally", then
// the pull's progress on stderr. It writes the ID to --cidfile and prints
// the daemon's warnings.
func (c *CLI) createContainer(ctx context.Context, cfg *opts.Config, o createOptions) (string, error) {
	stderr := c.env.Stderr
	cid, err := newCIDFile(cfg.HostConfig.ContainerIDFile)
	if err != nil {
		return "", err
	}
	defer cid.Close()

	ref, err := reference.ParseAnyReference(cfg.Config.Image)
	if err != nil {
		return "", err
	}
	var named reference.Named
	if n, ok := ref.(reference.Named); ok {
		named = reference.TagNameOnly(n)
	}
	var platform *ocispec.Platform
	if o.Platform != "" {
		p, err := parsePlatform(o.Platform)
		if err != nil {
			return "", fmt.Errorf("error parsing specified platform: %w", err)
		}
		platform = &p
	}
	cl, err := c.Client()
	if err != nil {
		return "", err
	}
	pull := func() error {
		if named == nil {
			return fmt.Errorf("cannot pull %s: not a name", cfg.Config.Image)
		}
		return c.pullImage(ctx, cl, named, platform, o.Quiet)
	}
	if o.Pull == pullAlways {
		if err := pull(); err != nil {
			return "", err
		}
	}
	if h, w, ok := terminalSize(c.env.Stdout); ok {
		cfg.HostConfig.ConsoleSize = [2]uint{h, w}
	}
	create := func() (client.ContainerCreateResult, error) {
		return cl.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: cfg.Config, HostConfig: cfg.HostConfig, NetworkingConfig: cfg.NetworkingConfig,
			Platform: platform, Name: o.Name,
		})
	}
	res, err := create()
	if err != nil {
		if !cerrdefs.IsNotFound(err) || named == nil || o.Pull != pullMissing && o.Pull != "" {
			return "", err
		}
		if !o.Quiet {
			fmt.Fprintf(stderr, "Unable to find image '%s' locally\n", reference.FamiliarString(named))
		}
		if err := pull(); err != nil {
			return "", err
		}
		if res, err = create(); err != nil {
			return "", err
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "WARNING:", w)
	}
	return res.ID, cid.Write(res.ID)
}

// pullImage pulls ref for create or run, showing the daemon's progress on
// stderr (stdout is for the container's ID) unless quiet.
func (c *CLI) pullImage(ctx context.Context, cl *client.Client, ref reference.Named, platform *ocispec.Platform, quiet bool) error {
	auth, err := c.registryAuth(ref)
	if err != nil {
		return err
	}
	o := client.ImagePullOptions{RegistryAuth: auth}
	if platform != nil {
		o.Platforms = []ocispec.Platform{*platform}
	}
	resp, err := cl.ImagePull(ctx, reference.FamiliarString(ref), o)
	if err != nil {
		return err
	}
	defer resp.Close()
	out := c.env.Stderr
	if quiet {
		out = io.Discard
	}
	return newProgressDisplay(out).Stream(resp)
}

// cidFile is --cidfile: created before the container (refusing a file that
// exists), written with its ID, removed if the container was not created.
type cidFile struct {
	path    string
	file    *os.File
	written bool
}

func newCIDFile(path string) (*cidFile, error) {
	if path == "" {
		return &cidFile{}, nil
	}
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("failed to create the container ID file: %w", err)
	}
	return &cidFile{path: path, file: f}, nil
}

func (f *cidFile) Write(id string) error {
	if f.file == nil {
		return nil
	}
	if _, err := f.file.WriteString(id); err != nil {
		return fmt.Errorf("failed to write the container ID to the file: %w", err)
	}
	f.written = true
	return nil
}

func (f *cidFile) Close() error {
	if f.file == nil {
		return nil
	}
	f.file.Close()
	if f.written {
		return nil
	}
	if err := os.Remove(f.path); err != nil {
		return fmt.Errorf("failed to remove the CID file '%s': %w", f.path, err)
	}
	return nil
}
