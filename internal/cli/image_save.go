package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

// saveOptions are the flags of `berth save`.
type saveOptions struct {
	Images []string
	Output string
}

func (c *CLI) newSaveCommand() *cobra.Command {
	var opts saveOptions
	cmd := &cobra.Command{
		Use:   "save [OPTIONS] IMAGE [IMAGE...]",
		Short: "Save one or more images to a tar archive (streamed to STDOUT by default)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Images = args
			return c.runSave(cmd, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// runSave streams the daemon's archive to stdout (never to a terminal) or
// into the -o file, which appears complete or not at all.
func (c *CLI) runSave(cmd *cobra.Command, opts saveOptions) error {
	out := cmd.OutOrStdout()
	if opts.Output == "" && isTerminal(out) {
		return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
	}
	if opts.Output != "" {
		if err := checkOutputPath(opts.Output); err != nil {
			return fmt.Errorf("failed to save image: %w", err)
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body, err := cl.ImageSave(cmd.Context(), opts.Images)
	if err != nil {
		return err
	}
	defer body.Close()
	if opts.Output == "" {
		_, err := io.Copy(out, body)
		return err
	}
	return writeFileAtomic(opts.Output, body)
}

// checkOutputPath refuses a path whose directory is missing or which is a
// directory itself, before anything is asked of the daemon.
func checkOutputPath(path string) error {
	dir := filepath.Dir(filepath.Clean(path))
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("invalid output path: directory %q does not exist", dir)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("invalid output path: %q is a directory", path)
	}
	return nil
}

// writeFileAtomic copies r into a temporary file beside path and renames it
// into place once complete.
func writeFileAtomic(path string, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".berth-save-")
	if err != nil {
		return fmt.Errorf("failed to save image: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("failed to save image: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("failed to save image: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("failed to save image: %w", err)
	}
	return nil
}
