// Package dns is the embedded DNS server of containers on user-defined
// networks, as Docker's: inside such a container /etc/resolv.conf says
// "nameserver 127.0.0.11", and the server behind that address answers the
// names of the other containers on the container's networks and forwards
// every other question to the host's resolvers.
//
// # The model
//
// One Resolver serves every container. For each container the daemon calls
// ListenInNetns with the path of the container's network namespace
// (/proc/PID/ns/net or a bind mount of it): the Resolver enters that namespace
// on a locked OS thread just long enough to create a UDP and a TCP socket bound
// to 127.0.0.11:53, then returns to its own namespace. A socket stays in the
// namespace it was created in, so the daemon serves all containers from its own
// goroutines and forwards questions from the host's namespace, where the host's
// resolvers, even loopback ones such as systemd-resolved's 127.0.0.53, are
// reachable. (Docker binds a random port and DNATs 127.0.0.11:53 to it with
// iptables inside the container; binding port 53 directly needs no rules,
// because the container's lo is its own: 127.0.0.0/8 is on lo once lo is up.)
//
// The socket a question arrives on tells which container asked. The Resolver
// hands that container (ListenConfig.Container) and the question's name to the
// daemon's Lookup, which knows which containers share a network with it:
//
//	query from c1: "web."  -> Lookup.LookupHost("c1", "web")   -> 172.18.0.3
//	query from c1: "3.0.18.172.in-addr.arpa." PTR
//	                       -> Lookup.LookupAddr("c1", 172.18.0.3) -> "web.mynet"
//	query from c1: "example.com." -> not a container name -> the upstreams
//
// Directory is a ready Lookup: the endpoints of each network (container name,
// 12-digit short ID, hostname, --network-alias names and addresses), and the
// aliases of legacy links on a user network, which only the container holding
// the link sees.
//
// Answers for container names carry TTL 600 as Docker's. A container name
// asked for a record type it has none of (AAAA of an IPv4-only container, MX)
// gets an empty NOERROR answer, not a forward. Other names go to the
// listener's upstreams in order, over UDP and again over TCP when the UDP
// answer is truncated, each with a timeout; an upstream's SERVFAIL or REFUSED
// moves on to the next; when all fail the answer is SERVFAIL. A listener
// without upstreams (a container on --internal networks only) answers
// NXDOMAIN for names it does not know.
//
// # Cost per container
//
// Two sockets (file descriptors) in the daemon, two entries in one epoll set
// and a listener record of a few hundred bytes: an idle container costs no
// goroutine and no thread. The Resolver as a whole parks one goroutine on its
// epoll descriptor in Go's netpoller. A question in flight costs one
// short-lived goroutine (bounded per container and in total; beyond the bound
// the answer is SERVFAIL at once), and a TCP connection one goroutine while it
// stays open (bounded per container).
//
// # resolv.conf
//
// UserNetworkResolvConf renders the file a container on a user network gets
// (nameserver 127.0.0.11, the host's or the container's search and options,
// options ndots:0), DefaultBridgeResolvConf the one for the default bridge
// (the host's nameservers minus loopback ones), and Upstreams the servers the
// embedded server forwards to for a container.
package dns
