package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/registry"
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
			if err := verifyLoginFlags(cmd, opts); err != nil {
				return err
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

// verifyLoginFlags refuses the flag combinations docker refuses.
func verifyLoginFlags(cmd *cobra.Command, opts loginOptions) error {
	flags := cmd.Flags()
	if flags.Changed("password-stdin") {
		if flags.Changed("password") {
			return errors.New("conflicting options: cannot specify both --password and --password-stdin")
		}
		if !flags.Changed("username") {
			return errors.New("the --password-stdin option requires --username to be set")
		}
	}
	if flags.Changed("username") && opts.Username == "" {
		return errors.New("username is empty")
	}
	if flags.Changed("password") && opts.Password == "" {
		return errors.New("password is empty")
	}
	return nil
}

// runLogin checks credentials with the daemon (POST /auth, which asks the
// registry) and keeps them in the registry's store (see registry_config.go):
// its credential helper, or config.json. Without a username or password it
// first tries the stored ones, then asks on a terminal.
func (c *CLI) runLogin(cmd *cobra.Command, opts loginOptions) error {
	stderr := cmd.ErrOrStderr()
	if opts.Password != "" {
		fmt.Fprintln(stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	if opts.PasswordStdin {
		if opts.Username == "" {
			return errors.New("username is empty")
		}
		b, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		opts.Password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	// The key: Docker Hub's index address, else the host[:port] of what
	// the user wrote ("https://reg.example:5000/v2/" -> "reg.example:5000").
	key := dockerHubServer
	if opts.Server != "" && opts.Server != "docker.io" && opts.Server != dockerHubServer {
		key = convertToHostname(opts.Server)
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	var stored registry.AuthConfig
	if opts.Username == "" && opts.Password == "" {
		if stored, err = cfg.storeFor(key).get(key); err != nil {
			stored = registry.AuthConfig{}
		}
	}
	// A stored identity token is not reused: docker logs in again with the
	// username and password, or asks.
	stored.ServerAddress, stored.IdentityToken = key, ""
	if stored.Username != "" && stored.Password != "" {
		if status, err := c.loginWithStored(cmd, cfg, stored); err == nil {
			if status != "" {
				fmt.Fprintln(cmd.OutOrStdout(), status)
			}
			return nil
		}
	}
	status, err := c.loginUser(cmd, cfg, opts, stored.Username, key)
	if err != nil {
		return err
	}
	if status != "" {
		fmt.Fprintln(cmd.OutOrStdout(), status)
	}
	return nil
}

// loginWithStored logs in with stored credentials, telling the user so, and
// stores them again (with the identity token the registry may return).
func (c *CLI) loginWithStored(cmd *cobra.Command, cfg *clientConfig, auth registry.AuthConfig) (string, error) {
	stderr := cmd.ErrOrStderr()
	fmt.Fprintf(stderr, "Authenticating with existing credentials... [Username: %s]\n", auth.Username)
	name := cmd.Root().Name()
	printNote(stderr, fmt.Sprintf("To login with a different account, run '%s logout' followed by '%s login'", name, name))
	fmt.Fprint(stderr, "\n\n")
	res, err := c.registryLogin(cmd, auth)
	if err != nil {
		if cerrdefs.IsUnauthorized(err) {
			fmt.Fprintln(stderr, "Stored credentials invalid or expired")
		} else {
			fmt.Fprintln(stderr, "Login did not succeed, error:", err)
		}
	}
	if res.Auth.IdentityToken != "" {
		auth.Password, auth.IdentityToken = "", res.Auth.IdentityToken
	}
	if err := storeCredentials(cfg, auth); err != nil {
		return "", err
	}
	return res.Auth.Status, err
}

// loginUser logs in with the credentials given on the command line, asking
// for what is missing, and stores them.
func (c *CLI) loginUser(cmd *cobra.Command, cfg *clientConfig, opts loginOptions, defaultUsername, key string) (string, error) {
	in := cmd.InOrStdin()
	if (opts.Username == "" || opts.Password == "") && !isTerminal(in) {
		return "", errors.New("Error: Cannot perform an interactive login from a non TTY device")
	}
	auth, err := c.promptCredentials(cmd, opts.Username, opts.Password, defaultUsername, key)
	if err != nil {
		return "", err
	}
	res, err := c.registryLogin(cmd, auth)
	if cerrdefs.IsNotFound(err) {
		host, _ := c.host()
		return "", fmt.Errorf("login: the daemon at %s does not serve POST /auth (404); its login route may not exist yet, so nothing was stored: %w", host, err)
	}
	if err != nil {
		return "", err
	}
	if res.Auth.IdentityToken != "" {
		auth.Password, auth.IdentityToken = "", res.Auth.IdentityToken
	}
	if err := storeCredentials(cfg, auth); err != nil {
		return "", err
	}
	return res.Auth.Status, nil
}

func (c *CLI) registryLogin(cmd *cobra.Command, auth registry.AuthConfig) (client.RegistryLoginResult, error) {
	cl, err := c.Client()
	if err != nil {
		return client.RegistryLoginResult{}, err
	}
	return cl.RegistryLogin(cmd.Context(), client.RegistryLoginOptions{
		Username: auth.Username, Password: auth.Password, ServerAddress: auth.ServerAddress, IdentityToken: auth.IdentityToken,
	})
}

// storeCredentials keeps auth in its registry's store.
func storeCredentials(cfg *clientConfig, auth registry.AuthConfig) error {
	if err := cfg.storeFor(auth.ServerAddress).store(auth); err != nil {
		return fmt.Errorf("Error saving credentials: %w", err)
	}
	return nil
}

// promptCredentials completes the username and password given on the
// command line by asking on the terminal, with docker's prompts.
func (c *CLI) promptCredentials(cmd *cobra.Command, user, password, defaultUsername, key string) (registry.AuthConfig, error) {
	in, out := cmd.InOrStdin(), cmd.OutOrStdout()
	r := bufio.NewReader(in)
	user = strings.TrimSpace(user)
	if user == "" {
		if key == dockerHubServer {
			fmt.Fprintln(out, "Log in with your Docker ID or email address to push and pull images from Docker Hub. "+
				"If you don't have a Docker ID, head over to https://hub.docker.com/ to create one.")
			if c.hintsEnabled() {
				fmt.Fprintln(out, "You can log in with your password or a Personal Access Token (PAT). "+
					"Using a limited-scope PAT grants better security and is required for organizations using SSO. "+
					"Learn more at https://docs.docker.com/go/access-tokens/")
				fmt.Fprintln(out)
			}
		}
		question := "Username: "
		if defaultUsername = strings.TrimSpace(defaultUsername); defaultUsername != "" {
			question = fmt.Sprintf("Username (%s): ", defaultUsername)
		}
		var err error
		if user, err = prompt(r, out, question); err != nil {
			return registry.AuthConfig{}, err
		}
		if user == "" {
			user = defaultUsername
		}
		if user == "" {
			return registry.AuthConfig{}, errors.New("Error: Non-null Username Required")
		}
	}
	password = strings.TrimSpace(password)
	if password == "" {
		if key == dockerHubServer {
			printNote(cmd.ErrOrStderr(), "A Personal Access Token (PAT) can be used instead.\nTo create a PAT, visit https://app.docker.com/settings\n\n")
		}
		var err error
		if password, err = promptSecret(in, r, out, "Password: "); err != nil {
			return registry.AuthConfig{}, err
		}
		if password == "" {
			return registry.AuthConfig{}, errors.New("Error: Password Required")
		}
	}
	return registry.AuthConfig{Username: user, Password: password, ServerAddress: key}, nil
}

// hintsEnabled reports whether DOCKER_CLI_HINTS leaves docker's hints on.
func (c *CLI) hintsEnabled() bool {
	on, err := strconv.ParseBool(c.env.Getenv("DOCKER_CLI_HINTS"))
	return err != nil || on
}

// printNote writes docker's "Info" note, its lines aligned under the first.
func printNote(w io.Writer, text string) {
	const header = " Info -> "
	fmt.Fprint(w, "\n", header)
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			fmt.Fprint(w, strings.Repeat(" ", len(header)))
		}
		fmt.Fprintln(w, line)
	}
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
