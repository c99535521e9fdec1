package cli

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The container verbs' tests drive berth against fakeDaemon (cli_test.go)
// with the handlers below: replies that record what they were sent, and a
// fake container whose attach, wait and start behave as berthd's do.

// capture records the requests one handler answered.
type capture struct {
	mu      sync.Mutex
	bodies  [][]byte
	queries []url.Values
}

func (c *capture) add(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodies = append(c.bodies, b)
	c.queries = append(c.queries, r.URL.Query())
}

func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bodies)
}

// body decodes the last request's JSON body.
func (c *capture) body(t *testing.T) map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bodies) == 0 {
		t.Fatal("no request was captured")
	}
	var m map[string]any
	if err := json.Unmarshal(c.bodies[len(c.bodies)-1], &m); err != nil {
		t.Fatalf("body %q: %v", c.bodies[len(c.bodies)-1], err)
	}
	return m
}

// query is the last request's query.
func (c *capture) query(t *testing.T) url.Values {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queries) == 0 {
		t.Fatal("no request was captured")
	}
	return c.queries[len(c.queries)-1]
}

// apiError is the daemon's error body.
type apiError string

// reply answers pattern with status and v (JSON; nil for no body) and
// captures the requests.
func (d *fakeDaemon) reply(pattern string, status int, v any) *capture {
	c := &capture{}
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c.add(r)
		if msg, ok := v.(apiError); ok {
			v = map[string]string{"message": string(msg)}
		}
		if v == nil {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	})
	return c
}

// calls lists the requests the daemon received, "METHOD /path", without
// pings.
func (d *fakeDaemon) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, r := range d.requests {
		if r.URL.Path != "/_ping" {
			out = append(out, r.Method+" "+r.URL.Path)
		}
	}
	return out
}

// hijack upgrades an attach or exec start as berthd does and returns the
// raw connection.
func hijack(t *testing.T, w http.ResponseWriter, tty bool) (net.Conn, *bufio.ReadWriter) {
	t.Helper()
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return nil, nil
	}
	media := "application/vnd.docker.multiplexed-stream"
	if tty {
		media = "application/vnd.docker.raw-stream"
	}
	fmt.Fprintf(rw, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", media)
	rw.Flush()
	return conn, rw
}

// fakeContainer is one container of the fake daemon: created as id, it runs
// program once started, with the attached streams, then exits with exit.
type fakeContainer struct {
	id      string
	tty     bool
	exit    int
	program func(stdin io.Reader, stdout, stderr io.Writer)

	started  chan struct{}
	done     chan struct{} // the program returned
	attached atomic.Bool
	once     sync.Once

	create, attach, wait, start *capture
}

// addContainer installs the endpoints of a container that does not exist
// until created.
func (d *fakeDaemon) addContainer(t *testing.T, fc *fakeContainer) *fakeContainer {
	fc.started, fc.done = make(chan struct{}), make(chan struct{})
	fc.attach, fc.wait, fc.start = &capture{}, &capture{}, &capture{}
	fc.create = d.reply("POST /containers/create", http.StatusCreated, map[string]any{"Id": fc.id, "Warnings": []string{}})
	prefix := "/containers/" + fc.id
	d.mux.HandleFunc("POST "+prefix+"/attach", func(w http.ResponseWriter, r *http.Request) {
		fc.attach.add(r)
		fc.attached.Store(true)
		conn, rw := hijack(t, w, fc.tty)
		if conn == nil {
			return
		}
		defer conn.Close()
		q := r.URL.Query()
		var stdin io.Reader = strings.NewReader("")
		if q.Get("stdin") == "1" {
			stdin = rw
		}
		stdout, stderr := io.Writer(io.Discard), io.Writer(io.Discard)
		if fc.tty {
			if q.Get("stdout") == "1" {
				stdout, stderr = conn, conn
			}
		} else {
			if q.Get("stdout") == "1" {
				stdout = frameWriter{conn, 1}
			}
			if q.Get("stderr") == "1" {
				stderr = frameWriter{conn, 2}
			}
		}
		select {
		case <-fc.started:
		case <-r.Context().Done():
			return
		}
		fc.run(stdin, stdout, stderr)
	})
	d.mux.HandleFunc("POST "+prefix+"/wait", func(w http.ResponseWriter, r *http.Request) {
		fc.wait.add(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-fc.started:
		case <-r.Context().Done():
			return
		}
		if !fc.attached.Load() {
			fc.run(strings.NewReader(""), io.Discard, io.Discard)
		}
		select {
		case <-fc.done:
		case <-r.Context().Done():
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"StatusCode": fc.exit})
	})
	d.mux.HandleFunc("POST "+prefix+"/start", func(w http.ResponseWriter, r *http.Request) {
		fc.start.add(r)
		close(fc.started)
		w.WriteHeader(http.StatusNoContent)
	})
	return fc
}

// run runs the program once.
func (fc *fakeContainer) run(stdin io.Reader, stdout, stderr io.Writer) {
	fc.once.Do(func() {
		if fc.program != nil {
			fc.program(stdin, stdout, stderr)
		}
		close(fc.done)
	})
}

const ctrID = "4a1f8e2d9c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a10"

// frameWriter writes stdcopy frames of one stream: an 8-byte header
// (stream, 0, 0, 0, big-endian length) before each write.
type frameWriter struct {
	w      io.Writer
	stream byte
}

func (f frameWriter) Write(b []byte) (int, error) {
	hdr := make([]byte, 8, 8+len(b))
	hdr[0] = f.stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(b)))
	if _, err := f.w.Write(append(hdr, b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}
