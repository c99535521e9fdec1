package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (c *CLI) newLogoutCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Long:  "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
		Args:  maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			return c.runLogout(cmd, server)
		},
	}
}

// runLogout erases the stored credentials of server (Docker Hub by
// default) under each spelling docker has stored them, each from its own
// store (see registry_config.go). Failures are warnings, as with docker:
// logout itself succeeds.
func (c *CLI) runLogout(cmd *cobra.Command, server string) error {
	stderr := cmd.ErrOrStderr()
	cfg, err := c.loadConfig()
	if err != nil {
		return err
	}
	keys := []string{dockerHubServer}
	shown := dockerHubServer
	if server != "" && server != "docker.io" {
		shown = convertToHostname(server)
		keys = []string{server, shown, "http://" + shown, "https://" + shown}
	} else if err := eraseHubTokens(cfg.storeFor(dockerHubServer)); err != nil {
		fmt.Fprintln(stderr, "WARNING:", err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", shown)
	var failed []string
	errs := map[string]error{}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if err := cfg.storeFor(k).erase(k); err != nil {
			failed = append(failed, k)
			errs[k] = err
		}
	}
	// Docker warns only when every spelling failed, counting twice the one
	// it tries twice ("reg.example" is both the argument and its host), so
	// a plain host[:port] never warns: neither does berth.
	if len(errs) == len(keys) {
		fmt.Fprintln(stderr, "WARNING: could not erase credentials:")
		for _, k := range failed {
			fmt.Fprintf(stderr, "%s: %s\n", k, errs[k])
		}
	}
	return nil
}

// Docker Hub's OAuth tokens, which a docker login in a browser keeps in
// Docker Hub's store beside the credentials.
const (
	hubAccessTokenKey  = dockerHubServer + "access-token"
	hubRefreshTokenKey = dockerHubServer + "refresh-token"
)

// eraseHubTokens erases the OAuth tokens a docker login stored for Docker
// Hub (a refresh token "<token>..<client id>"), as docker's logout does.
// Unlike docker, berth does not also revoke the refresh token with Docker's
// OAuth tenant.
func eraseHubTokens(store credentialStore) error {
	refresh, err := store.get(hubRefreshTokenKey)
	if err != nil {
		return err
	}
	if len(strings.Split(refresh.Password, "..")) != 2 {
		return nil
	}
	if err := errors.Join(store.erase(hubAccessTokenKey), store.erase(hubRefreshTokenKey)); err != nil {
		return fmt.Errorf("failed to erase tokens: %w", err)
	}
	return nil
}
