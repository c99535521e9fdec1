package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// loginOptions are the flags of `berth login`.
type loginOptions struct {
	Server        string
	Username      string
	Password      string
	PasswordStdin bool
}

func (c *CLI) newLoginCommand() *cobra.Command {
	var opts loginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Long:  "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Server = args[0]
			}
			return c.runLogin(cmd, opts)
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&opts.Username, "username", "u", "", "Username")
	flags.StringVarP(&opts.Password, "password", "p", "", "Password or Personal Access Token (PAT)")
	flags.BoolVar(&opts.PasswordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

// runLogin checks the credentials with the daemon (POST /auth, which asks
// the registry) and stores them in config.json under the registry's key.
// Without a username or password it uses stored credentials, or asks on a
// terminal.
func (c *CLI) runLogin(cmd *cobra.Command, opts loginOptions) error {
	stderr := cmd.ErrOrStderr()
	if opts.Password != "" {
		fmt.Fprintln(stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
		if opts.PasswordStdin {
			return errors.New("--password and --password-stdin are mutually exclusive")
		}
	}
	in := cmd.InOrStdin()
	if opts.PasswordStdin {
		if opts.Username == "" {
			return errors.New("Must provide --username with --password-stdin")
		}
		b, err := io.ReadAll(in)
		if err != nil {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		opts.Password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	server := dockerHubServer
	if opts.Server != "" && opts.Server != "docker.io" {
		server = registryHostname(opts.Server)
	}
	cfg, err := loadClientConfig(c.configPath())
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	auth, stored := cfg.lookup(server)
	auth.ServerAddress = server
	switch {
	case opts.Username == "" && opts.Password == "" && stored && (auth.Username != "" || auth.IdentityToken != ""):
		fmt.Fprintln(out, "Authenticating with existing credentials...")
	case opts.Username == "" || opts.Password == "":
		if !isTerminal(in) {
			return errors.New("Error: Cannot perform an interactive login from a non TTY device")
		}
		r := bufio.NewReader(in)
		if opts.Username == "" {
			if opts.Username, err = prompt(r, out, "Username: "); err != nil {
				return err
			}
		}
		if opts.Password == "" {
			if opts.Password, err = promptSecret(in, r, out, "Password: "); err != nil {
				return err
			}
		}
		fallthrough
	default:
		auth.Username, auth.Password, auth.IdentityToken = opts.Username, opts.Password, ""
	}
	if auth.Username == "" && auth.IdentityToken == "" {
		return errors.New("Error: Non-null Username Required")
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.RegistryLogin(cmd.Context(), client.RegistryLoginOptions{
		Username: auth.Username, Password: auth.Password, ServerAddress: server, IdentityToken: auth.IdentityToken,
	})
	if cerrdefs.IsNotFound(err) {
		host, _ := c.host()
		return fmt.Errorf("login: the daemon at %s does not serve POST /auth (404); its login route may not exist yet, so nothing was stored: %w", host, err)
	}
	if err != nil {
		return err
	}
	if res.Auth.IdentityToken != "" {
		auth.Password, auth.IdentityToken = "", res.Auth.IdentityToken
	}
	cfg.auths[server] = encodeEntry(auth)
	if err := cfg.save(); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "WARNING! Your credentials are stored unencrypted in '%s'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n", cfg.path)
	status := res.Auth.Status
	if status == "" {
		status = "Login Succeeded"
	}
	fmt.Fprintln(out, status)
	return nil
}

// prompt asks for one line of input.
func prompt(r *bufio.Reader, out io.Writer, question string) (string, error) {
	fmt.Fprint(out, question)
	line, err := r.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(line), nil
}
