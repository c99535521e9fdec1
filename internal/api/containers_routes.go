package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/berth-engine/berth/internal/daemon"
)

// containerRoutes registers the container area: /containers, /exec and /commit.
// A container is named in the path by its ID, a unique prefix of it, or its
// name; names hold no slash, so ServeMux wildcards match them. The handlers
// are grouped by kind: the plain request/answer ones here, create's decoding
// in containers_create.go, inspect's shapes per API version in
// containers_inspect.go, and the streams (wait, logs, stats, attach, exec
// start) in containers_stream.go.
func (s *Server) containerRoutes(b ContainerBackend) {
	route := func(pattern string, h func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error) {
		s.handle(pattern, func(w http.ResponseWriter, r *http.Request) error { return h(b, w, r) })
	}
	route("POST /containers/create", createContainer)
	route("GET /containers/json", listContainers)
	route("POST /containers/prune", pruneContainers)
	route("GET /containers/{name}/json", inspectContainer)

	route("POST /containers/{name}/start", startContainer)
	route("POST /containers/{name}/stop", stopContainer)
	route("POST /containers/{name}/restart", restartContainer)
	route("POST /containers/{name}/kill", killContainer)
	route("POST /containers/{name}/pause", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		return noContent(w, b.ContainerPause(r.Context(), r.PathValue("name")))
	})
	route("POST /containers/{name}/unpause", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		return noContent(w, b.ContainerUnpause(r.Context(), r.PathValue("name")))
	})
	route("DELETE /containers/{name...}", removeContainer) // a link's name has a slash: /PARENT/ALIAS
	route("POST /containers/{name}/rename", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		return noContent(w, b.ContainerRename(r.Context(), r.PathValue("name"), r.URL.Query().Get("name")))
	})
	route("POST /containers/{name}/update", updateContainer)
	route("POST /containers/{name}/resize", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		h, wd, err := terminalSize(r)
		if err != nil {
			return err
		}
		return emptyOK(w, b.ContainerResize(r.Context(), r.PathValue("name"), h, wd))
	})

	route("GET /containers/{name}/top", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		top, err := b.ContainerTop(r.Context(), r.PathValue("name"), r.URL.Query().Get("ps_args"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, top)
	})
	route("GET /containers/{name}/changes", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		changes, err := b.ContainerChanges(r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, changes)
	})
	route("GET /containers/{name}/export", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/x-tar")
		return b.ContainerExport(r.Context(), r.PathValue("name"), w)
	})
	route("HEAD /containers/{name}/archive", statPath)
	route("GET /containers/{name}/archive", getArchive)
	route("PUT /containers/{name}/archive", putArchive)
	route("POST /commit", commitContainer)

	route("POST /containers/{name}/exec", createExec)
	route("GET /exec/{id}/json", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		info, err := b.ExecInspect(r.Context(), r.PathValue("id"))
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, info)
	})
	route("POST /exec/{id}/resize", func(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
		h, wd, err := terminalSize(r)
		if err != nil {
			return err
		}
		return emptyOK(w, b.ExecResize(r.Context(), r.PathValue("id"), h, wd))
	})

	s.containerStreamRoutes(b)
}

// noContent answers 204 when err is nil.
func noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// emptyOK answers an empty 200 when err is nil.
func emptyOK(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func listContainers(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	filters, err := parseFilters(r)
	if err != nil {
		return err
	}
	opts := daemon.ContainerListOptions{All: boolValue(r, "all"), Size: boolValue(r, "size"), Filters: filters}
	if v := r.URL.Query().Get("limit"); v != "" {
		if opts.Limit, err = strconv.Atoi(v); err != nil {
			return errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		opts.Limit = max(opts.Limit, 0) // docker ps -n -1: all of them
	}
	list, err := b.Containers(r.Context(), opts)
	if err != nil {
		return err
	}
	if list == nil {
		list = []container.Summary{}
	}
	for i := range list {
		summaryForVersion(r.Context(), &list[i])
	}
	return writeJSON(w, http.StatusOK, list)
}

func pruneContainers(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	filters, err := parseFilters(r)
	if err != nil {
		return err
	}
	report, err := b.ContainersPrune(r.Context(), filters)
	if err != nil {
		return err
	}
	if report.ContainersDeleted == nil {
		report.ContainersDeleted = []string{}
	}
	return writeJSON(w, http.StatusOK, report)
}

// startContainer answers 204, or 304 when the container already runs (the
// backend's ErrNotModified). A body was a container config before API 1.24;
// Docker refuses one now, and so does berth.
func startContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > 7 || r.ContentLength == -1 && hasBody(r) {
		return errdefs.ErrInvalidArgument.WithMessage("starting container with non-empty request body was deprecated since API v1.22 and removed in v1.24")
	}
	return noContent(w, b.ContainerStart(r.Context(), r.PathValue("name"), r.URL.Query().Get("detachKeys")))
}

// hasBody reports whether a body of unknown length holds more than a few
// bytes (an empty JSON object "{}" or "null" is tolerated, as Docker does).
func hasBody(r *http.Request) bool {
	buf := make([]byte, 8)
	n, _ := io.ReadFull(r.Body, buf)
	return n > 7
}

func stopContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	opts, err := stopOptions(r)
	if err != nil {
		return err
	}
	return noContent(w, b.ContainerStop(r.Context(), r.PathValue("name"), opts))
}

func restartContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	opts, err := stopOptions(r)
	if err != nil {
		return err
	}
	return noContent(w, b.ContainerRestart(r.Context(), r.PathValue("name"), opts))
}

func killContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := b.ContainerKill(r.Context(), name, r.URL.Query().Get("signal")); err != nil {
		if errdefs.IsInvalidArgument(err) {
			return err // a bad signal is refused as such, unprefixed (as dockerd)
		}
		return fmt.Errorf("cannot kill container: %s: %w", name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func removeContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	return noContent(w, b.ContainerRemove(r.Context(), r.PathValue("name"), daemon.RemoveOptions{
		Force:         boolValue(r, "force"),
		RemoveVolumes: boolValue(r, "v"),
		RemoveLink:    boolValue(r, "link"),
	}))
}

// updateContainer changes a container's resources and restart policy. Fields
// the client's API version does not know are cleared, and a pids limit of 0 or
// below means unlimited (0), as in Docker.
func updateContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	var body struct {
		container.UpdateConfig
		// PortBindings is berth's: the container's published ports, all of them, in
		// HostConfig.PortBindings' shape; a running container's change at once.
		PortBindings *network.PortMap `json:",omitempty"`
	}
	if _, err := readJSON(r, &body); err != nil {
		return err
	}
	u := body.UpdateConfig
	if versionBefore(r.Context(), "1.40") {
		u.PidsLimit = nil
	}
	// Per-device blkio limits are updatable from API 1.55 on; every version served is older.
	u.BlkioWeightDevice, u.BlkioDeviceReadBps, u.BlkioDeviceWriteBps = nil, nil, nil
	u.BlkioDeviceReadIOps, u.BlkioDeviceWriteIOps = nil, nil
	if u.PidsLimit != nil && *u.PidsLimit <= 0 {
		unlimited := int64(0)
		u.PidsLimit = &unlimited
	}
	resp, err := b.ContainerUpdate(r.Context(), r.PathValue("name"), u)
	if err != nil {
		return err
	}
	if body.PortBindings != nil {
		pu, ok := b.(PortsUpdater)
		if !ok {
			return errdefs.ErrNotImplemented.WithMessage("this daemon cannot change published ports")
		}
		if err := pu.ContainerUpdatePorts(r.Context(), r.PathValue("name"), *body.PortBindings); err != nil {
			return err
		}
	}
	if resp.Warnings == nil {
		resp.Warnings = []string{}
	}
	return writeJSON(w, http.StatusOK, resp)
}

// archivePath reads the required ?path of the archive routes.
func archivePath(r *http.Request) (string, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", errdefs.ErrInvalidArgument.WithMessage("bad parameter: path cannot be empty")
	}
	return p, nil
}

// setPathStat sets the X-Docker-Container-Path-Stat header: the PathStat as
// JSON, base64-encoded (docker cp reads it to learn what it copies).
func setPathStat(h http.Header, st *container.PathStat) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding the path stat: %w", err)
	}
	h.Set("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(data))
	return nil
}

// statPath answers HEAD .../archive: the stat header, no body.
func statPath(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	st, err := b.ContainerStatPath(r.Context(), r.PathValue("name"), p)
	if err != nil {
		return err
	}
	if err := setPathStat(w.Header(), st); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// getArchive streams the path as a tar, its stat in the header. The tar is sent
// as it is: compressing it (Docker honours Accept-Encoding) costs more than it
// saves on the local socket the API is mostly used over.
func getArchive(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	tr, st, err := b.ContainerArchivePath(r.Context(), r.PathValue("name"), p)
	if err != nil {
		return err
	}
	defer tr.Close()
	if err := setPathStat(w.Header(), st); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	_, err = io.Copy(w, tr)
	return err
}

// putArchive unpacks the tar body into the directory ?path. A directory may
// replace a file and a file a directory unless ?noOverwriteDirNonDir is true.
func putArchive(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	p, err := archivePath(r)
	if err != nil {
		return err
	}
	return emptyOK(w, b.ContainerExtractToDir(r.Context(), r.PathValue("name"), daemon.ArchivePutOptions{
		Path:                 p,
		NoOverwriteDirNonDir: boolValue(r, "noOverwriteDirNonDir"),
		CopyUIDGID:           boolValue(r, "copyUIDGID"),
	}, r.Body))
}

// commitContainer makes an image of a container. The body is an optional
// Config merged over the container's; the container is paused meanwhile
// unless ?pause is given and false.
func commitContainer(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	// Decoded as Docker does: "{}" and "null" alike mean no config.
	var body struct{ *container.Config }
	if _, err := readJSON(r, &body); err != nil {
		return err
	}
	q := r.URL.Query()
	id, err := b.ContainerCommit(r.Context(), daemon.CommitOptions{
		Container: q.Get("container"),
		Repo:      q.Get("repo"),
		Tag:       q.Get("tag"),
		Comment:   q.Get("comment"),
		Author:    q.Get("author"),
		Changes:   q["changes"],
		Pause:     boolValueOrDefault(r, "pause", true),
		Config:    body.Config,
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.CommitResponse{ID: id})
}

// errNoExecCommand is Docker's answer to an exec without a command.
var errNoExecCommand = errdefs.ErrInvalidArgument.WithMessage("No exec command specified")

func createExec(b ContainerBackend, w http.ResponseWriter, r *http.Request) error {
	var req container.ExecCreateRequest
	if _, err := readJSON(r, &req); err != nil {
		return err
	}
	if len(req.Cmd) == 0 {
		return errNoExecCommand
	}
	if versionBefore(r.Context(), "1.42") {
		req.ConsoleSize = nil
	}
	id, err := b.ExecCreate(r.Context(), r.PathValue("name"), req)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, container.ExecCreateResponse{ID: id})
}
