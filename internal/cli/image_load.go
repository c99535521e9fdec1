package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// loadOptions are the flags of `berth load`.
type loadOptions struct {
	Input string
	Quiet bool
}

func (c *CLI) newLoadCommand() *cobra.Command {
	var opts loadOptions
	cmd := &cobra.Command{
		Use:   "load [OPTIONS]",
		Short: "Load an image from a tar archive or STDIN",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runLoad(cmd, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

// runLoad sends the archive (-i, else stdin but never a terminal) and prints
// the daemon's report ("Loaded image: busybox:latest"); progress is shown
// only on a terminal, as docker does.
func (c *CLI) runLoad(cmd *cobra.Command, opts loadOptions) error {
	in := cmd.InOrStdin()
	if opts.Input != "" {
		f, err := os.Open(opts.Input)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	} else if isTerminal(in) {
		return errors.New("requested load from stdin, but stdin is empty")
	}
	out := cmd.OutOrStdout()
	if !isTerminal(out) {
		opts.Quiet = true
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body, err := cl.ImageLoad(cmd.Context(), in, client.ImageLoadWithQuiet(opts.Quiet))
	if err != nil {
		return err
	}
	defer body.Close()
	return displayResponse(out, body)
}

// displayResponse shows a daemon's answer: its JSON message stream as
// progress, anything else as it comes.
func displayResponse(out io.Writer, body io.Reader) error {
	br := bufio.NewReader(body)
	first, err := br.Peek(1)
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the daemon's answer: %w", err)
	}
	if first[0] == '{' {
		return newProgressDisplay(out).Stream(br)
	}
	_, err = io.Copy(out, br)
	return err
}
