package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/opts"
)

// The small container verbs: top, port, diff, export, commit, prune.

func (c *CLI) newTopCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerTop(cmd.Context(), args[0], client.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 20, 1, 3, ' ', 0)
			fmt.Fprintln(w, strings.Join(res.Titles, "\t"))
			for _, p := range res.Processes {
				fmt.Fprintln(w, strings.Join(p, "\t"))
			}
			return w.Flush()
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func (c *CLI) newPortCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List port mappings or a specific mapping for the container",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var port string
			if len(args) > 1 {
				port = args[1]
			}
			return c.runPort(cmd, args[0], port)
		},
	}
}

// runPort lists the published ports ("80/tcp -> 0.0.0.0:8080"), or the
// host addresses of one, in natural order.
func (c *CLI) runPort(cmd *cobra.Command, name, port string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	res, err := cl.ContainerInspect(cmd.Context(), name, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	var ports network.PortMap
	if ns := res.Container.NetworkSettings; ns != nil {
		ports = ns.Ports
	}
	hostAddr := func(b network.PortBinding) string {
		ip := ""
		if b.HostIP.IsValid() {
			ip = b.HostIP.String()
		}
		return net.JoinHostPort(ip, b.HostPort)
	}
	var out []string
	if port != "" {
		num, proto, _ := strings.Cut(port, "/")
		if proto == "" {
			proto = "tcp"
		}
		if _, err := strconv.ParseUint(num, 10, 16); err != nil {
			return fmt.Errorf("Error: invalid port (%s): %w", num, err)
		}
		p, err := network.ParsePort(num + "/" + proto)
		if err != nil {
			return fmt.Errorf("Error: invalid port (%s): %w", num, err)
		}
		if len(ports[p]) == 0 {
			return fmt.Errorf("Error: No public port '%s' published for %s", port, name)
		}
		for _, b := range ports[p] {
			out = append(out, hostAddr(b))
		}
	} else {
		for p, bs := range ports {
			for _, b := range bs {
				out = append(out, fmt.Sprintf("%s -> %s", p, hostAddr(b)))
			}
		}
	}
	if len(out) > 0 {
		slices.SortFunc(out, naturalCompare)
		fmt.Fprintln(cmd.OutOrStdout(), strings.Join(out, "\n"))
	}
	return nil
}

// naturalCompare orders strings with their runs of digits compared as
// numbers ("80/tcp" before "443/tcp").
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, _ := strconv.ParseUint(da, 10, 64)
			nb, _ := strconv.ParseUint(db, 10, 64)
			if na != nb {
				if na < nb {
					return -1
				}
				return 1
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func (c *CLI) newDiffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Inspect changes to files or directories on a container's filesystem",
		Args:  requiresArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerDiff(cmd.Context(), args[0], client.ContainerDiffOptions{})
			if err != nil {
				return err
			}
			for _, ch := range res.Changes {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		},
	}
}

func (c *CLI) newExportCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Export a container's filesystem as a tar archive",
		Args:  requiresArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.runExport(cmd, args[0], output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// runExport streams the container's file system as a tar to stdout (never
// to a terminal) or, with -o, to a file written in place only when complete.
func (c *CLI) runExport(cmd *cobra.Command, name, output string) error {
	out := cmd.OutOrStdout()
	if output == "" && isTerminal(out) {
		return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	body, err := cl.ContainerExport(cmd.Context(), name, client.ContainerExportOptions{})
	if err != nil {
		return err
	}
	defer body.Close()
	if output == "" {
		_, err = io.Copy(out, body)
		return err
	}
	return exportToFile(output, body)
}

// exportToFile writes r to path (mode 0600) through a temporary file beside
// it, so a failed export leaves no partial file.
func exportToFile(path string, r io.Reader) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*")
	if err != nil {
		return fmt.Errorf("failed to export container: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// commitOptions are the flags of `commit`.
type commitOptions struct {
	Pause           bool
	Message, Author string
	Changes         *opts.List
}

func (c *CLI) newCommitCommand() *cobra.Command {
	o := commitOptions{Changes: opts.NewList(nil)}
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  requiresRangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ref string
			if len(args) > 1 {
				ref = args[1]
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.ContainerCommit(cmd.Context(), args[0], client.ContainerCommitOptions{
				Reference: ref, Comment: o.Message, Author: o.Author, Changes: o.Changes.Values(), NoPause: !o.Pause,
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.ID)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.SetInterspersed(false)
	flags.BoolVarP(&o.Pause, "pause", "p", true, "Pause container during commit")
	flags.StringVarP(&o.Message, "message", "m", "", "Commit message")
	flags.StringVarP(&o.Author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	flags.VarP(o.Changes, "change", "c", "Apply Dockerfile instruction to the created image")
	return cmd
}

// containerPruneOptions are the flags of `container prune`.
type containerPruneOptions struct {
	Force   bool
	Filters filterFlag
}

func (c *CLI) newContainerPruneCommand() *cobra.Command {
	var o containerPruneOptions
	cmd := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove all stopped containers",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if !o.Force && !confirm(cmd.InOrStdin(), out, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") {
				return errors.New("container prune has been cancelled")
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			reclaimed, text, err := pruneContainers(cmd, cl, o.Filters.filters)
			if err != nil {
				return err
			}
			if text != "" {
				fmt.Fprintln(out, text)
			}
			fmt.Fprintln(out, "Total reclaimed space:", units.HumanSize(float64(reclaimed)))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&o.Force, "force", "f", false, "Do not prompt for confirmation")
	cmd.Flags().Var(&o.Filters, "filter", `Provide filter values (e.g. "until=<timestamp>")`)
	return cmd
}

// pruneContainers removes the stopped containers and says which went.
func pruneContainers(cmd *cobra.Command, cl *client.Client, filters client.Filters) (uint64, string, error) {
	res, err := cl.ContainerPrune(cmd.Context(), client.ContainerPruneOptions{Filters: filters})
	if err != nil {
		return 0, "", err
	}
	if len(res.Report.ContainersDeleted) == 0 {
		return 0, "", nil
	}
	text := "Deleted Containers:\n" + strings.Join(res.Report.ContainersDeleted, "\n") + "\n"
	return res.Report.SpaceReclaimed, text, nil
}
