package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-engine/berth/internal/daemon"
)

// The container routes that stream: wait (headers first, the result later),
// logs and stats (a response written as the backend produces it, flushed as
// it goes), attach and exec start (the connection hijacked and handed to the
// backend, see containers_hijack.go). Each runs under a context that also ends
// when the server shuts down, so no stream holds a shutdown up.

func (s *Server) containerStreamRoutes(b ContainerBackend) {
	s.handle("POST /containers/{name}/wait", func(w http.ResponseWriter, r *http.Request) error { return s.waitContainer(b, w, r) })
	s.handle("GET /containers/{name}/logs", func(w http.ResponseWriter, r *http.Request) error { return s.containerLogs(b, w, r) })
	s.handle("GET /containers/{name}/stats", func(w http.ResponseWriter, r *http.Request) error { return s.containerStats(b, w, r) })
	s.handle("POST /containers/{name}/attach", func(w http.ResponseWriter, r *http.Request) error { return s.attachContainer(b, w, r) })
	s.handle("GET /containers/{name}/attach/ws", func(w http.ResponseWriter, r *http.Request) error { return s.attachWebsocket(b, w, r) })
	s.handle("POST /exec/{id}/start", func(w http.ResponseWriter, r *http.Request) error { return s.startExec(b, w, r) })
}

// streamContext returns r's context, also cancelled when the server shuts down.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// waitContainer answers POST .../wait. Since API 1.30 the 200 and its headers
// are sent as soon as the wait is in place, before the condition is met: the
// docker CLI sends wait before start and relies on that. The body is then
// {"StatusCode": N, "Error": {"Message": ...}} when the condition is met.
func (s *Server) waitContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	legacy := versionBefore(r.Context(), "1.30") // no condition, headers with the result
	cond := container.WaitConditionNotRunning
	silentRemovalError := false // before 1.34 a failed removal ended the wait with an empty body
	if v := r.URL.Query().Get("condition"); v != "" && !legacy {
		switch c := container.WaitCondition(v); c {
		case container.WaitConditionNotRunning, container.WaitConditionNextExit:
			cond = c
		case container.WaitConditionRemoved:
			cond = c
			silentRemovalError = versionBefore(r.Context(), "1.34")
		default:
			return invalidf("invalid condition: %q", v)
		}
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	results, err := b.ContainerWait(ctx, r.PathValue("name"), cond)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	rc := http.NewResponseController(w)
	if !legacy {
		w.WriteHeader(http.StatusOK)
		if err := rc.Flush(); err != nil {
			return nil // the client is gone
		}
	}
	select {
	case res, ok := <-results:
		if !ok || silentRemovalError && res.Error != nil {
			return nil // an empty body: the client reports the wait failed
		}
		if legacy {
			w.WriteHeader(http.StatusOK)
		}
		return json.NewEncoder(w).Encode(res)
	case <-ctx.Done():
		return nil
	}
}

// streamContentType is the Content-Type of attach, exec and logs streams:
// raw with a TTY; multiplexed (stdcopy frames) otherwise, a type API 1.42
// introduced (older clients are told "raw" and know the framing anyway).
func streamContentType(ctx context.Context, tty bool) string {
	if tty || versionBefore(ctx, "1.42") {
		return types.MediaTypeRawStream
	}
	return types.MediaTypeMultiplexedStream
}

// containerLogs answers GET .../logs. The query is checked before the stream
// starts, because once the 200 is out an error can no longer change the status.
func (s *Server) containerLogs(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	opts := daemon.LogsOptions{
		Follow:     boolValue(r, "follow"),
		Stdout:     boolValue(r, "stdout"),
		Stderr:     boolValue(r, "stderr"),
		Timestamps: boolValue(r, "timestamps"),
		Details:    boolValue(r, "details"),
		Tail:       tailLines(q.Get("tail")),
	}
	if !opts.Stdout && !opts.Stderr {
		return errdefs.ErrInvalidArgument.WithMessage("must specify at least one of 'stdout' or 'stderr'")
	}
	if v := q.Get("since"); v != "" {
		sec, nsec, err := unixTimestamp("since", v)
		if err != nil {
			return err
		}
		opts.Since = time.Unix(sec, nsec)
	}
	if v := q.Get("until"); v != "" && v != "0" {
		sec, nsec, err := unixTimestamp("until", v)
		if err != nil {
			return err
		}
		opts.Until = time.Unix(sec, nsec)
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	started := false
	start := func(tty bool) io.Writer {
		started = true
		w.Header().Set("Content-Type", streamContentType(ctx, tty))
		w.WriteHeader(http.StatusOK)
		fw := flushWriter{w: w, rc: http.NewResponseController(w)}
		fw.rc.Flush()
		return fw
	}
	err := b.ContainerLogs(ctx, r.PathValue("name"), opts, start)
	if started && ctx.Err() != nil {
		return nil // the client left, or the server is shutting down
	}
	return err
}

// tailLines reads ?tail: a number of lines, or everything for "all", an
// empty, negative or unreadable value (Docker ignores what it cannot read).
func tailLines(v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// flushWriter sends each write to the client at once.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, f.rc.Flush()
}

// containerStats answers GET .../stats: one JSON object, or (?stream, the
// default) one per line as the backend samples them, each flushed. The 200 goes
// out with the first sample, so an unknown container is still a 404.
func (s *Server) containerStats(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	opts := daemon.StatsOptions{Stream: boolValueOrDefault(r, "stream", true)}
	if !versionBefore(r.Context(), "1.41") {
		opts.OneShot = boolValue(r, "one-shot")
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	started := false
	send := func(st *container.StatsResponse) error {
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if err := enc.Encode(st); err != nil {
			return err
		}
		return rc.Flush()
	}
	err := b.ContainerStats(ctx, r.PathValue("name"), opts, send)
	if started && ctx.Err() != nil {
		return nil // the client left, or the server is shutting down
	}
	return err
}

// attachContainer answers POST .../attach by hijacking the connection once the
// backend knows the stream's kind; an error before that is an ordinary answer.
func (s *Server) attachContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.streamContext(r)
	defer cancel()
	h := s.newHijack(w, r, cancel, false)
	return h.finish(b.ContainerAttach(ctx, r.PathValue("name"), attachOptions(r), h.upgrade))
}

// attachOptions reads an attach's query (attach and attach/ws take the same).
func attachOptions(r *http.Request) daemon.AttachOptions {
	return daemon.AttachOptions{
		Stream:     boolValue(r, "stream"),
		Logs:       boolValue(r, "logs"),
		Stdin:      boolValue(r, "stdin"),
		Stdout:     boolValue(r, "stdout"),
		Stderr:     boolValue(r, "stderr"),
		DetachKeys: r.URL.Query().Get("detachKeys"),
	}
}

// errDetachedExec is what a backend gets if it asks to stream a detached exec.
var errDetachedExec = errors.New("a detached exec has no stream")

// startExec answers POST /exec/{id}/start. Detached, it answers an empty 200
// once the process started; else the connection is hijacked as for attach, and
// an error after that is written into the stream as Docker does.
func (s *Server) startExec(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	var req container.ExecStartRequest
	if _, err := readJSON(r, &req); err != nil {
		return err
	}
	if req.ConsoleSize != nil && (!req.Tty || versionBefore(r.Context(), "1.42")) {
		req.ConsoleSize = nil
	}
	opts := daemon.ExecStartOptions{Detach: req.Detach, Tty: req.Tty, ConsoleSize: req.ConsoleSize}
	id := r.PathValue("id")
	if req.Detach {
		// The process outlives this request: it must not end with its context.
		noStream := func(bool) (io.ReadWriteCloser, error) { return nil, errDetachedExec }
		return emptyOK(w, b.ExecStart(context.WithoutCancel(r.Context()), id, opts, noStream))
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	h := s.newHijack(w, r, cancel, true)
	return h.finish(b.ExecStart(ctx, id, opts, h.upgrade))
}
