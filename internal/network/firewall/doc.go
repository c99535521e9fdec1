// Package firewall is berth's packet filter and NAT: published ports,
// outbound masquerading, isolation between networks, internal networks and
// icc=false, programmed in the kernel's nftables over netlink (no nft or
// iptables binary, no proxy process per port).
//
// # Model
//
// The daemon describes the whole desired State (its bridges and every
// published port) and Apply makes the kernel match it in one atomic
// netlink batch: delete berth's table if it exists, create it anew. A
// restart of the daemon therefore never duplicates a rule, a failed Apply
// leaves the previous ruleset whole, and nothing outside berth's table is
// ever flushed, reordered or touched. The table's name comes from the
// caller (DefaultTable, "berth"; tests use "berth-test-..."), so parallel
// daemons and test runs never collide. Remove deletes the table.
//
// AddPorts and RemovePorts change published ports between two Applys by
// adding or deleting elements of the port maps in one batch: no rule
// changes. Apply stays the source of truth; the daemon passes the ports in
// its next State.
//
// # The table
//
// One table of family inet (IPv4 and IPv6 alike). For a dual-stack
// network berth0 172.18.0.0/16 + fd00:18::/64 with -p 8080:80 on
// 172.18.0.2 (testdata/full.nft is a complete example):
//
//	table inet berth {
//		set bridges { type ifname; elements = { "berth0", ... } }
//		map ports_v4      { type inet_proto . inet_service : ipv4_addr . inet_service
//		                    elements = { tcp . 8080 : 172.18.0.2 . 80 } }
//		map ports_v4_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }
//		map ports_v6, ports_v6_addr   (the same for IPv6)
//
//		chain published {           # DNAT by map lookup: one rule per map
//			dnat ip to ip daddr . meta l4proto . th dport map @ports_v4_addr
//			meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports_v4
//			...
//		}
//		chain prerouting {          # nat, priority dstnat (-100)
//			fib daddr type local jump published
//		}
//		chain output {              # nat, priority -100: the host's own connections
//			ip6 daddr ::1 return
//			fib daddr type local jump published
//		}
//		chain postrouting {         # nat, priority srcnat (100)
//			ip saddr 172.18.0.0/16 oifname != "berth0" masquerade              # outbound NAT
//			ip saddr 172.18.0.0/16 oifname "berth0" ct status dnat masquerade  # hairpin
//			oifname @bridges ip saddr 127.0.0.0/8 masquerade                 # host via 127.0.0.1
//		}
//		chain forward {             # filter, priority filter (0), policy accept
//			iifname "br-int" oifname != "br-int" drop      # internal networks
//			oifname "br-int" iifname != "br-int" drop
//			ct state established,related accept
//			ct status dnat accept                           # unless RespectHostFirewall
//			iifname "berth0" oifname @bridges oifname != "berth0" drop   # isolation
//			iifname "br-quiet" oifname "br-quiet" drop      # icc=false
//		}
//	}
//
// A published port is one map element per port: a 1000-port range is 1000
// elements of a hash map (well under a megabyte of kernel memory) and the same
// handful of rules. A mapping with a host address goes in the *_addr map
// and matches only packets to that address; one without matches every
// local address of its family ("fib daddr type local", iptables'
// --dst-type LOCAL), 127.0.0.1 included.
//
// # Published ports
//
// Traffic from outside and from containers (hairpin) is translated in
// prerouting, the host's own in output. The first packet of a connection
// decides; conntrack translates the rest, both ways.
//
//   - From the host to 127.0.0.1: after DNAT the packet has source
//     127.0.0.1 and goes out to the bridge, which Linux refuses unless the
//     bridge has route_localnet=1 (EnableRouteLocalnet); the postrouting
//     masquerade then gives it the bridge's address so the container can
//     answer. [::1] cannot be published (IPv6 has no route_localnet), so
//     the output chain leaves it alone.
//   - Hairpin, a container reaching a published port of its own network:
//     the answer would go straight back over the bridge, untranslated, and
//     be dropped; masquerading such connections (source in the network,
//     translated, leaving by the same bridge) makes the answer come back
//     through the host. The container therefore sees the gateway as the
//     client. When br_netfilter is on, the kernel switches the translated
//     packet back over the bridge instead of routing it, so a container
//     reaching its own published port also needs hairpin mode on its bridge
//     port (IFLA_BRPORT_MODE; `ip link set VETH type bridge_slave hairpin
//     on`): that is the bridge driver's job.
//   - From a container on another berth network: the forward chain's "ct
//     status dnat accept" lets it past the isolation drop, and that
//     network's outbound masquerade applies (as with Docker), so the server
//     sees the target bridge's address.
//   - Removing a port does not cut connections already translated: conntrack
//     keeps their translation until they end.
//
// # How berth's chains meet the host's: priorities and RespectHostFirewall
//
// Every base chain registered on a hook sees a packet, in priority order,
// whichever table it belongs to. An accept verdict ends only the chain that
// gave it (the packet goes on to the next base chain); a drop is final
// everywhere. Hence:
//
//  1. berth's accepts never override anyone's drops. A host firewall's
//     forward chain, at any priority, still judges every packet berth
//     forwards, published ports included. (Docker's long-standing bypass,
//     moby#22054, came from its ACCEPT rules sitting in iptables' shared
//     FORWARD chain ahead of ufw's; with a table of its own berth cannot
//     do that.) The flip side: a host whose forward chain has policy drop
//     (ufw's default, or iptables' FORWARD policy DROP left by Docker) must
//     accept berth's traffic there (oifname/iifname of berth's bridges,
//     "ct status dnat"), or containers get no forwarding at all.
//  2. What no priority can change: DNAT happens in prerouting, before the
//     routing decision, so a published port's traffic is forwarded and
//     never reaches the input hook. A host rule in input ("tcp dport 8080
//     drop") does not see it, with Docker or berth alike. Host rules meant
//     for published ports belong in a prerouting chain with a priority
//     below -100 (type filter, priority dstnat - 10, say), where they see
//     the original destination port before berth translates it, or in a
//     forward chain matching "ct original proto-dst 8080" or "ct status
//     dnat".
//  3. berth's own forward chain, at priority filter (0), has policy accept
//     and only drops it means. By default it accepts every translated
//     connection ("ct status dnat accept") ahead of its isolation and
//     icc=false drops, so a published port answers everyone who can reach
//     the host, containers of other berth networks included (Docker's
//     behaviour). RespectHostFirewall leaves that rule out: translated
//     traffic is judged like any other forwarded packet, berth vouches for
//     nothing, and its isolation and icc drops apply to it too (a container
//     on another network can no longer use a published port through the
//     host). Internal networks drop translated traffic in both modes.
//
// # icc=false: br_netfilter
//
// Two containers on one bridge talk through the bridge's switching, which
// the inet hooks do not see. There are two ways to filter it: a table of
// family bridge (which needs "meta ibrname" to tell bridges apart, that is
// the nft_meta_bridge module, CONFIG_NFT_BRIDGE_META, absent from some
// kernels including berth's CI), or br_netfilter, which passes switched IP
// traffic through the inet hooks with iifname and oifname both the bridge.
// berth uses br_netfilter, as Docker does: one rule per network, the same
// rule whether the kernel switched or routed the packet. It needs the
// br_netfilter module and net.bridge.bridge-nf-call-iptables=1 and
// -ip6tables=1 (EnableBridgeNetfilter); those are per network namespace
// but cover every bridge in it. Without them an icc=false network is not
// enforced.
//
// # What the daemon must set
//
//   - net.ipv4.ip_forward=1 (and net.ipv6.conf.all.forwarding=1 for IPv6);
//   - EnableRouteLocalnet(bridge) after creating each bridge, for ports
//     published on 127.0.0.1 (or on all addresses) to answer on 127.0.0.1;
//   - EnableBridgeNetfilter() when any network has icc=false;
//   - hairpin mode on each container's bridge port (see above);
//   - kernel: nf_tables with the inet family, nft_nat, nft_masq, nft_fib_inet,
//     nft_ct and nf_conntrack (all in distribution kernels; modules load on
//     demand).
package firewall
