// Package network is berth's bridge driver: the networks containers join, and what
// joining one means on the host.
//
// A Controller keeps the networks (the predefined bridge, host and none, and the
// user-defined bridge networks) in one atomically written file, and for each running
// container a Sandbox: its endpoints and published ports. The pieces it composes
// each live in a package of their own:
//
//	ipam/      addresses: one pool per network and family, nothing handed out twice
//	link/      the bridge, and a veth pair per endpoint into the container's namespace
//	firewall/  berth's nftables table: outbound NAT, published ports as map elements,
//	           internal networks, isolation, icc=false
//	dns/       the embedded DNS server (127.0.0.11) of containers on user networks
//
// A container's life as the daemon drives it:
//
//	create (the runtime makes the network namespace) -> Join(namespace, networks,
//	ports): addresses, veths, published ports, names -> start -> ... exit -> Leave:
//	names, ports and addresses released; the veths went with the namespace
//
// The daemon records each container's Sandbox; after a restart it hands the running
// ones to Restore, which reprograms the firewall in one batch (no duplicated rule)
// and releases what nobody holds: addresses, and the veths and bridges this daemon
// made (marked as its own, see link/) that no container or network needs. Open has
// already removed such bridges, unless a port still hangs on one.
package network
