package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Positional-argument checks for the image verbs, with docker's wording:
//
//	"berth tag" requires exactly 2 arguments.
//	See 'berth tag --help'.
//
//	Usage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]
//
//	Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
//
// They are not usage errors in docker's sense: the exit status is 1.

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("exactly %d %s", n, plural("argument", n)))
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("at least %d %s", n, plural("argument", n)))
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("at most %d %s", n, plural("argument", n)))
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("at least %d and at most %d %s", lo, hi, plural("argument", hi)))
	}
}

func argsError(cmd *cobra.Command, want string) error {
	return fmt.Errorf("%q requires %s.\nSee '%s --help'.\n\nUsage:  %s\n\n%s",
		cmd.CommandPath(), want, cmd.CommandPath(), cmd.UseLine(), cmd.Short)
}

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
