package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/moby/moby/api/types"
)

// Attach and exec start turn the HTTP connection into a raw byte stream both
// ways. The client asks with "Connection: Upgrade" and "Upgrade: tcp"; once
// the backend knows whether the stream is a TTY's, it calls upgrade, which
// takes the connection from net/http and answers
//
//	HTTP/1.1 101 UPGRADED                       (200 OK if the client did not ask to upgrade)
//	Content-Type: application/vnd.docker.multiplexed-stream   (raw-stream with a TTY)
//	Connection: Upgrade
//	Upgrade: tcp
//
// after which the client's bytes are the process's stdin and the backend's
// writes its output (raw, or stdcopy frames: an 8-byte header [stream, 0, 0, 0,
// big-endian size] before each chunk).
//
// Ending the stream: the backend closes the connection, or returns. That
// half-closes it (the client reads EOF after the last byte of output, while the
// bytes it is still sending are not refused) and it is closed completely once
// the client hangs up too, or after hijackLinger. When the client hangs up
// first (and entirely), the stream's context is cancelled, so a backend that
// is not reading stdin still learns of it; a client that only half-closes
// (its stdin ended) keeps receiving output.
//
// An exec's failure after the upgrade (its program cannot be started, say) is
// written into the stream, as Docker does: that is where the docker CLI shows
// it. So an exec stream ends when the backend returns, after that message,
// even if the backend closed the connection before returning.

// hijackLinger bounds how long a finished stream waits for the client to hang up.
const hijackLinger = 30 * time.Second

// headReadWait bounds how long the stream's first bytes wait for the client to
// read the head of the answer (see awaitHeadRead). A variable for tests.
var headReadWait = 50 * time.Millisecond

// hijack is the upgrade of one request.
type hijack struct {
	s              *Server
	w              http.ResponseWriter
	r              *http.Request
	cancel         context.CancelFunc // ends the stream's context
	errorsInStream bool               // the backend's error after the upgrade is written into the stream

	mu   sync.Mutex
	conn *hijackedConn // set by upgrade
	tty  bool
}

func (s *Server) newHijack(w http.ResponseWriter, r *http.Request, cancel context.CancelFunc, errorsInStream bool) *hijack {
	return &hijack{s: s, w: w, r: r, cancel: cancel, errorsInStream: errorsInStream}
}

// upgrade is the daemon.Upgrade the backend calls: it answers the request and
// returns the connection.
func (h *hijack) upgrade(tty bool) (io.ReadWriteCloser, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.conn != nil {
		return nil, errors.New("the connection is already upgraded")
	}
	// What is left of the request body would otherwise be read as stdin.
	io.Copy(io.Discard, io.LimitReader(h.r.Body, 1<<20))
	conn, brw, err := http.NewResponseController(h.w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("hijacking the connection: %w", err)
	}
	status := http.StatusSwitchingProtocols
	var head bytes.Buffer
	if _, upgrade := h.r.Header["Upgrade"]; upgrade {
		fmt.Fprintf(&head, "HTTP/1.1 101 UPGRADED\r\nContent-Type: %s\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n",
			streamContentType(h.r.Context(), tty))
	} else {
		status = http.StatusOK
		fmt.Fprintf(&head, "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n", types.MediaTypeRawStream)
	}
	// The headers every answer carries (Api-Version, Server...).
	h.w.Header().WriteSubset(&head, map[string]bool{
		"Content-Type": true, "Connection": true, "Upgrade": true, "Content-Length": true, "Transfer-Encoding": true,
	})
	head.WriteString("\r\n")
	if _, err := conn.Write(head.Bytes()); err != nil {
		conn.Close()
		return nil, fmt.Errorf("answering the upgrade: %w", err)
	}
	awaitHeadRead(conn, headReadWait)
	if rw, ok := h.w.(*responseWriter); ok {
		rw.status = status // for the request log, and so no error is written over the stream
	}
	h.conn = newHijackedConn(conn, brw.Reader, h.cancel, h.errorsInStream)
	h.tty = tty
	go func() {
		select {
		case <-h.s.done:
			h.conn.abort()
		case <-h.conn.aborted:
		}
	}()
	return h.conn, nil
}

// finish ends the request once the backend returned err. Before an upgrade
// err is the route's answer. After it, the answer is the stream: err is
// logged, and written into the stream (as stdout, framed unless TTY) for an
// exec; the stream ends.
func (h *hijack) finish(err error) error {
	h.mu.Lock()
	c, tty := h.conn, h.tty
	h.mu.Unlock()
	if c == nil {
		return err
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		h.s.log.Warn("stream ended with an error", "method", h.r.Method, "path", h.r.URL.Path, "error", err)
		if h.errorsInStream {
			msg := []byte(err.Error() + "\r\n")
			if !tty {
				msg = append(frameHeader(1, len(msg)), msg...)
			}
			c.Write(msg)
		}
	}
	c.end()
	return nil
}

// frameHeader is the stdcopy header of a chunk of size bytes on stream (1 stdout, 2 stderr).
func frameHeader(stream byte, size int) []byte {
	h := []byte{stream, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[4:], uint32(size))
	return h
}

// hijackedConn is the stream handed to the backend.
type hijackedConn struct {
	net.Conn
	r *bufio.Reader // what the client sent after its request is buffered here first

	hangup    chan struct{} // closed when the client has hung up entirely
	stopWatch func()
	hold      bool // Close leaves the ending to finish (an exec's stream)

	endOnce   sync.Once
	abortOnce sync.Once
	aborted   chan struct{} // closed when the connection is closed outright
}

func newHijackedConn(conn net.Conn, r *bufio.Reader, cancel context.CancelFunc, hold bool) *hijackedConn {
	c := &hijackedConn{Conn: conn, r: r, hold: hold, hangup: make(chan struct{}), aborted: make(chan struct{})}
	c.stopWatch = watchHangup(conn, func() {
		close(c.hangup)
		cancel()
	})
	return c
}

func (c *hijackedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Close ends the stream (see end), unless finish is to end it.
func (c *hijackedConn) Close() error {
	if !c.hold {
		c.end()
	}
	return nil
}

// end ends the stream: a half-close, then the full close once the client
// hangs up or after hijackLinger.
func (c *hijackedConn) end() {
	c.endOnce.Do(func() {
		cw, ok := c.Conn.(interface{ CloseWrite() error })
		if !ok || cw.CloseWrite() != nil {
			c.abort()
			return
		}
		go func() {
			t := time.NewTimer(hijackLinger)
			defer t.Stop()
			select {
			case <-c.hangup:
			case <-t.C:
			case <-c.aborted:
			}
			c.abort()
		}()
	})
}

// abort closes the connection outright (at once, or at the end of the linger).
func (c *hijackedConn) abort() {
	c.abortOnce.Do(func() {
		close(c.aborted)
		c.stopWatch()
		c.Conn.Close()
	})
}
