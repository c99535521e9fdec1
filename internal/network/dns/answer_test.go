package dns

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// Docker's network names may hold spaces and be longer than a DNS label: the
// answers about containers on such networks still go out. Questions and
// answers go through the wire format, as the server's do.
func TestAnswersAboutNetworksWithOddNames(t *testing.T) {
	long := strings.Repeat("n", 70)
	d := NewDirectory()
	for _, ep := range []Endpoint{{Container: idWeb, Name: "web", Addrs: addrs("172.18.0.2")}, {Container: idDB, Name: "db", Addrs: addrs("172.18.0.3")}} {
		d.Add("test 01", ep)
	}
	d.Add(long, Endpoint{Container: idWeb, Name: "web", Addrs: addrs("172.19.0.2")})
	d.Add(long, Endpoint{Container: idDB, Name: "db", Addrs: addrs("172.19.0.3")})
	s := &responder{lookup: d, log: slog.New(slog.DiscardHandler)}
	ask := func(name string, qtype uint16) *mdns.Msg {
		t.Helper()
		wire, err := new(mdns.Msg).SetQuestion(name, qtype).Pack()
		if err != nil {
			t.Fatal(err)
		}
		req := new(mdns.Msg)
		if err := req.Unpack(wire); err != nil {
			t.Fatal(err)
		}
		resp := s.respond(context.Background(), idDB, nil, req)
		if resp == nil {
			t.Fatalf("%s: no answer", name)
		}
		out, err := resp.Pack()
		if err != nil {
			t.Fatalf("%s: the answer cannot be sent: %v", name, err)
		}
		if err := resp.Unpack(out); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := ask(`web.test\ 01.`, mdns.TypeA); len(resp.Answer) != 1 || resp.Answer[0].(*mdns.A).A.String() != "172.18.0.2" {
		t.Errorf(`A web.test\ 01: %v`, resp.Answer)
	}
	if resp := ask("2.0.18.172.in-addr.arpa.", mdns.TypePTR); len(resp.Answer) != 1 || resp.Answer[0].(*mdns.PTR).Ptr != `web.test\ 01.` {
		t.Errorf("PTR 172.18.0.2: %v", resp.Answer)
	}
	// web.nnn...n does not fit in a DNS name: no PTR name, an empty answer.
	if resp := ask("2.0.19.172.in-addr.arpa.", mdns.TypePTR); resp.Rcode != mdns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Errorf("PTR 172.19.0.2: rcode %d, %v", resp.Rcode, resp.Answer)
	}
}
