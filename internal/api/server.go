// Package api serves the Docker Engine API (moby's api/swagger.yaml is the
// contract; its types come from github.com/moby/moby/api) over HTTP.
//
// A request travels:
//
//	ServeHTTP   common headers; "/v1.50/images/json" -> version 1.50 in the context,
//	            path "/images/json" (no prefix means the newest version); a version
//	            outside [MinAPIVersion, APIVersion] is refused with Docker's message
//	mux         Go's ServeMux with method patterns ("GET /images/json"); each area of
//	            the API registers its routes from its own file (system.go, ...)
//	handler     decodes the request, calls the area's backend, encodes the answer;
//	            it returns an error instead of writing one
//	writeError  the one place an error becomes a status and Docker's
//	            {"message": "..."} body, from the error's class (containerd/errdefs)
//
// Each area has a small backend interface here, implemented by the daemon; an
// area whose backend is nil in Options is not served (its routes answer 404).
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Options configure a Server.
type Options struct {
	// System answers the system routes (/_ping, /version, /info, /events, /system/df).
	System SystemBackend
	// Images answers the /images routes.
	Images ImageBackend
	// Containers answers the /containers, /exec and /commit routes.
	Containers ContainerBackend
	// Volumes answers the /volumes routes.
	Volumes VolumeBackend
	// Networks answers the /networks routes (prune, for now).
	Networks NetworkBackend
	// Build answers the /build routes (the cache's prune, for now).
	Build BuildBackend
	// Version is berth's version, sent in the Server header.
	Version string
	// Logger receives request logs (debug) and failures; nil discards them.
	Logger *slog.Logger
	// Activity, when set, is called as each request ends (berthd trims its memory
	// once requests stop coming: internal/idletrim).
	Activity func()
}

// Server is the Engine API server. It is an http.Handler and also runs the
// HTTP server itself over any number of listeners.
type Server struct {
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux
	http *http.Server

	// done is closed when Shutdown begins: long-lived streams (events, later logs
	// and attach) end on it, so they do not hold the shutdown up.
	done     chan struct{}
	doneOnce sync.Once
}

// New returns a server for the areas whose backend opts provides.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: log, mux: http.NewServeMux(), done: make(chan struct{})}
	if opts.System != nil {
		s.systemRoutes(opts.System)
	}
	if opts.Images != nil {
		s.imageRoutes(opts.Images)
	}
	if opts.Containers != nil {
		s.containerRoutes(opts.Containers)
	}
	if opts.Networks != nil {
		s.networkRoutes(opts.Networks)
	}
	if opts.Build != nil {
		s.buildRoutes(opts.Build)
	}
	if opts.Volumes != nil {
		s.volumeRoutes(opts.Volumes)
	}
	s.swarmRoutes()
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.http.RegisterOnShutdown(s.closeDone)
	return s
}

func (s *Server) closeDone() { s.doneOnce.Do(func() { close(s.done) }) }

// handlerFunc is a route's handler: it writes a success itself and returns any
// failure for writeError to report.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle registers h for pattern ("GET /version").
func (s *Server) handle(pattern string, h handlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// ServeHTTP negotiates the API version, sets the headers every response
// carries and routes the request.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w := &responseWriter{ResponseWriter: rw}
	h := w.Header()
	h.Set("Api-Version", APIVersion)
	h.Set("Docker-Experimental", "false")
	h.Set("Ostype", "linux")
	h.Set("Server", "berth/"+s.opts.Version+" (linux)")

	path := r.URL.Path
	r, err := negotiateVersion(r)
	switch {
	case err != nil:
		s.writeError(w, r, err)
	default:
		if _, pattern := s.mux.Handler(r); pattern == "" {
			// Unknown path, or a known path with another method: Docker says 404 to both.
			s.writeError(w, r, errPageNotFound)
		} else {
			s.mux.ServeHTTP(w, r)
		}
	}
	s.log.Debug("api request", "method", r.Method, "path", path, "status", w.status, "duration", time.Since(start))
	if s.opts.Activity != nil {
		s.opts.Activity()
	}
}

// Serve accepts connections on l until Shutdown; it then returns nil.
func (s *Server) Serve(l net.Listener) error {
	if err := s.http.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, ends the long-lived streams and waits
// for the requests in flight to finish. When ctx ends first, it closes every
// connection and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeDone()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	return err
}

// responseWriter remembers the status sent, so that an error after the header
// is only logged and the request log has the status.
type responseWriter struct {
	http.ResponseWriter
	status int // 0 until the header is written
}

func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what is buffered (the header too) to the client.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (for hijacking).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// headerWritten reports whether the status line has gone out.
func headerWritten(w http.ResponseWriter) bool {
	for {
		switch x := w.(type) {
		case *responseWriter:
			return x.status != 0
		case interface{ Unwrap() http.ResponseWriter }:
			w = x.Unwrap()
		default:
			return false
		}
	}
}
