package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-engine/berth/internal/daemon"
	"github.com/berth-engine/berth/internal/daemon/events"
)

// SystemBackend answers the system routes.
type SystemBackend interface {
	SystemInfo(ctx context.Context) (*system.Info, error)
	// SystemVersion returns the engine's version; the API versions are added here.
	SystemVersion(ctx context.Context) system.VersionResponse
	SystemDiskUsage(ctx context.Context, opts daemon.DiskUsageOptions) (*daemon.DiskUsage, error)
	Events() *events.Broker
}

func (s *Server) systemRoutes(b SystemBackend) {
	s.handle("GET /_ping", s.getPing) // GET patterns also match HEAD
	s.handle("GET /version", func(w http.ResponseWriter, r *http.Request) error { return getVersion(b, w, r) })
	s.handle("GET /info", func(w http.ResponseWriter, r *http.Request) error { return getInfo(b, w, r) })
	s.handle("GET /events", func(w http.ResponseWriter, r *http.Request) error { return s.getEvents(b, w, r) })
	s.handle("GET /system/df", func(w http.ResponseWriter, r *http.Request) error { return getDiskUsage(b, w, r) })
}

// getPing answers GET and HEAD /_ping: "OK", with the headers clients read to
// negotiate (Api-Version, set for every response) and to choose a builder.
func (s *Server) getPing(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Builder-Version", "1")
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	_, err := w.Write([]byte("OK"))
	return err
}

func getVersion(b SystemBackend, w http.ResponseWriter, r *http.Request) error {
	v := b.SystemVersion(r.Context())
	v.APIVersion = APIVersion
	v.MinAPIVersion = MinAPIVersion
	v.Components = append([]system.ComponentVersion{{
		Name:    "Engine",
		Version: v.Version,
		Details: map[string]string{
			"ApiVersion":    APIVersion,
			"MinAPIVersion": MinAPIVersion,
			"GitCommit":     v.GitCommit,
			"GoVersion":     v.GoVersion,
			"Os":            v.Os,
			"Arch":          v.Arch,
			"KernelVersion": v.KernelVersion,
			"BuildTime":     v.BuildTime,
			"Experimental":  "false",
		},
	}}, v.Components...)
	return writeJSON(w, http.StatusOK, v)
}

func getInfo(b SystemBackend, w http.ResponseWriter, r *http.Request) error {
	info, err := b.SystemInfo(r.Context())
	if err != nil {
		return fmt.Errorf("info: %w", err)
	}
	return writeJSON(w, http.StatusOK, info)
}

// diskUsageV150 is GET /system/df's answer up to API 1.51 (1.52 changed its shape).
type diskUsageV150 struct {
	LayersSize int64
	Images     []image.Summary
	Containers []container.Summary
	Volumes    []volume.Volume
	BuildCache []build.CacheRecord
}

// getDiskUsage answers GET /system/df, for the object types in the repeated
// "type" parameter (container, image, volume, build-cache), or all of them.
func getDiskUsage(b SystemBackend, w http.ResponseWriter, r *http.Request) error {
	var opts daemon.DiskUsageOptions
	types := queryValues(r, "type")
	for _, t := range types {
		switch system.DiskUsageObject(t) {
		case system.ContainerObject:
			opts.Containers = true
		case system.ImageObject:
			opts.Images = true
		case system.VolumeObject:
			opts.Volumes = true
		case system.BuildCacheObject:
			opts.BuildCache = true
		default:
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown object type: %s", t))
		}
	}
	if len(types) == 0 {
		opts = daemon.DiskUsageOptions{Images: true, Containers: true, Volumes: true, BuildCache: true}
	}
	du, err := b.SystemDiskUsage(r.Context(), opts)
	if err != nil {
		return fmt.Errorf("disk usage: %w", err)
	}
	return writeJSON(w, http.StatusOK, diskUsageV150{
		LayersSize: du.LayersSize,
		Images:     du.Images,
		Containers: du.Containers,
		Volumes:    du.Volumes,
		BuildCache: du.BuildCache,
	})
}

// eventV150 is an event as API versions before 1.52 send it: with the old
// status, id and from fields beside the current ones.
type eventV150 struct {
	Status string `json:"status,omitempty"`
	ID     string `json:"id,omitempty"`
	From   string `json:"from,omitempty"`
	eventtypes.Message
}

// getEvents streams the events matching ?filters, from ?since (past events the
// broker still holds) until ?until, or until the client leaves or the server
// shuts down: one JSON object per line, each flushed at once.
func (s *Server) getEvents(b SystemBackend, w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	q := r.URL.Query()
	since, err := parseTime(q.Get("since"), now)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("invalid since: " + err.Error())
	}
	until, err := parseTime(q.Get("until"), now)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage("invalid until: " + err.Error())
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("`since` time (%d.%09d) cannot be after `until` time (%d.%09d)",
			since.Unix(), since.Nanosecond(), until.Unix(), until.Nanosecond()))
	}
	f, err := parseFilters(r)
	if err != nil {
		return err
	}
	filter := events.Filter(f)
	if err := filter.Validate(); err != nil {
		return err
	}

	past, sub := b.Events().Subscribe(since, filter)
	defer sub.Close()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	legacy := versionBefore(r.Context(), "1.52")
	send := func(m eventtypes.Message) error {
		var v any = m
		if legacy {
			v = legacyEvent(m)
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
		return rc.Flush()
	}
	inRange := func(m eventtypes.Message) bool {
		return (since.IsZero() || m.TimeNano >= since.UnixNano()) && (until.IsZero() || m.TimeNano <= until.UnixNano())
	}
	if err := rc.Flush(); err != nil {
		return nil // the client is gone
	}
	for _, m := range past {
		if inRange(m) {
			if send(m) != nil {
				return nil
			}
		}
	}
	var deadline <-chan time.Time
	if !until.IsZero() {
		if !until.After(now) {
			return nil
		}
		t := time.NewTimer(until.Sub(now))
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case m, ok := <-sub.C:
			if !ok {
				if err := sub.Err(); err != nil {
					s.log.Warn("events stream ended", "error", err)
				}
				return nil
			}
			if !until.IsZero() && m.TimeNano > until.UnixNano() {
				return nil
			}
			if inRange(m) && send(m) != nil {
				return nil
			}
		case <-deadline:
			return nil
		case <-r.Context().Done():
			return nil
		case <-s.done:
			return nil
		}
	}
}

// legacyEvent fills the old fields as dockerd did: for container and image
// events, status is the action and id the actor; from is a container's image.
func legacyEvent(m eventtypes.Message) eventV150 {
	e := eventV150{Message: m}
	switch m.Type {
	case eventtypes.ContainerEventType:
		e.Status, e.ID, e.From = string(m.Action), m.Actor.ID, m.Actor.Attributes["image"]
	case eventtypes.ImageEventType:
		e.Status, e.ID = string(m.Action), m.Actor.ID
	}
	return e
}
