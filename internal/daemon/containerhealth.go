package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	ctr "github.com/berth-engine/berth/internal/container"
	"github.com/berth-engine/berth/internal/runtime/shim"
)

// Docker's health check defaults and limits.
const (
	defaultProbeInterval      = 30 * time.Second
	defaultProbeTimeout       = 30 * time.Second
	defaultProbeStartInterval = 5 * time.Second
	defaultProbeRetries       = 3
	maxHealthLog              = 5
	maxProbeOutput            = 4096
)

// LabelRestartOnUnhealthy, set to "true" on a container with a health check,
// makes berthd restart the container when it turns unhealthy (Docker only
// reports it: moby#28400).
const LabelRestartOnUnhealthy = "berth.restart-on-unhealthy"

// healthConfig is the container's health check with Docker's defaults filled
// in, or nil when it has none (or it is disabled with NONE).
func healthConfig(cfg *container.Config) *container.HealthConfig {
	h := cfg.Healthcheck
	if h == nil || len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil
	}
	out := *h
	if out.Interval == 0 {
		out.Interval = defaultProbeInterval
	}
	if out.Timeout == 0 {
		out.Timeout = defaultProbeTimeout
	}
	if out.StartInterval == 0 {
		out.StartInterval = defaultProbeStartInterval
	}
	if out.Retries == 0 {
		out.Retries = defaultProbeRetries
	}
	return &out
}

// probeCommand is the command a health check runs: CMD's arguments as they
// are, CMD-SHELL's through /bin/sh -c.
func probeCommand(test []string) []string {
	switch test[0] {
	case "CMD":
		return test[1:]
	case "CMD-SHELL":
		return []string{"/bin/sh", "-c", strings.Join(test[1:], " ")}
	}
	return test // a bare command, as old images have it
}

// startHealthCheck begins probing a container that just started, if it has a
// health check: its state starts as "starting". The probing ends with ctx.
func (d *Daemon) startHealthCheck(ctx context.Context, c *ctr.Container, client *shim.Client) {
	s := c.Snapshot()
	hc := healthConfig(s.Config)
	if hc == nil {
		return
	}
	proc, err := d.execProcess(s, container.ExecCreateRequest{Cmd: probeCommand(hc.Test)})
	if err != nil {
		d.log.Warn("health check", "id", s.ID, "err", err)
		return
	}
	c.Lock()
	c.State.Health = &container.Health{Status: container.Starting, Log: []*container.HealthcheckResult{}}
	c.Unlock()
	go d.probeLoop(ctx, c, client, hc, proc, s.State.StartedAt)
}

func (d *Daemon) probeLoop(ctx context.Context, c *ctr.Container, client *shim.Client, hc *container.HealthConfig, proc *specs.Process, started time.Time) {
	for {
		inStart := time.Since(started) < hc.StartPeriod
		wait := hc.Interval
		if inStart {
			wait = hc.StartInterval
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		res := d.probe(ctx, client, hc, proc)
		if ctx.Err() != nil {
			return
		}
		inStart = time.Since(started) < hc.StartPeriod
		d.recordProbe(c, hc, res, inStart)
	}
}

// probe runs the health check once in the container.
func (d *Daemon) probe(ctx context.Context, client *shim.Client, hc *container.HealthConfig, proc *specs.Process) *container.HealthcheckResult {
	res := &container.HealthcheckResult{Start: time.Now()}
	var b [8]byte
	rand.Read(b[:])
	id := "health-" + hex.EncodeToString(b[:])
	stream, pid, err := client.Exec(ctx, shim.ExecOpts{ID: id, Process: proc})
	if err != nil {
		res.End, res.ExitCode, res.Output = time.Now(), -1, err.Error()
		return res
	}
	defer stream.Close()
	var out limitedBuffer
	done := make(chan struct{})
	go func() {
		stdcopy.StdCopy(&out, &out, stream)
		close(done)
	}()
	timedOut := false
	select {
	case <-done:
	case <-time.After(hc.Timeout):
		timedOut = true
		unix.Kill(pid, syscall.SIGKILL)
		<-done
	case <-ctx.Done():
		unix.Kill(pid, syscall.SIGKILL)
		<-done
	}
	res.End = time.Now()
	if timedOut {
		res.ExitCode = -1
		res.Output = fmt.Sprintf("Health check exceeded timeout (%v)", hc.Timeout)
		return res
	}
	res.Output = out.String()
	st, err := client.ExecState(context.WithoutCancel(ctx), id)
	if err != nil || st.Exit == nil {
		res.ExitCode = -1
		return res
	}
	res.ExitCode = st.Exit.Code
	return res
}

// recordProbe adds a probe's result to the container's health and changes its
// status as Docker does: a success makes it healthy; failures count only
// after the start period, and Retries of them in a row make it unhealthy.
func (d *Daemon) recordProbe(c *ctr.Container, hc *container.HealthConfig, res *container.HealthcheckResult, inStart bool) {
	c.Lock()
	h := c.State.Health
	if h == nil || !c.State.Running() {
		c.Unlock()
		return
	}
	h.Log = append(h.Log, res)
	if len(h.Log) > maxHealthLog {
		h.Log = h.Log[len(h.Log)-maxHealthLog:]
	}
	old := h.Status
	switch {
	case res.ExitCode == 0:
		h.Status, h.FailingStreak = container.Healthy, 0
	case inStart:
		// A failure in the start period does not count.
	default:
		h.FailingStreak++
		if h.FailingStreak >= hc.Retries {
			h.Status = container.Unhealthy
		}
	}
	d.containers.Save(c)
	status := h.Status
	restart := status == container.Unhealthy && old != container.Unhealthy && c.Config.Labels[LabelRestartOnUnhealthy] == "true"
	c.Unlock()
	if status != old {
		d.containerEvent(c.Snapshot(), eventtypes.Action("health_status: "+string(status)), nil)
	}
	if restart {
		go func() {
			d.log.Info("restarting an unhealthy container", "id", c.ID)
			zero := 0
			if err := d.ContainerRestart(context.Background(), c.ID, StopOptions{Timeout: &zero}); err != nil {
				d.log.Warn("restart of an unhealthy container", "id", c.ID, "err", err)
			}
		}()
	}
}

// limitedBuffer keeps the first maxProbeOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxProbeOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

var _ io.Writer = (*limitedBuffer)(nil)
