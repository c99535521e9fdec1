package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/docker/go-units"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// cpOptions are the flags of `cp`.
type cpOptions struct {
	FollowLink, Archive, Quiet bool
}

func (c *CLI) newCpCommand() *cobra.Command {
	var o cpOptions
	cmd := &cobra.Command{
		Use:   "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		Short: "Copy files/folders between a container and the local filesystem",
		Long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
		Args: requiresArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return errors.New("source can not be empty")
			}
			if args[1] == "" {
				return errors.New("destination can not be empty")
			}
			if !cmd.Flags().Changed("quiet") {
				o.Quiet = !isTerminal(c.env.Stdout)
			}
			return c.runCp(cmd, o, args[0], args[1])
		},
	}
	flags := cmd.Flags()
	flags.BoolVarP(&o.FollowLink, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	flags.BoolVarP(&o.Archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	flags.BoolVarP(&o.Quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// splitCpArg takes CONTAINER:PATH apart; a local path (absolute, or starting
// with ".") has no container even if it holds a colon.
func splitCpArg(arg string) (ctr, path string) {
	if filepath.IsAbs(arg) || strings.HasPrefix(arg, string(os.PathSeparator)) {
		return "", arg
	}
	ctr, path, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(ctr, ".") {
		return "", arg
	}
	return ctr, path
}

func (c *CLI) runCp(cmd *cobra.Command, o cpOptions, src, dst string) error {
	srcCtr, srcPath := splitCpArg(src)
	dstCtr, dstPath := splitCpArg(dst)
	switch {
	case srcCtr != "" && dstCtr != "":
		return errors.New("copying between containers is not supported")
	case srcCtr != "":
		return c.copyFromContainer(cmd, o, srcCtr, srcPath, dstPath)
	case dstCtr != "":
		return c.copyToContainer(cmd, o, srcPath, dstCtr, dstPath)
	}
	return errors.New("must specify at least one container source")
}

// resolveLocalPath makes a local path absolute, keeping its trailing "/"
// or "/." (they say "a directory", "its contents").
func resolveLocalPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return preserveTrailingDotOrSeparator(abs, p), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	io.Reader
	n *atomic.Int64
}

func (r countingReader) Read(b []byte) (int, error) {
	n, err := r.Reader.Read(b)
	r.n.Add(int64(n))
	return n, err
}

// copyFromContainer fetches the archive of the container's path (GET
// /containers/{id}/archive, its stat in the X-Docker-Container-Path-Stat
// header) and extracts it to dst, or writes it to stdout for "-".
func (c *CLI) copyFromContainer(cmd *cobra.Command, o cpOptions, ctr, srcPath, dst string) error {
	if dst != "-" {
		var err error
		if dst, err = resolveLocalPath(dst); err != nil {
			return err
		}
		if err := validateOutputPath(dst); err != nil {
			return err
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var rebase string
	if o.FollowLink {
		st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: srcPath})
		if err == nil && st.Stat.Mode&os.ModeSymlink != 0 {
			target := st.Stat.LinkTarget
			if !filepath.IsAbs(target) {
				dir, _ := splitPathDirEntry(srcPath)
				target = filepath.Join(dir, target)
			}
			srcPath, rebase = rebaseName(srcPath, target)
		}
	}
	res, err := cl.CopyFromContainer(ctx, ctr, client.CopyFromContainerOptions{SourcePath: srcPath})
	if err != nil {
		return err
	}
	defer res.Content.Close()
	if dst == "-" {
		_, err = io.Copy(cmd.OutOrStdout(), res.Content)
		return err
	}
	var copied atomic.Int64
	content := io.Reader(countingReader{res.Content, &copied})
	src := copyInfo{Path: srcPath, Exists: true, IsDir: res.Stat.Mode.IsDir(), RebaseName: rebase}
	if rebase != "" {
		_, base := splitPathDirEntry(srcPath)
		rebased := rebaseArchive(content, base, rebase)
		defer rebased.Close()
		content = rebased
	}
	err = copyToLocal(content, src, dst)
	if !o.Quiet && err == nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "Successfully copied", units.HumanSizeWithPrecision(float64(copied.Load()), 3), "to", dst)
	}
	return err
}

// copyToContainer sends src (a local path, or a tar on stdin for "-") to the
// container's path (PUT /containers/{id}/archive), after asking the
// container what its destination is (HEAD, following a symlink).
func (c *CLI) copyToContainer(cmd *cobra.Command, o cpOptions, src, ctr, dstPath string) error {
	if src != "-" {
		var err error
		if src, err = resolveLocalPath(src); err != nil {
			return err
		}
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	dst := copyInfo{Path: dstPath}
	st, err := cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: dstPath})
	if err == nil && st.Stat.Mode&os.ModeSymlink != 0 {
		target := st.Stat.LinkTarget
		if !filepath.IsAbs(target) {
			dir, _ := splitPathDirEntry(dstPath)
			target = filepath.Join(dir, target)
		}
		dst.Path = target
		st, err = cl.ContainerStatPath(ctx, ctr, client.ContainerStatPathOptions{Path: target})
	}
	if err == nil {
		if e := irregularFileError(st.Stat.Mode); e != nil {
			return fmt.Errorf(`destination "%s:%s" must be a directory or a regular file: %w`, ctr, dstPath, e)
		}
		dst.Exists, dst.IsDir = true, st.Stat.Mode.IsDir()
	} else if client.IsErrConnectionFailed(err) {
		return err
	}

	var content io.Reader
	var copied atomic.Int64
	dir := dst.Path
	if src == "-" {
		if !dst.IsDir {
			return fmt.Errorf(`destination "%s:%s" must be a directory`, ctr, dstPath)
		}
		content = cmd.InOrStdin()
	} else {
		info, err := localSourceInfo(src, o.FollowLink)
		if err != nil {
			return err
		}
		archive := tarLocal(info)
		defer archive.Close()
		d, prepared, err := prepareArchiveCopy(archive, info, dst)
		if err != nil {
			return err
		}
		defer prepared.Close()
		dir, content = d, countingReader{prepared, &copied}
	}
	_, err = cl.CopyToContainer(ctx, ctr, client.CopyToContainerOptions{
		DestinationPath: filepath.ToSlash(dir), Content: content, CopyUIDGID: o.Archive,
	})
	if !o.Quiet && err == nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "Successfully copied", units.HumanSizeWithPrecision(float64(copied.Load()), 3), "to", ctr+":"+dst.Path)
	}
	return err
}

// validateOutputPath refuses a local destination whose directory is missing
// or which is neither a directory nor a regular file.
func validateOutputPath(path string) error {
	dir := filepath.Dir(filepath.Clean(path))
	if dir != "" && dir != "." {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("invalid output path: directory %q does not exist", dir)
		}
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if e := irregularFileError(fi.Mode()); e != nil {
		return fmt.Errorf("invalid output path: %q must be a directory or a regular file: %w", path, e)
	}
	return nil
}

// irregularFileError says what mode is when it is a device or irregular.
func irregularFileError(mode os.FileMode) error {
	switch {
	case mode&os.ModeDevice != 0:
		return errors.New("got a device")
	case mode&os.ModeIrregular != 0:
		return errors.New("got an irregular file")
	}
	return nil
}
