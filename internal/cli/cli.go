// Package cli is berth's command-line client: docker's verbs and flags as a
// cobra command tree, talking to berthd over the Engine API with moby's client.
//
// It is an adapter. Each verb lives in its own file (system_version.go, ...)
// and does three things: flags -> an options struct -> one client call whose
// answer it renders onto the command's writers (cmd.OutOrStdout and
// cmd.OutOrStderr), so tests drive it without a terminal. What every verb
// shares sits on a *CLI: the global flags, and the API client, created lazily
// from them the first time a verb needs the daemon.
//
// Exit status and error output follow docker's: a command-line usage error
// (an unknown or malformed flag) prints the message, the usage line and a
// hint, and exits 125; every other failure prints the error on one line of
// stderr and exits 1, e.g. "Error response from daemon: No such image: x" or
// "Cannot connect to the berth daemon at unix:///run/berth/berth.sock. Is
// berthd running?".
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// DefaultHost is where berthd listens unless told otherwise.
const DefaultHost = "unix:///run/berth/berth.sock"

// The environment variables naming the daemon, the first set one winning.
const (
	EnvHost       = "BERTH_HOST"
	EnvDockerHost = "DOCKER_HOST"
	EnvConfigDir  = "DOCKER_CONFIG"
)

// BuildInfo is what the build stamped into the berth binary.
type BuildInfo struct {
	Version   string
	GitCommit string
	BuildTime string // RFC 3339, or empty
}

// Env is what a run of the CLI gets from its process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv reads an environment variable; nil means no variables are set.
	Getenv func(string) string
	Build  BuildInfo
}

// globalOptions are the flags every command accepts.
type globalOptions struct {
	Host      string
	LogLevel  string
	Debug     bool
	ConfigDir string
	Version   bool
}

// CLI is what the commands of one run share.
type CLI struct {
	env    Env
	opts   globalOptions
	log    *slog.Logger
	client *client.Client
}

// Run executes berth with args (without the program name) and returns the
// exit status.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	c := &CLI{env: env}
	root := c.newRootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if c.client != nil {
		c.client.Close()
	}
	if err == nil {
		return 0
	}
	var st statusError
	if errors.As(err, &st) {
		if st.msg != "" {
			fmt.Fprintln(env.Stderr, st.msg)
		}
		return st.code
	}
	fmt.Fprintln(env.Stderr, c.explain(err))
	return 1
}

// NewRootCommand returns berth's command tree (for the completion generator
// and documentation); its commands write to the streams of env.
func NewRootCommand(env Env) *cobra.Command {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	c := &CLI{env: env}
	return c.newRootCommand()
}

func (c *CLI) newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:               "berth [OPTIONS] COMMAND",
		Short:             "A Docker-compatible container engine",
		SilenceErrors:     true,
		SilenceUsage:      true,
		Args:              cobra.ArbitraryArgs,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		// The global options go before the command, as docker's do, and
		// belong to the root alone: "berth history -H" is --human, "berth
		// ps -l" --latest, not the host and the log level.
		TraverseChildren:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return c.setUp(cmd) },
		RunE: func(cmd *cobra.Command, args []string) error {
			if c.opts.Version {
				b := c.env.Build.complete()
				fmt.Fprintf(cmd.OutOrStdout(), "berth version %s, build %s\n", b.Version, orDash(b.GitCommit, "unknown"))
				return nil
			}
			return groupRun(cmd, args)
		},
	}
	root.SetIn(c.env.Stdin)
	root.SetOut(c.env.Stdout)
	root.SetErr(c.env.Stderr)
	root.SetFlagErrorFunc(flagError)

	flags := root.Flags()
	flags.StringVarP(&c.opts.Host, "host", "H", "", "Daemon socket to connect to (unix:///path; default $BERTH_HOST, $DOCKER_HOST or "+DefaultHost+")")
	flags.StringVarP(&c.opts.LogLevel, "log-level", "l", "info", `Set the logging level ("debug", "info", "warn", "error", "fatal")`)
	flags.BoolVarP(&c.opts.Debug, "debug", "D", false, "Enable debug mode")
	flags.StringVar(&c.opts.ConfigDir, "config", "", "Location of client config files (default $DOCKER_CONFIG or ~/.docker)")
	flags.BoolVarP(&c.opts.Version, "version", "v", false, "Print version information and quit")

	root.AddCommand(
		c.newVersionCommand(),
		c.newInfoCommand(),
		c.newEventsCommand(),
		c.newSystemCommand(),
		newCompletionCommand(),
	)
	root.AddCommand(c.newImageCommands()...)
	c.addContainerCommands(root)
	disableFlagsInUseLine(root)
	return root
}

// disableFlagsInUseLine keeps cobra from appending "[flags]" to usage lines:
// each Use says "[OPTIONS]" itself, as docker's do.
func disableFlagsInUseLine(cmd *cobra.Command) {
	cmd.DisableFlagsInUseLine = true
	for _, sub := range cmd.Commands() {
		disableFlagsInUseLine(sub)
	}
}

// newSystemCommand groups the system verbs, as docker does (system info and
// system events are the same commands as info and events).
func (c *CLI) newSystemCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "system",
		Short: "Manage berth",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	cmd.AddCommand(c.newDiskUsageCommand(), c.newInfoCommand(), c.newEventsCommand())
	return cmd
}

// groupRun is the action of a command that only groups others: alone it
// shows its help; with an argument it is an unknown command.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		cmd.SetOut(cmd.OutOrStdout())
		return cmd.Help()
	}
	return fmt.Errorf("%s: unknown command: %s %s\n\nRun '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), args[0], cmd.CommandPath())
}

// setUp applies the global flags before any command runs.
func (c *CLI) setUp(cmd *cobra.Command) error {
	level := slog.LevelInfo
	switch c.opts.LogLevel {
	case "debug":
		level = slog.LevelDebug
	case "info":
	case "warn", "warning":
		level = slog.LevelWarn
	case "error", "fatal", "panic":
		level = slog.LevelError
	default:
		return usageError(cmd, fmt.Errorf("invalid argument %q for \"-l, --log-level\" flag: not a log level (debug, info, warn, error, fatal)", c.opts.LogLevel))
	}
	if c.opts.Debug {
		level = slog.LevelDebug
	}
	c.log = slog.New(slog.NewTextHandler(c.env.Stderr, &slog.HandlerOptions{Level: level}))
	if _, err := c.host(); err != nil {
		return err
	}
	return nil
}

// host is the daemon address: -H, else $BERTH_HOST, else $DOCKER_HOST, else
// DefaultHost. "unix://" alone means the default socket.
func (c *CLI) host() (string, error) {
	h := c.opts.Host
	for _, name := range []string{EnvHost, EnvDockerHost} {
		if h == "" {
			h = c.env.Getenv(name)
		}
	}
	switch {
	case h == "" || h == "unix://":
		return DefaultHost, nil
	case strings.HasPrefix(h, "unix:///"), strings.HasPrefix(h, "tcp://"):
		if _, err := client.ParseHostURL(h); err != nil {
			return "", fmt.Errorf("invalid host %q: %w", h, err)
		}
		return h, nil
	}
	return "", fmt.Errorf("invalid host %q: berth connects to unix:///path/to/socket (or tcp://host:port)", h)
}

// ConfigDir is the client configuration directory (credentials live in its
// config.json, Docker's format): --config, else $DOCKER_CONFIG, else ~/.docker.
func (c *CLI) ConfigDir() string {
	if c.opts.ConfigDir != "" {
		return c.opts.ConfigDir
	}
	if d := c.env.Getenv(EnvConfigDir); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".docker")
}

// Client returns the API client for the daemon the global flags name,
// creating it on first use. It negotiates the API version with the daemon on
// its first request.
func (c *CLI) Client() (*client.Client, error) {
	if c.client != nil {
		return c.client, nil
	}
	host, err := c.host()
	if err != nil {
		return nil, err
	}
	cl, err := client.New(client.WithHost(host), client.WithAPIVersionFromEnv(),
		client.WithUserAgent("berth-cli/"+c.env.Build.Version))
	if err != nil {
		return nil, fmt.Errorf("API client for %s: %w", host, err)
	}
	if c.log != nil {
		c.log.Debug("API client", "host", host)
	}
	c.client = cl
	return cl, nil
}

// explain turns a failure into the line berth prints: the client's own words
// for daemon errors ("Error response from daemon: ..."), berth's for a daemon
// that does not answer.
func (c *CLI) explain(err error) string {
	if client.IsErrConnectionFailed(err) {
		host, _ := c.host()
		return fmt.Sprintf("Cannot connect to the berth daemon at %s. Is berthd running?", host)
	}
	return err.Error()
}

// statusError is a failure with its own exit status and complete message.
type statusError struct {
	code int
	msg  string
}

func (e statusError) Error() string { return e.msg }

// flagError is cobra's hook for a malformed command line: docker's message,
// usage line and hint, exit status 125.
func flagError(cmd *cobra.Command, err error) error {
	return usageError(cmd, err)
}

func usageError(cmd *cobra.Command, err error) error {
	return statusError{code: 125, msg: fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information",
		err, cmd.UseLine(), cmd.CommandPath())}
}

// noArgs accepts no positional arguments, with docker's message.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return fmt.Errorf("%s: '%s' accepts no arguments\n\nUsage:  %s\n\nRun '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), cmd.UseLine(), cmd.CommandPath())
}

func orDash(s, dash string) string {
	if s == "" {
		return dash
	}
	return s
}
