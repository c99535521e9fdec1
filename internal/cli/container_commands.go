package cli

import (
	"github.com/spf13/cobra"
)

// addContainerCommands adds the container verbs to root: the `container`
// group (ls, run, create, start, ...), docker's top-level shortcuts for them
// (ps, run, create, start, stop, ...), `volume`, `system prune`, and the
// generic `inspect`, which replaces the images-only one.
func (c *CLI) addContainerCommands(root *cobra.Command) {
	group := &cobra.Command{
		Use:   "container",
		Short: "Manage containers",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	ls := c.newPsCommand()
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"ps", "list"}
	rm := c.newRmCommand()
	rm.Aliases = []string{"remove"}
	group.AddCommand(
		c.newAttachCommand(), c.newCommitCommand(), c.newCpCommand(), c.newCreateCommand(),
		c.newDiffCommand(), c.newExecCommand(), c.newExportCommand(), c.newKillCommand(),
		c.newLogsCommand(), c.newPauseCommand(), c.newPortCommand(), c.newRenameCommand(),
		c.newRestartCommand(), rm, c.newRunCommand(), c.newStartCommand(), c.newStatsCommand(),
		c.newStopCommand(), c.newTopCommand(), c.newUnpauseCommand(), c.newUpdateCommand(),
		c.newWaitCommand(), ls, c.newContainerInspectCommand(), c.newContainerPruneCommand(),
	)
	for _, sub := range root.Commands() {
		switch sub.Name() {
		case "inspect":
			root.RemoveCommand(sub)
		case "system":
			sub.AddCommand(c.newSystemPruneCommand())
		}
	}
	root.AddCommand(group,
		c.newAttachCommand(), c.newCommitCommand(), c.newCpCommand(), c.newCreateCommand(),
		c.newDiffCommand(), c.newExecCommand(), c.newExportCommand(), c.newKillCommand(),
		c.newLogsCommand(), c.newPauseCommand(), c.newPortCommand(), c.newRenameCommand(),
		c.newRestartCommand(), c.newRmCommand(), c.newRunCommand(), c.newStartCommand(),
		c.newStatsCommand(), c.newStopCommand(), c.newTopCommand(), c.newUnpauseCommand(),
		c.newUpdateCommand(), c.newWaitCommand(), c.newPsCommand(), c.newObjectInspectCommand(),
		c.newVolumeCommand(), c.newNetworkCommand(),
	)
}
