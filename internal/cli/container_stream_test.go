package cli

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string]string{
		"ctrl-p,ctrl-q": "\x10\x11", "ctrl-a,x": "\x01x", "ctrl-@": "\x00", "ctrl-[,ctrl-_": "\x1b\x1f", "a,b,c": "abc", "CTRL-Z": "\x1a",
	} {
		if got, err := parseDetachKeys(in); err != nil || string(got) != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"ctrl-", "ctrl-1", "alt-x", "ab"} {
		if _, err := parseDetachKeys(in); err == nil || err.Error() != "Unknown character: '"+in+"'" {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestEscapeProxy(t *testing.T) {
	for _, c := range []struct {
		in, keys, out string
		detached      bool
	}{
		{"hello", "\x10\x11", "hello", false},
		{"ab\x10\x11cd", "\x10\x11", "ab", true},
		{"a\x10b\x10\x11", "\x10\x11", "a\x10b", true},
		{"\x10\x10\x11", "\x10\x11", "\x10", true},
		{"tail\x10", "\x10\x11", "tail\x10", false}, // the held key is passed on at the end
		{"q", "q", "", true},
	} {
		// One byte at a time too: the sequence may span reads.
		for _, r := range []io.Reader{strings.NewReader(c.in), iotest.OneByteReader(strings.NewReader(c.in))} {
			p := &escapeProxy{r: r, keys: []byte(c.keys)}
			got, err := io.ReadAll(p)
			if string(got) != c.out || errors.Is(err, errDetached) != c.detached {
				t.Errorf("%q with keys %q: %q %v, want %q detached %v", c.in, c.keys, got, err, c.out, c.detached)
			}
		}
	}
}

func TestForwardSignals(t *testing.T) {
	d := newFakeDaemon(t)
	kills := make(chan string, 4)
	d.mux.HandleFunc("POST /containers/web/kill", func(w http.ResponseWriter, r *http.Request) {
		kills <- r.URL.Query().Get("signal")
		w.WriteHeader(http.StatusNoContent)
	})
	cl, err := client.New(client.WithHost(d.Host()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sigc := make(chan os.Signal, 4)
	sigc <- syscall.SIGCHLD // the shell's business, not forwarded
	sigc <- syscall.SIGTERM
	sigc <- syscall.SIGUSR1
	close(sigc)
	forwardSignals(context.Background(), cl, "web", sigc)
	close(kills)
	var got []string
	for k := range kills {
		got = append(got, k)
	}
	if strings.Join(got, ",") != "TERM,USR1" {
		t.Errorf("forwarded %q", got)
	}
}

func TestDisplayPorts(t *testing.T) {
	any4, lo := netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("127.0.0.1")
	v6 := netip.MustParseAddr("::")
	for _, c := range []struct {
		ports []container.PortSummary
		want  string
	}{
		{nil, ""},
		{[]container.PortSummary{{PrivatePort: 80, Type: "tcp"}}, "80/tcp"},
		{[]container.PortSummary{{IP: any4, PrivatePort: 80, PublicPort: 80, Type: "tcp"}, {IP: any4, PrivatePort: 81, PublicPort: 81, Type: "tcp"}},
			"0.0.0.0:80-81->80-81/tcp"},
		{[]container.PortSummary{{IP: lo, PrivatePort: 80, PublicPort: 8080, Type: "tcp"}, {IP: v6, PrivatePort: 80, PublicPort: 8080, Type: "tcp"},
			{PrivatePort: 53, Type: "udp"}}, "53/udp, 127.0.0.1:8080->80/tcp, [::]:8080->80/tcp"},
		{[]container.PortSummary{{PrivatePort: 3, Type: "tcp"}, {PrivatePort: 1, Type: "tcp"}, {PrivatePort: 2, Type: "tcp"}, {PrivatePort: 5, Type: "tcp"}},
			"1-3/tcp, 5/tcp"},
	} {
		if got := displayPorts(c.ports); got != c.want {
			t.Errorf("%v: %q, want %q", c.ports, got, c.want)
		}
	}
}
