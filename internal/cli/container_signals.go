package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/client"
)

// forwardSignals sends each signal arriving on sigc to the container as
// POST /containers/{id}/kill?signal=NAME, as docker's --sig-proxy does,
// until sigc closes or ctx ends. Signals the Go runtime or the terminal use
// for themselves (SIGCHLD, SIGPIPE, SIGURG) are not forwarded.
func forwardSignals(ctx context.Context, cl *client.Client, id string, sigc <-chan os.Signal) {
	for {
		var s os.Signal
		var ok bool
		select {
		case s, ok = <-sigc:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
		name := forwardedSignalName(s)
		if name == "" {
			continue
		}
		cl.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: name})
	}
}

// monitorTTYSize keeps the container's (or exec's) terminal the size of the
// local one: once now, and again whenever the local window changes, until
// ctx ends or stop is called (stop returns once the watch has ended). The
// first resize may come before the daemon has the terminal ready, so it is
// retried a few times, as docker does.
func (c *CLI) monitorTTYSize(ctx context.Context, cl *client.Client, id string, exec bool) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	changes, unnotify := notifyResize()
	resize := func() error {
		h, w, ok := terminalSize(c.env.Stdout)
		if !ok || h == 0 && w == 0 {
			return nil
		}
		if exec {
			_, err := cl.ExecResize(ctx, id, client.ExecResizeOptions{Height: h, Width: w})
			return err
		}
		_, err := cl.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
		return err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unnotify()
		var err error
		for retry := 0; retry < 10; retry++ {
			if err = resize(); err == nil || ctx.Err() != nil {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(retry+1) * 10 * time.Millisecond):
			}
		}
		if err != nil && ctx.Err() == nil {
			fmt.Fprintln(c.env.Stderr, "failed to resize tty, using default size")
		}
		for {
			select {
			case <-ctx.Done():
				return
			case <-changes:
				resize()
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
