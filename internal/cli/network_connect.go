package cli

import (
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-engine/berth/internal/cli/opts"
)

// networkConnectOptions are the flags of `network connect`: the container's
// endpoint on the network.
type networkConnectOptions struct {
	IPv4, IPv6   net.IP
	LinkLocalIPs []net.IP
	Links        *opts.List
	Aliases      []string
	DriverOpts   []string
	GwPriority   int
}

func (c *CLI) newNetworkConnectCommand() *cobra.Command {
	o := networkConnectOptions{Links: opts.NewList(validateLink)}
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  requiresArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ep, err := o.endpoint()
			if err != nil {
				return err
			}
			cl, err := c.Client()
			if err != nil {
				return err
			}
			_, err = cl.NetworkConnect(cmd.Context(), args[0], client.NetworkConnectOptions{Container: args[1], EndpointConfig: ep})
			return err
		},
	}
	flags := cmd.Flags()
	flags.IPVar(&o.IPv4, "ip", nil, `IPv4 address (e.g., "172.30.100.104")`)
	flags.IPVar(&o.IPv6, "ip6", nil, `IPv6 address (e.g., "2001:db8::33")`)
	flags.Var(o.Links, "link", "Add link to another container")
	flags.StringSliceVar(&o.Aliases, "alias", nil, "Add network-scoped alias for the container")
	flags.IPSliceVar(&o.LinkLocalIPs, "link-local-ip", nil, "Add a link-local address for the container")
	flags.StringSliceVar(&o.DriverOpts, "driver-opt", nil, "driver options for the network")
	flags.IntVar(&o.GwPriority, "gw-priority", 0, "Highest gw-priority provides the default gateway. Accepts positive and negative values.")
	return cmd
}

// endpoint is the endpoint configuration the flags ask for. The IPAM
// configuration is always sent, empty when no address was asked for, as
// docker sends it.
func (o networkConnectOptions) endpoint() (*network.EndpointSettings, error) {
	driverOpts, err := driverOptions(o.DriverOpts)
	if err != nil {
		return nil, err
	}
	ipam := &network.EndpointIPAMConfig{IPv4Address: addrOf(o.IPv4), IPv6Address: addrOf(o.IPv6)}
	for _, ip := range o.LinkLocalIPs {
		ipam.LinkLocalIPs = append(ipam.LinkLocalIPs, addrOf(ip))
	}
	return &network.EndpointSettings{
		IPAMConfig: ipam, Links: o.Links.Values(), Aliases: o.Aliases, DriverOpts: driverOpts, GwPriority: o.GwPriority,
	}, nil
}

// driverOptions reads --driver-opt key=value pairs.
func driverOptions(values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(values))
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("invalid key/value pair format in driver options")
		}
		out[k] = strings.TrimSpace(val)
	}
	return out, nil
}

// addrOf converts a parsed address flag (nil when not given: the zero
// Addr, left out of the JSON); an IPv4 address stays IPv4.
func addrOf(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// validateLink checks a --link CONTAINER[:ALIAS].
func validateLink(v string) (string, error) {
	if v == "" {
		return "", errors.New("empty string specified for links")
	}
	if strings.Count(v, ":") > 1 {
		return "", errors.New("bad format for links: " + v)
	}
	return v, nil
}

func (c *CLI) newNetworkDisconnectCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  requiresArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := c.Client()
			if err != nil {
				return err
			}
			_, err = cl.NetworkDisconnect(cmd.Context(), args[0], client.NetworkDisconnectOptions{Container: args[1], Force: force})
			return err
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the container to disconnect from a network")
	return cmd
}
