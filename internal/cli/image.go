package cli

import (
	"github.com/spf13/cobra"
)

// newImageCommands returns the image verbs: the `image` group (ls, pull,
// push, tag, rm, prune, inspect, history, save, load, import) and docker's
// top-level shortcuts for them (images, pull, push, tag, rmi, history, save,
// load, import, inspect), plus login and logout.
func (c *CLI) newImageCommands() []*cobra.Command {
	group := &cobra.Command{
		Use:   "image",
		Short: "Manage images",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	ls := c.newImagesCommand()
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	rm := c.newRemoveImagesCommand()
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"remove", "rmi"}
	inspect := c.newImageInspectCommand()
	group.AddCommand(ls, rm, inspect,
		c.newPullCommand(), c.newPushCommand(), c.newTagCommand(), c.newImagePruneCommand(),
		c.newHistoryCommand(), c.newSaveCommand(), c.newLoadCommand(), c.newImportCommand())
	return []*cobra.Command{
		group,
		c.newImagesCommand(), c.newPullCommand(), c.newPushCommand(), c.newTagCommand(),
		c.newRemoveImagesCommand(), c.newHistoryCommand(), c.newSaveCommand(), c.newLoadCommand(),
		c.newImportCommand(), c.newInspectCommand(), c.newLoginCommand(), c.newLogoutCommand(),
	}
}
