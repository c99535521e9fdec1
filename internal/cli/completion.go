package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// The shells `berth completion` writes scripts for.
var completionShells = []string{"bash", "zsh"}

// completionOptions are the arguments of `berth completion`.
type completionOptions struct {
	Shell string
}

func newCompletionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh",
		Short: "Output the shell completion script for bash or zsh",
		Long: `Output the shell completion script for bash or zsh.

  bash:  source <(berth completion bash)
         or install it as /usr/share/bash-completion/completions/berth
  zsh:   berth completion zsh > "${fpath[1]}/_berth"`,
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: completionShells,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCompletion(cmd, completionOptions{Shell: args[0]})
		},
	}
}

func runCompletion(cmd *cobra.Command, opts completionOptions) error {
	return WriteCompletion(cmd.Root(), opts.Shell, cmd.OutOrStdout())
}

// WriteCompletion writes root's completion script for shell ("bash" or
// "zsh") with cobra's generators: the script asks the berth binary itself
// for candidates, so it stays right as verbs and flags change.
func WriteCompletion(root *cobra.Command, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	}
	return fmt.Errorf("no completion for shell %q (bash, zsh)", shell)
}
