package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/opts"
)

// updateOptions are the flags of `update`: the resources a running
// container can change, and its restart policy.
type updateOptions struct {
	BlkioWeight                     uint16
	CPUPeriod, CPUQuota             int64
	CPURtPeriod, CPURtRuntime       int64
	CPUShares, PidsLimit            int64
	CpusetCpus, CpusetMems, Restart string
	Memory, MemoryReservation       opts.MemBytes
	MemorySwap                      opts.MemSwapBytes
	CPUs                            opts.NanoCPUs
	// PublishAdd and PublishRm change the published ports (berth's; see
	// container_update_ports.go).
	PublishAdd, PublishRm []string
}

func (c *CLI) newUpdateCommand() *cobra.Command {
	var o updateOptions
	cmd := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  requiresMinArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().NFlag() == 0 {
				return errors.New("you must provide one or more flags when using this command")
			}
			return c.runUpdate(cmd, o, args)
		},
	}
	flags := cmd.Flags()
	flags.Uint16Var(&o.BlkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	flags.Int64Var(&o.CPUPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	flags.Int64Var(&o.CPUQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	flags.Int64Var(&o.CPURtPeriod, "cpu-rt-period", 0, "Limit the CPU real-time period in microseconds")
	flags.Int64Var(&o.CPURtRuntime, "cpu-rt-runtime", 0, "Limit the CPU real-time runtime in microseconds")
	flags.StringVar(&o.CpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	flags.StringVar(&o.CpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	flags.Int64VarP(&o.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	flags.VarP(&o.Memory, "memory", "m", "Memory limit")
	flags.Var(&o.MemoryReservation, "memory-reservation", "Memory soft limit")
	flags.Var(&o.MemorySwap, "memory-swap", "Swap limit equal to memory plus swap: -1 to enable unlimited swap")
	flags.StringVar(&o.Restart, "restart", "", "Restart policy to apply when a container exits")
	flags.Int64Var(&o.PidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	flags.Var(&o.CPUs, "cpus", "Number of CPUs")
	flags.StringArrayVar(&o.PublishAdd, "publish-add", nil, "Publish a port of the container (as run -p), also while it runs (berth)")
	flags.StringArrayVar(&o.PublishRm, "publish-rm", nil, "Stop publishing a container port (80/tcp) or one binding (8080:80) (berth)")
	return cmd
}

// runUpdate sends one update to each container: the names that took it on
// stdout, then the daemon's warnings, the failures at the end.
func (c *CLI) runUpdate(cmd *cobra.Command, o updateOptions, names []string) error {
	var restart container.RestartPolicy
	if o.Restart != "" {
		var err error
		if restart, err = opts.ParseRestartPolicy(o.Restart); err != nil {
			return err
		}
	}
	res := container.Resources{
		BlkioWeight: o.BlkioWeight, CpusetCpus: o.CpusetCpus, CpusetMems: o.CpusetMems, CPUShares: o.CPUShares,
		Memory: int64(o.Memory), MemoryReservation: int64(o.MemoryReservation), MemorySwap: int64(o.MemorySwap),
		CPUPeriod: o.CPUPeriod, CPUQuota: o.CPUQuota, CPURealtimePeriod: o.CPURtPeriod,
		CPURealtimeRuntime: o.CPURtRuntime, NanoCPUs: int64(o.CPUs),
	}
	if o.PidsLimit != 0 {
		res.PidsLimit = &o.PidsLimit
	}
	cl, err := c.Client()
	if err != nil {
		return err
	}
	portFlags := 0
	for _, f := range []string{"publish-add", "publish-rm"} {
		if cmd.Flags().Changed(f) {
			portFlags++
		}
	}
	portsOnly := cmd.Flags().NFlag() == portFlags
	var warnings, errs []string
	for _, name := range names {
		if len(o.PublishAdd) > 0 || len(o.PublishRm) > 0 {
			if err := updatePorts(cmd.Context(), cl, name, o.PublishAdd, o.PublishRm); err != nil {
				if client.IsErrConnectionFailed(err) {
					return err
				}
				errs = append(errs, err.Error())
				continue
			}
			if portsOnly {
				fmt.Fprintln(cmd.OutOrStdout(), name)
				continue
			}
		}
		r, err := cl.ContainerUpdate(cmd.Context(), name, client.ContainerUpdateOptions{Resources: &res, RestartPolicy: &restart})
		if err != nil {
			if client.IsErrConnectionFailed(err) {
				return err
			}
			errs = append(errs, err.Error())
		} else {
			fmt.Fprintln(cmd.OutOrStdout(), name)
		}
		warnings = append(warnings, r.Warnings...)
	}
	if len(warnings) > 0 {
		fmt.Fprintln(cmd.OutOrStdout(), strings.Join(warnings, "\n"))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}
