package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/berth-engine/berth/internal/api"
	"github.com/berth-engine/berth/internal/daemon"
	"github.com/berth-engine/berth/internal/daemon/config"
	"github.com/berth-engine/berth/internal/idletrim"
)

// serve starts the daemon and serves the API until SIGTERM or SIGINT, then
// shuts down cleanly: it stops accepting connections, ends event streams, gives
// the requests in flight ShutdownTimeout seconds (a second signal cuts that
// short), and removes its sockets and pidfile. Start-up, in order: the data
// root's lock (so a second daemon changes nothing), the pidfile, the sockets.
func serve(cfg *config.Config, build daemon.BuildInfo, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.SlogLevel()}))
	// A closed stderr (the terminal went away) must not kill the daemon.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	d, err := daemon.New(daemon.Options{Config: cfg, Build: build, Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	if err := writePidfile(cfg.Pidfile); err != nil {
		return err
	}
	defer removePidfile(cfg.Pidfile, log)

	var listeners []net.Listener
	for _, path := range cfg.SocketPaths() {
		l, err := api.ListenUnix(path, cfg.Group)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		listeners = append(listeners, l)
	}

	// A burst of requests leaves garbage the collector would keep until the heap
	// doubles: give it back once requests stop for a while.
	trim := idletrim.New(2 * time.Second)
	defer trim.Stop()
	srv := api.New(api.Options{System: d, Images: d, Containers: d, Volumes: d, Networks: d, Build: d, Version: build.Version, Logger: log, Activity: trim.Touch})
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		go func() { serveErr <- srv.Serve(l) }()
		log.Info("API listen on " + l.Addr().String())
	}
	log.Info("daemon started", "version", build.Version, "data-root", cfg.DataRoot, "pid", os.Getpid())

	var failure error
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String())
	case err := <-serveErr:
		failure = fmt.Errorf("serving the API: %w", err)
		log.Error("shutting down", "error", failure)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout)*time.Second)
	defer cancel()
	go func() {
		select {
		case sig := <-sigs:
			log.Warn("second signal: closing the connections in flight", "signal", sig.String())
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("requests still in flight were cut off", "error", err)
	}
	// Serve returns once Shutdown closed its listener (which removes the socket).
	for range listeners {
		if err := <-serveErr; err != nil && failure == nil {
			log.Warn("serving the API", "error", err)
		}
	}
	log.Info("daemon stopped")
	return failure
}
