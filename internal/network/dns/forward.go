package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	mdns "github.com/miekg/dns"
)

// DefaultForwardTimeout is how long the server waits for one upstream
// resolver before it asks the next (Docker's 4 s).
const DefaultForwardTimeout = 4 * time.Second

// forwarder asks upstream resolvers the questions the Lookup does not know.
// Its sockets are created by the calling goroutine's thread, so in the
// daemon's network namespace.
type forwarder struct {
	timeout time.Duration
}

// errUpstream is an upstream that answered, but with SERVFAIL or REFUSED.
var errUpstream = errors.New("upstream failed")

// forward asks servers in order and returns the first answer that is neither
// SERVFAIL nor REFUSED. It fails when every server failed.
func (f forwarder) forward(ctx context.Context, req *mdns.Msg, servers []netip.AddrPort) (*mdns.Msg, error) {
	var errs []error
	for _, s := range servers {
		resp, err := f.exchange(ctx, req, s)
		if err == nil && (resp.Rcode == mdns.RcodeServerFailure || resp.Rcode == mdns.RcodeRefused) {
			err = fmt.Errorf("%w: %s", errUpstream, mdns.RcodeToString[resp.Rcode])
		}
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("upstream %s: %w", s, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// exchange asks one server over UDP, and over TCP when the UDP answer is
// truncated, within f.timeout in all.
func (f forwarder) exchange(ctx context.Context, req *mdns.Msg, server netip.AddrPort) (*mdns.Msg, error) {
	timeout := f.timeout
	if timeout <= 0 {
		timeout = DefaultForwardTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := exchangeOver(ctx, "udp", req, server)
	if err == nil && resp.Truncated {
		resp, err = exchangeOver(ctx, "tcp", req, server)
	}
	if err != nil {
		return nil, err
	}
	if !sameQuestion(req, resp) {
		return nil, fmt.Errorf("answer to another question (%v)", resp.Question)
	}
	return resp, nil
}

// exchangeOver sends req to server over network ("udp" or "tcp") and reads
// the answer; cancelling ctx closes the connection at once.
func exchangeOver(ctx context.Context, network string, req *mdns.Msg, server netip.AddrPort) (*mdns.Msg, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, server.String())
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	// Room for any answer: without EDNS0 a compliant server sends at most
	// 512 bytes, but not every server is compliant.
	c := mdns.Client{Net: network, UDPSize: mdns.MaxMsgSize}
	resp, _, err := c.ExchangeWithConnContext(ctx, req, &mdns.Conn{Conn: nc})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", network, ctx.Err())
		}
		return nil, fmt.Errorf("%s: %w", network, err)
	}
	return resp, nil
}
