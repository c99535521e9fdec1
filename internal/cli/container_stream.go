package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Attach (run, start -a, attach) and exec relay the terminal's streams over
// a hijacked connection (see the daemon's side in internal/api):
//
//	stdin  ──────────────────────────────▶ conn          (then half-close)
//	stdout ◀── raw bytes (TTY) or stdcopy frames ── conn  (until EOF)
//	stderr ◀──┘ (frames for stream 2, without a TTY)
//
// With a TTY and stdin attached, the local terminal is put in raw mode for
// the time of the stream, and stdin goes through an escapeProxy watching for
// the detach keys (ctrl-p,ctrl-q unless --detach-keys says otherwise): when
// they are typed the stream ends with errDetached and the container keeps
// running.

// errDetached ends a stream whose user typed the detach keys.
var errDetached = errors.New("read escape sequence")

// defaultDetachKeys are ctrl-p, ctrl-q.
var defaultDetachKeys = []byte{16, 17}

// hijackedIO is one relay between the terminal and a hijacked connection.
type hijackedIO struct {
	in          io.Reader // nil: stdin not attached
	out, errOut io.Writer // nil: stream not attached
	tty         bool
	detachKeys  string    // docker's notation; empty for the default
	stderr      io.Writer // where a warning about the detach keys goes

	prepared bool
	restore  func() // gives the terminal its mode back (once)
}

// prepare puts a terminal stdin in raw mode and watches it for the detach
// keys. Callers that start the container afterwards call it first, so that no
// key typed, and no resize sent, comes before the terminal is raw.
func (h *hijackedIO) prepare() error {
	if h.prepared {
		return nil
	}
	h.prepared, h.restore = true, func() {}
	if h.in == nil || !h.tty {
		return nil
	}
	if isTerminal(h.in) {
		r, err := makeRaw(h.in)
		if err != nil {
			return fmt.Errorf("unable to set IO streams as raw terminal: %w", err)
		}
		h.restore = sync.OnceFunc(r)
	}
	keys := defaultDetachKeys
	if h.detachKeys != "" {
		k, err := parseDetachKeys(h.detachKeys)
		if err != nil {
			fmt.Fprintf(h.stderr, "WARNING: invalid detach escape keys, using default: %v\n", err)
		} else {
			keys = k
		}
	}
	h.in = &escapeProxy{r: h.in, keys: keys}
	return nil
}

// stream relays until the output ends (the container's streams closed), the
// user detaches (errDetached), or ctx ends.
func (h *hijackedIO) stream(ctx context.Context, resp *client.HijackedResponse) error {
	if err := h.prepare(); err != nil {
		return err
	}
	restore, in := h.restore, h.in
	defer restore()

	var outputDone chan error
	if h.out != nil || h.errOut != nil {
		outputDone = make(chan error, 1)
		go func() {
			var err error
			if h.tty {
				_, err = io.Copy(orDiscard(h.out), resp.Reader)
				restore() // as soon as the output ends, so what is printed next reads normally
			} else {
				_, err = stdcopy.StdCopy(orDiscard(h.out), orDiscard(h.errOut), resp.Reader)
			}
			outputDone <- err
		}()
	}

	inputDone := make(chan struct{})
	detached := make(chan error, 1)
	go func() {
		if in != nil {
			_, err := io.Copy(resp.Conn, in)
			restore()
			if errors.Is(err, errDetached) {
				detached <- err
				return
			}
		}
		resp.CloseWrite()
		close(inputDone)
	}()

	select {
	case err := <-outputDone:
		return err
	case <-inputDone:
		if outputDone == nil {
			return nil
		}
		select {
		case err := <-outputDone:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	case err := <-detached:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// parseDetachKeys reads docker's notation for a key sequence: keys separated
// by commas, each a single character or ctrl-<key> with <key> one of a-z,
// @, [, \, ], ^ and _ ("ctrl-p,ctrl-q", "ctrl-a,x").
func parseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, key := range strings.Split(s, ",") {
		if len(key) == 1 {
			out = append(out, key[0])
			continue
		}
		name, ok := strings.CutPrefix(strings.ToLower(key), "ctrl-")
		if !ok || len(name) != 1 {
			return nil, fmt.Errorf("Unknown character: '%s'", key)
		}
		switch c := name[0]; {
		case c >= 'a' && c <= 'z':
			out = append(out, c-'a'+1)
		case c == '@':
			out = append(out, 0)
		case c >= '[' && c <= '_':
			out = append(out, 27+c-'[')
		default:
			return nil, fmt.Errorf("Unknown character: '%s'", key)
		}
	}
	return out, nil
}

// escapeProxy passes a reader's bytes on, holding back those that could
// begin the escape sequence keys: when the whole sequence arrives, it is
// swallowed and the reader ends with errDetached; when it turns out not to
// be the sequence, the held bytes are passed on.
type escapeProxy struct {
	r       io.Reader
	keys    []byte
	matched int    // how many of keys the held bytes match
	pending []byte // bytes ready to be read
	err     error  // the end, once pending is read
	buf     []byte
}

func (p *escapeProxy) Read(b []byte) (int, error) {
	for len(p.pending) == 0 {
		if p.err != nil {
			return 0, p.err
		}
		if cap(p.buf) < len(b) {
			p.buf = make([]byte, len(b))
		}
		n, err := p.r.Read(p.buf[:len(b)])
		for _, c := range p.buf[:n] {
			if p.feed(c) {
				p.err = errDetached
				break
			}
		}
		if err != nil && p.err == nil {
			p.pending = append(p.pending, p.keys[:p.matched]...)
			p.matched = 0
			p.err = err
		}
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}

// feed takes one byte and reports whether it completed the sequence.
func (p *escapeProxy) feed(c byte) bool {
	if c == p.keys[p.matched] {
		p.matched++
		if p.matched == len(p.keys) {
			p.matched = 0
			return true
		}
		return false
	}
	held := p.keys[:p.matched]
	p.matched = 0
	p.pending = append(p.pending, held...)
	if c == p.keys[0] {
		return p.feed(c)
	}
	p.pending = append(p.pending, c)
	return false
}
