package cli

import (
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/network"
)

func TestNewPortBindings(t *testing.T) {
	p80 := network.MustParsePort("80/tcp")
	p53 := network.MustParsePort("53/udp")
	current := network.PortMap{
		p80: {{HostPort: "8080"}, {HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "8081"}},
		p53: {{HostPort: "5353"}},
	}
	got, err := newPortBindings(current, []string{"9090:80", "443"}, []string{"8080:80", "53/udp"})
	if err != nil {
		t.Fatal(err)
	}
	if b := got[p80]; len(b) != 2 || b[0].HostPort != "8081" || b[1].HostPort != "9090" {
		t.Errorf("80/tcp bindings = %+v, want 127.0.0.1:8081 and 9090", b)
	}
	if _, ok := got[p53]; ok {
		t.Error("53/udp still published after --publish-rm 53/udp")
	}
	if _, ok := got[network.MustParsePort("443/tcp")]; !ok {
		t.Error("--publish-add 443 did not publish 443/tcp")
	}
	if len(current[p80]) != 2 || current[p80][0].HostPort != "8080" {
		t.Error("newPortBindings changed the map it was given")
	}
	for _, rm := range []string{"7070:80", "99", "x/tcp"} {
		if _, err := newPortBindings(current, nil, []string{rm}); err == nil {
			t.Errorf("--publish-rm %s of a binding that does not exist succeeded", rm)
		}
	}
}
