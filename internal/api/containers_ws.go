package api

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"

	"golang.org/x/net/websocket"
)

// GET /containers/{name}/attach/ws is attach over a websocket, as Docker serves it to
// browsers and web consoles: the handshake happens once the backend has found the
// container (an unknown one is an ordinary 404), the client's messages are the
// container's stdin, and its output comes in messages, binary from API 1.28 on
// (text before), never multiplexed: without a TTY, stdout and stderr are one stream,
// as a websocket cannot tell them apart.

// attachWebsocket answers GET .../attach/ws.
func (s *Server) attachWebsocket(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.streamContext(r)
	defer cancel()
	u := &wsUpgrade{w: w, r: r, binary: !versionBefore(r.Context(), "1.28")}
	err := b.ContainerAttach(ctx, r.PathValue("name"), attachOptions(r), u.upgrade)
	if u.hijacked() {
		u.close()
		if err != nil {
			s.log.Debug("websocket attach ended", "path", r.URL.Path, "error", err)
		}
		return nil // the answer was the handshake, or its refusal
	}
	return err
}

// wsUpgrade is the daemon.Upgrade of one websocket attach.
type wsUpgrade struct {
	w      http.ResponseWriter
	r      *http.Request
	binary bool

	mu        sync.Mutex
	taken     bool          // the connection left net/http
	done      chan struct{} // closed to end the websocket handler (which then closes its connection)
	closeOnce sync.Once
}

var errNotWebsocket = errors.New("attach/ws: the request is not a websocket handshake")

func (u *wsUpgrade) upgrade(tty bool) (io.ReadWriteCloser, error) {
	u.mu.Lock()
	if u.taken {
		u.mu.Unlock()
		return nil, errors.New("the connection is already upgraded")
	}
	u.taken = true
	u.done = make(chan struct{})
	u.mu.Unlock()
	if rw, ok := u.w.(*responseWriter); ok {
		rw.status = http.StatusSwitchingProtocols // for the request log
	}
	conns := make(chan *websocket.Conn, 1)
	served := make(chan struct{})
	srv := websocket.Server{
		// Any origin: the socket is the daemon's own (a unix socket, or TLS with its
		// own authentication), as Docker accepts it.
		Handshake: func(*websocket.Config, *http.Request) error { return nil },
		Handler: func(c *websocket.Conn) {
			conns <- c
			<-u.done
		},
	}
	go func() {
		srv.ServeHTTP(hijacker{u.w}, u.r)
		close(served)
	}()
	select {
	case c := <-conns:
		if u.binary {
			c.PayloadType = websocket.BinaryFrame
		}
		var out io.Writer = c
		if !tty {
			out = &unframer{w: c}
		}
		return wsStream{Reader: c, Writer: out, u: u}, nil
	case <-served:
		return nil, errNotWebsocket
	}
}

func (u *wsUpgrade) hijacked() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.taken
}

// close ends the websocket: its handler returns, which closes the connection.
func (u *wsUpgrade) close() {
	u.closeOnce.Do(func() {
		u.mu.Lock()
		done := u.done
		u.mu.Unlock()
		if done != nil {
			close(done)
		}
	})
}

type wsStream struct {
	io.Reader
	io.Writer
	u *wsUpgrade
}

func (s wsStream) Close() error {
	s.u.close()
	return nil
}

// hijacker gives the websocket server the connection through net/http's response
// controller: it asserts http.Hijacker, which berth's logging writer does not
// implement itself.
type hijacker struct{ http.ResponseWriter }

func (h hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(h.ResponseWriter).Hijack()
}

// unframer writes the payloads of the stdcopy frames written to it: a stream
// without a TTY, unmultiplexed. A frame may arrive in pieces.
type unframer struct {
	w      io.Writer
	header [8]byte
	have   int // bytes of header read
	left   int // bytes of the current frame's payload still to pass on
}

func (u *unframer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if u.left == 0 {
			k := copy(u.header[u.have:], p)
			u.have += k
			p = p[k:]
			if u.have < len(u.header) {
				break
			}
			u.have, u.left = 0, int(binary.BigEndian.Uint32(u.header[4:]))
			continue
		}
		k := min(u.left, len(p))
		if _, err := u.w.Write(p[:k]); err != nil {
			return n - len(p), err
		}
		u.left -= k
		p = p[k:]
	}
	return n, nil
}
