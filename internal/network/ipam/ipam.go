// Package ipam hands out IP addresses for bridge networks and picks free subnets for new
// ones, as Docker's built-in IPAM does, and remembers every decision on disk so that no
// address is handed out twice, not even across a restart of the daemon.
//
// # The model
//
// A pool belongs to one key the caller chooses (a network's ID; a dual-stack network
// registers one pool per family, e.g. under "ID" and "ID/v6"). A pool is
//
//	subnet    10.0.0.0/24      every address of the network
//	gateway   10.0.0.1         default: the first usable address; never handed out
//	ip-range  10.0.0.128/25    optional (docker's --ip-range): where Request picks from
//	reserved  10.0.0.5 ...     never handed out (docker's --aux-address)
//
// Usable addresses exclude the subnet's network address and, for IPv4, its broadcast
// address (a /31 or /32 has neither, as RFC 3021 allows). Request without an address
// takes the next free usable address of the ip-range (or of the subnet) after the last
// one it handed out, wrapping at the end — round robin, as Docker does, so an address a
// container just released is not given to the next container at once (peers still
// holding ARP entries or connections to it would talk to the wrong one). Request with an
// address takes exactly that address, which may lie anywhere in the subnet, also outside
// the ip-range.
//
// # On disk
//
// One JSON file, <dir>/ipam.json, rewritten atomically (temporary file, fsync, rename,
// fsync of the directory) before any change is reported to the caller:
//
//	{"version": 1,
//	 "pools": {"<key>": {"subnet": "10.0.0.0/24", "gateway": "10.0.0.1",
//	                     "ipRange": "", "reserved": [], "allocated": ["10.0.0.2"],
//	                     "last": "10.0.0.2"}}}
//
// "last" is the round-robin cursor; it survives a restart too. Addresses handed out and
// then forgotten by a crashed caller stay allocated until the caller releases them: the
// daemon compares Allocated with the endpoints it knows when it starts.
package ipam

import "github.com/containerd/errdefs"

// Errors a caller can test for with errors.Is. Each also belongs to an errdefs class
// (conflict, unavailable, invalid argument, permission denied — the last as Docker
// answers 403 to an overlapping pool), so the API layer maps them to an HTTP status
// without knowing this package.
var (
	// ErrAddressInUse: the requested address is allocated, reserved or the gateway.
	ErrAddressInUse = errdefs.ErrConflict.WithMessage("Address already in use")
	// ErrNoAvailable: every usable address of the pool (or its ip-range) is taken.
	ErrNoAvailable = errdefs.ErrUnavailable.WithMessage("no available addresses on this pool")
	// ErrOutOfRange: the requested address is not a usable address of the subnet.
	ErrOutOfRange = errdefs.ErrInvalidArgument.WithMessage("requested address is out of range")
	// ErrPoolOverlap: a subnet overlaps one already registered.
	ErrPoolOverlap = errdefs.ErrPermissionDenied.WithMessage("Pool overlaps with other one on this address space")
	// ErrNoSubnet: no default address pool has a subnet left that overlaps nothing.
	ErrNoSubnet = errdefs.ErrUnavailable.WithMessage("could not find an available, non-overlapping address pool among the defaults to assign to the network")
)
