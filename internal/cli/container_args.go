package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Positional-argument checks for the container and volume verbs, in docker
// 28's words (exit status 1):
//
//	berth: 'berth rename' requires 2 arguments
//
//	Usage:  berth rename CONTAINER NEW_NAME
//
//	Run 'berth rename --help' for more information

func requiresArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argCountError(cmd, fmt.Sprintf("requires %d %s", n, plural("argument", n)), "Run")
	}
}

func requiresMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argCountError(cmd, fmt.Sprintf("requires at least %d %s", n, plural("argument", n)), "See")
	}
}

func requiresMaxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argCountError(cmd, fmt.Sprintf("requires at most %d %s", n, plural("argument", n)), "Run")
	}
}

func requiresRangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argCountError(cmd, fmt.Sprintf("requires at least %d and at most %d %s", lo, hi, plural("argument", hi)), "Run")
	}
}

func argCountError(cmd *cobra.Command, want, verb string) error {
	return fmt.Errorf("%s: '%s' %s\n\nUsage:  %s\n\n%s '%s --help' for more information",
		cmd.Root().Name(), cmd.CommandPath(), want, cmd.UseLine(), verb, cmd.CommandPath())
}
