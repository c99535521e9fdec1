package dns

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
)

// containerTTL is the TTL of the records of container names, Docker's.
const containerTTL = 600

// maxUDPSize is the largest UDP answer the server sends, whatever size a
// client's EDNS0 record offers (the common safe size against fragmentation).
const maxUDPSize = 4096

// responder turns one question from one container into its answer: from the
// Lookup, or from the upstream resolvers.
type responder struct {
	lookup Lookup
	fwd    forwarder
	log    *slog.Logger
}

// respond answers req, asked by container from whose upstreams are
// upstreams. It returns nil for a message that deserves no answer (a response
// sent to the server).
func (s *responder) respond(ctx context.Context, from string, upstreams []netip.AddrPort, req *mdns.Msg) *mdns.Msg {
	if req.Response {
		return nil
	}
	if req.Opcode != mdns.OpcodeQuery {
		return reply(req, mdns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return reply(req, mdns.RcodeFormatError)
	}
	q := req.Question[0]
	if q.Qclass == mdns.ClassINET || q.Qclass == mdns.ClassANY {
		if resp := s.local(from, req, q); resp != nil {
			return resp
		}
	}
	if len(upstreams) == 0 {
		return reply(req, mdns.RcodeNameError)
	}
	resp, err := s.fwd.forward(ctx, req, upstreams)
	if err != nil {
		s.log.Debug("embedded dns: forwarding failed", "container", from, "name", q.Name, "type", mdns.TypeToString[q.Qtype], "err", err)
		return reply(req, mdns.RcodeServerFailure)
	}
	return resp
}

// local answers q from the Lookup, or returns nil when q is not about a
// container.
func (s *responder) local(from string, req *mdns.Msg, q mdns.Question) *mdns.Msg {
	name := canonicalName(q.Name)
	if q.Qtype == mdns.TypePTR {
		if addr, ok := reverseAddr(name); ok {
			names, found := s.lookup.LookupAddr(from, addr)
			if !found {
				return nil
			}
			resp := reply(req, mdns.RcodeSuccess)
			resp.Authoritative = true
			for _, n := range names {
				// A network's name may be longer than a DNS label (63 bytes): such a
				// name is left out, as the whole answer could not be sent.
				if _, ok := mdns.IsDomainName(mdns.Fqdn(n)); ok {
					resp.Answer = append(resp.Answer, &mdns.PTR{Hdr: header(q.Name, mdns.TypePTR), Ptr: mdns.Fqdn(n)})
				}
			}
			return resp
		}
	}
	addrs, found := s.lookup.LookupHost(from, name)
	if !found {
		return nil
	}
	resp := reply(req, mdns.RcodeSuccess)
	resp.Authoritative = true
	// Spread the clients of a shared alias over its containers, as Docker
	// does (on a copy: the slice may be the Lookup's own).
	addrs = slices.Clone(addrs)
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	for _, a := range addrs {
		a = a.Unmap()
		switch {
		case a.Is4() && (q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY):
			resp.Answer = append(resp.Answer, &mdns.A{Hdr: header(q.Name, mdns.TypeA), A: a.AsSlice()})
		case a.Is6() && (q.Qtype == mdns.TypeAAAA || q.Qtype == mdns.TypeANY):
			resp.Answer = append(resp.Answer, &mdns.AAAA{Hdr: header(q.Name, mdns.TypeAAAA), AAAA: a.AsSlice()})
		}
	}
	return resp
}

// reply is the empty answer to req with rcode, with an EDNS0 record when req
// has one (RFC 6891).
func reply(req *mdns.Msg, rcode int) *mdns.Msg {
	resp := new(mdns.Msg)
	resp.SetRcode(req, rcode)
	resp.RecursionAvailable = true
	if req.IsEdns0() != nil {
		resp.SetEdns0(maxUDPSize, false)
	}
	return resp
}

func header(name string, rrtype uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: rrtype, Class: mdns.ClassINET, Ttl: containerTTL}
}

// udpLimit is the size an answer to req sent over UDP may have: 512 bytes,
// or what the client's EDNS0 record offers, up to maxUDPSize.
func udpLimit(req *mdns.Msg) int {
	size := mdns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil && int(opt.UDPSize()) > size {
		size = min(int(opt.UDPSize()), maxUDPSize)
	}
	return size
}

// sameQuestion reports whether an upstream's answer answers req's question
// (names compared without regard to case: some resolvers randomise it).
func sameQuestion(req, resp *mdns.Msg) bool {
	if len(req.Question) != len(resp.Question) {
		return false
	}
	for i, q := range req.Question {
		r := resp.Question[i]
		if q.Qtype != r.Qtype || q.Qclass != r.Qclass || !strings.EqualFold(q.Name, r.Name) {
			return false
		}
	}
	return true
}
