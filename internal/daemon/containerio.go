package daemon

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/logs"
	"github.com/berth-engine/berth/internal/oci"
	"github.com/berth-engine/berth/internal/runtime/shim"
)

// defaultDetachKeys are Docker's: ctrl-p, ctrl-q.
const defaultDetachKeys = "ctrl-p,ctrl-q"

// parseDetachKeys reads Docker's detach key notation ("ctrl-p,ctrl-q", "a,ctrl-@").
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		s = defaultDetachKeys
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c >= '[' && c <= '_':
				out = append(out, c-'['+27)
			default:
				return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unknown character: '%s'", k))
			}
		default:
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Unknown character: '%s'", k))
		}
	}
	return out, nil
}

// pendingAttach is an attach to a container that has not started yet: start
// hands it the shim before the program runs, and waits until it is attached.
type pendingAttach struct {
	shim     chan *shim.Client
	attached chan struct{}
}

// attachPending connects the attaches waiting for container id to its new
// shim, and returns once each has attached (or given up).
func (d *Daemon) attachPending(id string, client *shim.Client) {
	d.pendingMu.Lock()
	waiting := d.pending[id]
	delete(d.pending, id)
	d.pendingMu.Unlock()
	for _, p := range waiting {
		p.shim <- client
		select {
		case <-p.attached:
		case <-time.After(5 * time.Second):
		}
	}
}

// ContainerAttach streams a container's output (and its input, with Stdin and
// the container's OpenStdin) over the hijacked connection until the container
// ends or the client detaches.
func (d *Daemon) ContainerAttach(ctx context.Context, name string, opts AttachOptions, upgrade Upgrade) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	keys, err := parseDetachKeys(opts.DetachKeys)
	if err != nil {
		return err
	}
	s := c.Snapshot()
	if !opts.Stream && !opts.Logs {
		return cerrdefs.ErrInvalidArgument.WithMessage("Bad parameters: you must choose at least one stream")
	}
	var pending *pendingAttach
	if opts.Stream {
		switch s.State.Status {
		case ctr.Paused:
			return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot attach to a paused container, unpause it first"))
		case ctr.Created:
			// Attached before start (docker run, docker start -a): start hands us the shim.
			pending = &pendingAttach{shim: make(chan *shim.Client, 1), attached: make(chan struct{})}
			d.pendingMu.Lock()
			d.pending[s.ID] = append(d.pending[s.ID], pending)
			d.pendingMu.Unlock()
			defer d.dropPending(s.ID, pending)
		}
	}
	conn, err := upgrade(s.Config.Tty)
	if err != nil {
		return err
	}
	defer conn.Close()
	if opts.Logs {
		if err := d.writeLogs(ctx, s, LogsOptions{Stdout: opts.Stdout, Stderr: opts.Stderr, Tail: -1}, conn); err != nil || !opts.Stream {
			return err
		}
	}
	var client *shim.Client
	if pending != nil {
		select {
		case client = <-pending.shim:
		case <-ctx.Done():
			return nil
		case <-d.exitedOrGone(ctx, s.ID):
			return nil
		}
	} else {
		client = d.run.shim(s.ID)
	}
	if client == nil {
		return nil // not running: nothing more to stream
	}
	stream, err := client.Attach(ctx, shim.AttachOpts{Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr, DetachKeys: keys})
	if pending != nil {
		close(pending.attached)
	}
	if err != nil {
		if errors.Is(err, shim.ErrShimGone) {
			return nil
		}
		return err
	}
	d.containerEvent(s, eventtypes.ActionAttach, nil)
	splice(conn, stream, opts.Stdin)
	return nil
}

func (d *Daemon) dropPending(id string, p *pendingAttach) {
	d.pendingMu.Lock()
	defer d.pendingMu.Unlock()
	list := d.pending[id]
	for i, q := range list {
		if q == p {
			d.pending[id] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(d.pending[id]) == 0 {
		delete(d.pending, id)
	}
}

// exitedOrGone is closed once container id has run and exited, or is removed.
func (d *Daemon) exitedOrGone(ctx context.Context, id string) <-chan struct{} {
	ch, _ := d.waiters.watchExit(id)
	return ch
}

// splice copies the process's stream to the client until it ends, and the
// client's input to the process (when it has any) until the client ends it.
func splice(conn io.ReadWriteCloser, stream *shim.Stream, stdin bool) {
	if stdin {
		go func() {
			io.Copy(stream, conn)
			stream.CloseWrite()
		}()
	}
	io.Copy(conn, stream)
	stream.Close()
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// ContainerResize sets the size of a container's terminal.
func (d *Daemon) ContainerResize(ctx context.Context, name string, height, width uint) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	client := d.run.shim(c.ID)
	if client == nil {
		return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.ID))
	}
	return client.Resize(ctx, uint16(height), uint16(width))
}

// ContainerLogs writes a container's logs as docker logs asks for them:
// multiplexed (stdcopy frames) without a TTY, raw with one.
func (d *Daemon) ContainerLogs(ctx context.Context, name string, opts LogsOptions, start func(tty bool) io.Writer) error {
	c, err := d.containers.Get(name)
	if err != nil {
		return err
	}
	s := c.Snapshot()
	if !opts.Stdout && !opts.Stderr {
		return cerrdefs.ErrInvalidArgument.WithMessage("Bad parameters: you must choose at least one stream")
	}
	lc := d.logConfig(s)
	if lc.Driver == logs.None {
		return cerrdefs.ErrNotImplemented.WithMessage(`configured logging driver does not support reading`)
	}
	w := start(s.Config.Tty)
	return d.writeLogs(ctx, s, opts, w)
}

// writeLogs copies the container's log to w, in writes of up to 64 KiB (a
// write per line would cost the client a read per line), flushed at least
// every 50 ms so that a follower sees new lines at once.
func (d *Daemon) writeLogs(ctx context.Context, s *ctr.Container, opts LogsOptions, out io.Writer) error {
	w := newBatchWriter(out, 64<<10, 50*time.Millisecond)
	defer w.Close()
	return d.copyLogs(ctx, s, opts, w)
}

func (d *Daemon) copyLogs(ctx context.Context, s *ctr.Container, opts LogsOptions, w io.Writer) error {
	lc := d.logConfig(s)
	r, err := logs.NewReader(logs.Config{Driver: lc.Driver, Path: lc.Path, Opts: lc.Opts})
	if err != nil {
		return err
	}
	follow := opts.Follow && s.State.Running()
	for msg, err := range r.Read(ctx, logs.ReadOptions{Tail: opts.Tail, Since: opts.Since, Until: opts.Until, Follow: follow}) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		stream := byte(1)
		switch msg.Stream {
		case "stdout":
			if !opts.Stdout {
				continue
			}
		case "stderr":
			if !opts.Stderr {
				continue
			}
			stream = 2
		}
		var line []byte
		if opts.Timestamps {
			line = append(line, msg.Time.UTC().Format(time.RFC3339Nano)...)
			line = append(line, ' ')
		}
		if opts.Details {
			line = append(line, detailsPrefix(msg.Attrs)...)
		}
		line = append(line, msg.Line...)
		if s.Config.Tty {
			_, err = w.Write(line)
		} else {
			err = writeFrame(w, stream, line)
		}
		if err != nil {
			return nil // the client went away
		}
	}
	return nil
}

// detailsPrefix is docker logs --details' "k=v,k2=v2 " before each line.
func detailsPrefix(attrs map[string]string) string {
	if len(attrs) == 0 {
		return ""
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sortStrings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + attrs[k]
	}
	return strings.Join(parts, ",") + " "
}

// writeFrame writes one stdcopy frame: stream byte, three zeros, big-endian
// length, payload.
func writeFrame(w io.Writer, stream byte, p []byte) error {
	buf := make([]byte, 8+len(p))
	buf[0] = stream
	binary.BigEndian.PutUint32(buf[4:8], uint32(len(p)))
	copy(buf[8:], p)
	_, err := w.Write(buf)
	return err
}

// execRecord is one docker exec: made by ExecCreate, run by ExecStart.
type execRecord struct {
	mu          sync.Mutex
	ID          string
	ContainerID string
	Req         container.ExecCreateRequest
	Running     bool
	Started     bool
	ExitCode    *int
	Pid         int
	DetachKeys  []byte
}

// ExecCreate prepares a process to run in a running container.
func (d *Daemon) ExecCreate(ctx context.Context, name string, req container.ExecCreateRequest) (string, error) {
	c, err := d.containers.Get(name)
	if err != nil {
		return "", err
	}
	s := c.Snapshot()
	switch s.State.Status {
	case ctr.Running:
	case ctr.Paused:
		return "", cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is paused, unpause the container before exec", s.ID))
	case ctr.Restarting:
		return "", cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is restarting, wait until the container is running", s.ID))
	default:
		return "", cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", s.ID))
	}
	if len(req.Cmd) == 0 {
		return "", cerrdefs.ErrInvalidArgument.WithMessage("No exec command specified")
	}
	// The keys as given, shown back as Docker does ("" for the default).
	keys := []byte{}
	if req.DetachKeys != "" {
		if keys, err = parseDetachKeys(req.DetachKeys); err != nil {
			return "", err
		}
	}
	var b [32]byte
	rand.Read(b[:])
	e := &execRecord{ID: hex.EncodeToString(b[:]), ContainerID: s.ID, Req: req, DetachKeys: keys}
	d.execMu.Lock()
	d.execs[e.ID] = e
	d.execMu.Unlock()
	d.containerEvent(s, eventtypes.Action("exec_create: "+strings.Join(req.Cmd, " ")), map[string]string{"execID": e.ID})
	return e.ID, nil
}

func (d *Daemon) exec(id string) (*execRecord, error) {
	d.execMu.Lock()
	defer d.execMu.Unlock()
	e, ok := d.execs[id]
	if !ok {
		return nil, cerrdefs.ErrNotFound.WithMessage("No such exec instance: " + id)
	}
	return e, nil
}

// ExecStart runs an exec, detached or streaming over the hijacked connection.
//
// The stream is framed as the start request says (opts.Tty: raw, else stdcopy
// frames), whatever the exec was created with, as Docker does: a terminal's
// output then travels as stdout frames, and a raw stream of a process without a
// terminal carries its stdout only. The process's terminal is the create's. The
// detach keys (the create's, else ctrl-p ctrl-q) work with a terminal only, as
// Docker's: they end the stream and leave the process running. An error once the
// stream has begun is returned: the API writes it into the stream, as stdout.
func (d *Daemon) ExecStart(ctx context.Context, execID string, opts ExecStartOptions, upgrade Upgrade) error {
	e, err := d.exec(execID)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.Started {
		e.mu.Unlock()
		return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("Error: Exec command %s is already running", e.ID))
	}
	e.Started, e.Running = true, true
	e.mu.Unlock()
	c, err := d.containers.Get(e.ContainerID)
	if err != nil {
		return err
	}
	s := c.Snapshot()
	req := e.Req
	if opts.ConsoleSize != nil {
		req.ConsoleSize = opts.ConsoleSize
	}
	var conn io.ReadWriteCloser
	if !opts.Detach {
		if conn, err = upgrade(opts.Tty); err != nil {
			return err
		}
		defer conn.Close()
	}
	fail := func(err error) error {
		// 126 for any program that cannot be started, as dockerd 20.10 answers
		// and docker-py's suites accept (5.x wants 126; 7.x 126 or 127).
		code := 126
		e.mu.Lock()
		e.Running, e.ExitCode = false, &code
		e.mu.Unlock()
		return err
	}
	client := d.run.shim(s.ID)
	if client == nil {
		return fail(cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", s.ID)))
	}
	proc, err := d.execProcess(s, req)
	if err != nil {
		return fail(err)
	}
	eo := shim.ExecOpts{ID: e.ID, Process: proc, Terminal: req.Tty, Stdin: req.AttachStdin && !opts.Detach}
	if !opts.Detach {
		eo.Framing = shim.FramingMultiplexed
		if opts.Tty {
			eo.Framing, eo.NoStderr = shim.FramingRaw, true
		}
		if eo.Terminal && eo.Stdin {
			keys := e.DetachKeys
			if len(keys) == 0 {
				keys, _ = parseDetachKeys(defaultDetachKeys)
			}
			eo.DetachKeys = keys
		}
	}
	stream, pid, err := client.Exec(context.WithoutCancel(ctx), eo)
	if err != nil {
		return fail(translateExecError(err))
	}
	e.mu.Lock()
	e.Pid = pid
	e.mu.Unlock()
	d.containerEvent(s, eventtypes.Action("exec_start: "+strings.Join(req.Cmd, " ")), map[string]string{"execID": e.ID})
	finish := func(st shim.State, err error) {
		e.mu.Lock()
		e.Running = false
		if err == nil && st.Exit != nil {
			code := st.Exit.Code
			e.ExitCode = &code
		}
		code := ""
		if e.ExitCode != nil {
			code = fmt.Sprint(*e.ExitCode)
		}
		e.mu.Unlock()
		d.containerEvent(s, eventtypes.ActionExecDie, map[string]string{"execID": e.ID, "exitCode": code})
	}
	if opts.Detach {
		go func() {
			io.Copy(io.Discard, stream)
			stream.Close()
			finish(client.ExecState(context.Background(), e.ID))
		}()
		return nil
	}
	splice(conn, stream, req.AttachStdin)
	st, err := client.ExecState(context.Background(), e.ID)
	if err == nil && st.Status == shim.StatusRunning {
		// The stream ended first: the client detached, or went away. The process
		// runs on; its exit is recorded when it comes.
		go func() { finish(client.ExecWait(context.Background(), e.ID)) }()
		return nil
	}
	finish(st, err)
	return nil
}

// translateExecError words an exec's failure to start its program as Docker
// does (runc's words through containerd), keeping its class (not found,
// permission denied).
func translateExecError(err error) error {
	msg := "OCI runtime exec failed: exec failed: unable to start container process: " + err.Error() + ": unknown"
	switch {
	case containsAny(err.Error(), "no such file or directory", "executable file not found"):
		return cerrdefs.ErrNotFound.WithMessage(msg)
	case containsAny(err.Error(), "permission denied"):
		return cerrdefs.ErrPermissionDenied.WithMessage(msg)
	}
	return err
}

// execProcess is the process of an exec: the container's own, as its
// config.json has it, changed as the exec asks.
func (d *Daemon) execProcess(s *ctr.Container, req container.ExecCreateRequest) (*specs.Process, error) {
	data, err := os.ReadFile(filepath.Join(d.bundleDir(s.ID), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	if spec.Process == nil {
		return nil, fmt.Errorf("container %s: no process in its spec", s.ID)
	}
	return oci.ExecProcess(spec.Process, d.rootfsDir(s.ID), req, d.host)
}

// ExecInspect describes an exec as docker exec's client reads it.
func (d *Daemon) ExecInspect(ctx context.Context, execID string) (*container.ExecInspectResponse, error) {
	e, err := d.exec(execID)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var args []string
	if len(e.Req.Cmd) > 1 {
		args = e.Req.Cmd[1:]
	}
	priv := e.Req.Privileged
	return &container.ExecInspectResponse{
		ID: e.ID, Running: e.Running, ExitCode: e.ExitCode,
		ProcessConfig: &container.ExecProcessConfig{Tty: e.Req.Tty, Entrypoint: e.Req.Cmd[0], Arguments: nonNil(args), Privileged: &priv, User: e.Req.User},
		OpenStdin:     e.Req.AttachStdin, OpenStdout: e.Req.AttachStdout, OpenStderr: e.Req.AttachStderr,
		CanRemove: !e.Running && e.Started, ContainerID: e.ContainerID, DetachKeys: e.DetachKeys, Pid: e.Pid,
	}, nil
}

// ExecResize sets the size of an exec's terminal.
func (d *Daemon) ExecResize(ctx context.Context, execID string, height, width uint) error {
	e, err := d.exec(execID)
	if err != nil {
		return err
	}
	client := d.run.shim(e.ContainerID)
	if client == nil {
		return cerrdefs.ErrConflict.WithMessage(fmt.Sprintf("container %s is not running", e.ContainerID))
	}
	return client.ResizeExec(ctx, e.ID, uint16(height), uint16(width))
}

// batchWriter gathers small writes into larger ones, and writes out what it
// holds at least every interval (and on Close).
type batchWriter struct {
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	max  int
	err  error
	stop chan struct{}
	done chan struct{}
}

func newBatchWriter(w io.Writer, max int, interval time.Duration) *batchWriter {
	b := &batchWriter{w: w, max: max, buf: make([]byte, 0, max), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.mu.Lock()
				b.flushLocked()
				b.mu.Unlock()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

func (b *batchWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if len(b.buf)+len(p) > b.max {
		b.flushLocked()
	}
	if len(p) >= b.max {
		if _, err := b.w.Write(p); err != nil {
			b.err = err
			return 0, err
		}
		return len(p), nil
	}
	b.buf = append(b.buf, p...)
	return len(p), b.err
}

func (b *batchWriter) flushLocked() {
	if len(b.buf) == 0 || b.err != nil {
		return
	}
	_, b.err = b.w.Write(b.buf)
	b.buf = b.buf[:0]
}

// Close writes out what is left and stops the timer.
func (b *batchWriter) Close() error {
	close(b.stop)
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.err
}
