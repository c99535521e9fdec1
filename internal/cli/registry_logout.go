package cli

import (
	"fmt"

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

// runLogout removes the stored credentials of server (Docker Hub by
// default), under each spelling docker has stored them.
func (c *CLI) runLogout(cmd *cobra.Command, server string) error {
	keys := []string{dockerHubServer}
	shown := dockerHubServer
	if server != "" && server != "docker.io" {
		shown = registryHostname(server)
		keys = []string{server, shown, "http://" + shown, "https://" + shown}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Removing login credentials for %s\n", shown)
	cfg, err := loadClientConfig(c.configPath())
	if err != nil {
		return err
	}
	removed := false
	for _, k := range keys {
		if _, ok := cfg.auths[k]; ok {
			delete(cfg.auths, k)
			removed = true
		}
	}
	if !removed {
		return nil
	}
	return cfg.save()
}
