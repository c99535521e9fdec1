package cli

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/opts"
)

// newNetworkCommand is the `network` group: create, connect, disconnect,
// inspect, ls, prune, rm (docker's verbs and flags; one file each, connect
// and disconnect together).
func (c *CLI) newNetworkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network COMMAND",
		Short: "Manage networks",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRun,
	}
	cmd.AddCommand(c.newNetworkConnectCommand(), c.newNetworkCreateCommand(), c.newNetworkDisconnectCommand(),
		c.newNetworkInspectCommand(), c.newNetworkListCommand(), c.newNetworkPruneCommand(), c.newNetworkRemoveCommand())
	return cmd
}

// networkCreateOptions are the flags of `network create`.
type networkCreateOptions struct {
	Driver     string
	DriverOpts *opts.Map
	Labels     *opts.List
	Internal   bool
	IPv4, IPv6 bool
	Attachable bool
	Ingress    bool
	Scope      string
	ConfigOnly bool
	ConfigFrom string
	IPAM       ipamOptions
}

// ipamOptions are the address flags of `network create`. Each --subnet is
// one address pool; --ip-range, --gateway and --aux-address each belong to
// the subnet that holds them.
type ipamOptions struct {
	Driver     string
	Subnets    []string
	IPRanges   []net.IPNet
	Gateways   []net.IP
	AuxAddress *opts.Map
	DriverOpts *opts.Map
}

func (c *CLI) newNetworkCreateCommand() *cobra.Command {
	o := networkCreateOptions{
		DriverOpts: opts.NewMap(nil), Labels: opts.NewList(opts.ValidateLabel),
		IPAM: ipamOptions{AuxAddress: opts.NewMap(nil), DriverOpts: opts.NewMap(nil)},
	}
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a network",
		Args:  requiresArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ipam, err := o.IPAM.config()
			if err != nil {
				return err
			}
			req := client.NetworkCreateOptions{
				Driver: o.Driver, Scope: o.Scope, IPAM: ipam, Internal: o.Internal, Attachable: o.Attachable,
				Ingress: o.Ingress, ConfigOnly: o.ConfigOnly, ConfigFrom: o.ConfigFrom,
				Options: o.DriverOpts.Values(), Labels: opts.KVMap(o.Labels.Values()),
			}
			// The daemon's defaults stand unless the flag was given.
			if cmd.Flags().Changed("ipv4") {
				req.EnableIPv4 = &o.IPv4
			}
			if cmd.Flags().Changed("ipv6") {
				req.EnableIPv6 = &o.IPv6
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			res, err := cl.NetworkCreate(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.ID)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVarP(&o.Driver, "driver", "d", "bridge", "Driver to manage the Network")
	flags.VarP(o.DriverOpts, "opt", "o", "Set driver specific options")
	flags.Var(o.Labels, "label", "Set metadata on a network")
	flags.BoolVar(&o.Internal, "internal", false, "Restrict external access to the network")
	flags.BoolVar(&o.IPv4, "ipv4", true, "Enable or disable IPv4 address assignment")
	flags.BoolVar(&o.IPv6, "ipv6", false, "Enable or disable IPv6 address assignment")
	flags.BoolVar(&o.Attachable, "attachable", false, "Enable manual container attachment")
	flags.BoolVar(&o.Ingress, "ingress", false, "Create swarm routing-mesh network")
	flags.StringVar(&o.Scope, "scope", "", "Control the network's scope")
	flags.BoolVar(&o.ConfigOnly, "config-only", false, "Create a configuration only network")
	flags.StringVar(&o.ConfigFrom, "config-from", "", "The network from which to copy the configuration")
	flags.StringVar(&o.IPAM.Driver, "ipam-driver", "default", "IP Address Management Driver")
	flags.StringSliceVar(&o.IPAM.Subnets, "subnet", nil, "Subnet in CIDR format that represents a network segment")
	flags.IPNetSliceVar(&o.IPAM.IPRanges, "ip-range", nil, "Allocate container ip from a sub-range")
	flags.IPSliceVar(&o.IPAM.Gateways, "gateway", nil, "IPv4 or IPv6 Gateway for the master subnet")
	flags.Var(o.IPAM.AuxAddress, "aux-address", "Auxiliary IPv4 or IPv6 addresses used by Network driver")
	flags.Var(o.IPAM.DriverOpts, "ipam-opt", "Set IPAM driver specific options")
	return cmd
}

// config groups the address flags by subnet, in the order the subnets were
// given, with docker's checks and messages: subnets may not overlap, and
// every range, gateway and auxiliary address must fall in exactly one
// subnet, at most one range and one gateway per subnet.
func (o ipamOptions) config() (*network.IPAM, error) {
	if len(o.Subnets) < len(o.IPRanges) || len(o.Subnets) < len(o.Gateways) {
		return nil, errors.New("every ip-range or gateway must have a corresponding subnet")
	}
	configs := make([]network.IPAMConfig, 0, len(o.Subnets))
	for _, s := range o.Subnets {
		p, err := parseSubnet(s)
		if err != nil {
			return nil, err
		}
		for _, prev := range configs {
			if prev.Subnet.Overlaps(p) {
				return nil, errors.New("multiple overlapping subnet configuration is not supported")
			}
		}
		configs = append(configs, network.IPAMConfig{Subnet: p})
	}
	// owner is the index of the subnet holding a, or -1.
	owner := func(a netip.Addr) int {
		for i, c := range configs {
			if c.Subnet.Masked().Contains(a) {
				return i
			}
		}
		return -1
	}
	for _, n := range o.IPRanges {
		r, ok := prefixOf(n)
		if !ok {
			return nil, fmt.Errorf("invalid ip-range %s", n.String())
		}
		i := owner(r.Addr())
		switch {
		case i < 0:
			return nil, fmt.Errorf("no matching subnet for range %s", r)
		case configs[i].IPRange.IsValid():
			return nil, fmt.Errorf("cannot configure multiple ranges (%s, %s) on the same subnet (%s)", r, configs[i].IPRange, o.Subnets[i])
		}
		configs[i].IPRange = r
	}
	for _, ip := range o.Gateways {
		g, _ := netip.AddrFromSlice(ip)
		g = g.Unmap()
		i := owner(g)
		switch {
		case i < 0:
			return nil, fmt.Errorf("no matching subnet for gateway %s", g)
		case configs[i].Gateway.IsValid():
			return nil, fmt.Errorf("cannot configure multiple gateways (%s, %s) for the same subnet (%s)", g, configs[i].Gateway, o.Subnets[i])
		}
		configs[i].Gateway = g
	}
	aux := o.AuxAddress.Values()
	for _, name := range sortedKeys(aux) {
		a, err := netip.ParseAddr(aux[name])
		if err != nil {
			return nil, fmt.Errorf("invalid aux-address %s=%s: %w", name, aux[name], err)
		}
		i := owner(a)
		if i < 0 {
			return nil, fmt.Errorf("no matching subnet for aux-address %s", a)
		}
		if configs[i].AuxAddress == nil {
			configs[i].AuxAddress = map[string]netip.Addr{}
		}
		configs[i].AuxAddress[name] = a
	}
	return &network.IPAM{Driver: o.Driver, Config: configs, Options: o.DriverOpts.Values()}, nil
}

// parseSubnet reads a --subnet: CIDR notation, or a bare address meaning
// that address alone (/32, /128), as docker takes it. The prefix is kept as
// written ("10.1.2.3/24" is not masked): the daemon judges it.
func parseSubnet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid subnet %s: not an address in CIDR notation (e.g. 10.1.0.0/24)", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// prefixOf converts a parsed --ip-range to a netip.Prefix (an IPv4 range
// stays IPv4 however net stored it).
func prefixOf(n net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	if bits == 128 && a.Is4() {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}
