package api

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// callLog records a fake backend's calls, a line each ("inspect web"), for the
// route tests to compare with what the route should have asked.
type callLog struct {
	callsMu sync.Mutex
	calls   []string
}

func (l *callLog) call(format string, args ...any) {
	l.callsMu.Lock()
	defer l.callsMu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
}

// lastCall returns the newest call line ("" if none) and forgets them all.
func (l *callLog) lastCall() string {
	l.callsMu.Lock()
	defer l.callsMu.Unlock()
	if len(l.calls) == 0 {
		return ""
	}
	c := l.calls[len(l.calls)-1]
	l.calls = nil
	return c
}

// routeCase is one request of a route table, and what must come of it.
type routeCase struct {
	method, target, body string
	status               int
	call                 string // the backend call it makes ("" for none)
	want                 string // the whole body ("" when not checked)
}

// checkRoutes sends each case through h (a JSON body with its content type) and
// checks the status, the one backend call l recorded and the body.
func checkRoutes(t *testing.T, h http.Handler, l *callLog, cases []routeCase) {
	t.Helper()
	for _, c := range cases {
		var hdr map[string]string
		if c.body != "" {
			hdr = jsonHeader
		}
		rec := send(t, h, c.method, c.target, c.body, hdr)
		got := l.lastCall()
		body := strings.TrimSuffix(rec.Body.String(), "\n")
		if rec.Code != c.status || got != c.call || c.want != "" && body != c.want {
			t.Errorf("%s %s:\n got %d %q body %s\nwant %d %q body %s", c.method, c.target, rec.Code, got, body, c.status, c.call, c.want)
		}
	}
}
