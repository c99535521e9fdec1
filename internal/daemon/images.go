package daemon

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/moby/api/types/container"
	eventtypes "github.com/moby/moby/api/types/events"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/storage"
	"github.com/opencontainers/go-digest"

	"github.com/berth-engine/berth/internal/distribution/auth"
	"github.com/berth-engine/berth/internal/distribution/platform"
	"github.com/berth-engine/berth/internal/image"
	"github.com/berth-engine/berth/internal/image/imagearchive"
)

// ProgressWriter receives the messages of a long operation (pull, push, load,
// import) in Docker's JSON stream format.
type ProgressWriter interface {
	WriteProgress(jsonstream.Message) error
}

// ImageListOptions are the query of an image listing.
type ImageListOptions struct {
	All        bool
	Filters    map[string][]string
	SharedSize bool
	Digests    bool
	Manifests  bool
}

// Images lists images as docker images does.
func (d *Daemon) Images(ctx context.Context, o ImageListOptions) ([]imagetypes.Summary, error) {
	lo := image.ListOptions{References: o.Filters["reference"], Labels: o.Filters["label"]}
	for _, v := range o.Filters["dangling"] {
		b := v == "true" || v == "1"
		if !b && v != "false" && v != "0" {
			return nil, fmt.Errorf("invalid filter 'dangling=%s': %w", v, cerrdefs.ErrInvalidArgument)
		}
		lo.Dangling = &b
	}
	if v := o.Filters["before"]; len(v) > 0 {
		lo.Before = v[0]
	}
	if v := o.Filters["since"]; len(v) > 0 {
		lo.Since = v[0]
	}
	for key := range o.Filters {
		switch key {
		case "reference", "label", "dangling", "before", "since":
		default:
			return nil, fmt.Errorf("invalid filter '%s': %w", key, cerrdefs.ErrInvalidArgument)
		}
	}
	list, err := d.images.List(ctx, lo)
	if err != nil {
		return nil, err
	}
	out := make([]imagetypes.Summary, 0, len(list))
	for _, img := range list {
		out = append(out, imagetypes.Summary{
			ID:          img.ID.String(),
			RepoTags:    matching(img.RepoTags, lo.References),
			RepoDigests: matching(img.RepoDigests, lo.References),
			Created:     img.Created.Unix(),
			Size:        img.Size,
			Labels:      img.Config.Config.Labels,
			Containers:  -1,
			SharedSize:  -1,
		})
	}
	return out, nil
}

// matching keeps the names that match one of the reference filters (all without
// filters): docker images busybox lists an image's busybox tags only.
func matching(names, patterns []string) []string {
	if len(patterns) == 0 {
		return nonNil(names)
	}
	out := []string{}
	for _, n := range names {
		for _, p := range patterns {
			if image.MatchReference(p, n) {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ImageInspect describes one image in docker inspect's shape.
func (d *Daemon) ImageInspect(ctx context.Context, ref string) (*imagetypes.InspectResponse, error) {
	img, err := d.images.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	cfg := img.Config
	layers := make([]string, len(cfg.RootFS.DiffIDs))
	for i, l := range cfg.RootFS.DiffIDs {
		layers[i] = l.String()
	}
	created := ""
	if cfg.Created != nil {
		created = cfg.Created.UTC().Format(time.RFC3339Nano)
	}
	comment := ""
	if n := len(cfg.History); n > 0 {
		comment = cfg.History[n-1].Comment
	}
	desc := img.Manifest
	return &imagetypes.InspectResponse{
		ID:           img.ID.String(),
		RepoTags:     nonNil(img.RepoTags),
		RepoDigests:  nonNil(img.RepoDigests),
		Comment:      comment,
		Created:      created,
		Author:       cfg.Author,
		Config:       &dockerspec.DockerOCIImageConfig{ImageConfig: cfg.Config},
		Architecture: cfg.Architecture,
		Variant:      cfg.Variant,
		Os:           cfg.OS,
		Size:         img.Size,
		GraphDriver:  &storage.DriverData{Name: d.driver, Data: map[string]string{}},
		RootFS:       imagetypes.RootFS{Type: "layers", Layers: layers},
		Metadata:     imagetypes.Metadata{LastTagTime: img.LastTagTime},
		Descriptor:   &desc,
	}, nil
}

// ImageHistory lists the image's history, newest first, as docker history does.
func (d *Daemon) ImageHistory(ctx context.Context, ref string) ([]imagetypes.HistoryResponseItem, error) {
	img, err := d.images.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	sizes, err := d.images.LayerSizes(ctx, img)
	if err != nil {
		return nil, err
	}
	var out []imagetypes.HistoryResponseItem
	layer := 0
	for _, h := range img.Config.History {
		item := imagetypes.HistoryResponseItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Tags: []string{}}
		if h.Created != nil {
			item.Created = h.Created.Unix()
		}
		if !h.EmptyLayer && layer < len(sizes) {
			item.Size = sizes[layer]
			layer++
		}
		out = append([]imagetypes.HistoryResponseItem{item}, out...)
	}
	if len(out) == 0 {
		out = []imagetypes.HistoryResponseItem{{Tags: []string{}}}
	}
	out[0].ID = img.ID.String()
	out[0].Tags = nonNil(img.RepoTags)
	return out, nil
}

// ImageTag gives source the name repo:tag (tag defaults to latest).
func (d *Daemon) ImageTag(ctx context.Context, source, repo, tag string) error {
	if repo == "" {
		return fmt.Errorf("repository name must have at least one component: %w", cerrdefs.ErrInvalidArgument)
	}
	if tag == "" {
		tag = "latest"
	}
	if err := d.images.Tag(ctx, source, repo+":"+tag); err != nil {
		return err
	}
	d.events.Publish(eventtypes.ImageEventType, "tag", actor(repo+":"+tag, nil))
	return nil
}

// ImageDelete untags or deletes an image, as docker rmi does.
func (d *Daemon) ImageDelete(ctx context.Context, ref string, force, prune bool) ([]imagetypes.DeleteResponse, error) {
	res, err := d.images.Delete(ctx, ref, force)
	if err != nil {
		return nil, err
	}
	out := make([]imagetypes.DeleteResponse, 0, len(res))
	for _, r := range res {
		out = append(out, imagetypes.DeleteResponse{Untagged: r.Untagged, Deleted: r.Deleted})
		switch {
		case r.Untagged != "":
			d.events.Publish(eventtypes.ImageEventType, "untag", actor(r.Untagged, nil))
		case r.Deleted != "":
			d.events.Publish(eventtypes.ImageEventType, "delete", actor(r.Deleted, nil))
		}
	}
	return out, nil
}

// ImagesPrune removes dangling images, or with dangling=false every unused one.
func (d *Daemon) ImagesPrune(ctx context.Context, filters map[string][]string) (*imagetypes.PruneReport, error) {
	// until, label and label! as container prune reads them; dangling is image
	// prune's own. Anything else is refused: an ignored until would prune all.
	rest := maps.Clone(filters)
	delete(rest, "dangling")
	until, err := pruneUntil(rest)
	if err != nil {
		return nil, err
	}
	opts := image.PruneOptions{Select: func(img image.Image) bool {
		if !until.IsZero() && !img.Created.Before(until) {
			return false
		}
		return labelsMatch(img.Config.Config.Labels, filters)
	}}
	for _, v := range filters["dangling"] {
		switch v {
		case "false", "0":
			opts.All = true
		case "true", "1":
		default:
			return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'dangling=%s'", v))
		}
	}
	rep, err := d.images.Prune(ctx, opts)
	if err != nil {
		return nil, err
	}
	out := &imagetypes.PruneReport{SpaceReclaimed: uint64(max(rep.SpaceReclaimed, 0))}
	for _, r := range rep.Deleted {
		out.ImagesDeleted = append(out.ImagesDeleted, imagetypes.DeleteResponse{Untagged: r.Untagged, Deleted: r.Deleted})
	}
	d.events.Publish(eventtypes.ImageEventType, "prune", actor("", map[string]string{"reclaimed": fmt.Sprint(rep.SpaceReclaimed)}))
	return out, nil
}

// ImagePull pulls ref (with tag, a tag or a digest, if given) and reports progress as
// docker pull shows it.
func (d *Daemon) ImagePull(ctx context.Context, ref, tag, plat string, ac *registry.AuthConfig, progress ProgressWriter) error {
	full, err := withTag(ref, tag)
	if err != nil {
		return err
	}
	opts := image.PullOptions{Credentials: credentials(ac)}
	if plat != "" {
		p, err := platform.Parse(plat)
		if err != nil {
			return fmt.Errorf("invalid platform %q: %w", plat, cerrdefs.ErrInvalidArgument)
		}
		opts.Platform = &p
	}
	named, _ := reference.ParseNormalizedNamed(full)
	tagOrDigest := "latest"
	if t, ok := named.(reference.Tagged); ok {
		tagOrDigest = t.Tag()
	} else if dg, ok := named.(reference.Digested); ok {
		tagOrDigest = dg.Digest().String()
	}
	started := false
	opts.Progress = func(p image.Progress) {
		if !started {
			started = true
			progress.WriteProgress(jsonstream.Message{Status: "Pulling from " + reference.Path(named), ID: tagOrDigest})
		}
		progress.WriteProgress(progressMessage(p))
	}
	prev, prevErr := d.images.Get(ctx, full)
	img, err := d.images.Pull(ctx, full, opts)
	if err != nil {
		return err
	}
	if !started {
		progress.WriteProgress(jsonstream.Message{Status: "Pulling from " + reference.Path(named), ID: tagOrDigest})
	}
	for _, rd := range img.RepoDigests {
		if strings.HasPrefix(rd, reference.FamiliarName(named)+"@") {
			progress.WriteProgress(jsonstream.Message{Status: "Digest: " + rd[strings.IndexByte(rd, '@')+1:]})
			break
		}
	}
	if prevErr == nil && prev.ID == img.ID {
		progress.WriteProgress(jsonstream.Message{Status: "Status: Image is up to date for " + reference.FamiliarString(named)})
	} else {
		progress.WriteProgress(jsonstream.Message{Status: "Status: Downloaded newer image for " + reference.FamiliarString(named)})
	}
	d.events.Publish(eventtypes.ImageEventType, "pull", actor(reference.FamiliarString(named), nil))
	return nil
}

// ImagePush pushes ref (with tag, if given) to its registry.
func (d *Daemon) ImagePush(ctx context.Context, ref, tag string, ac *registry.AuthConfig, progress ProgressWriter) error {
	full, err := withTag(ref, tag)
	if err != nil {
		return err
	}
	named, _ := reference.ParseNormalizedNamed(full)
	progress.WriteProgress(jsonstream.Message{Status: "The push refers to repository [" + named.Name() + "]"})
	desc, err := d.images.Push(ctx, full, image.PushOptions{
		Credentials: credentials(ac),
		Progress:    func(p image.Progress) { progress.WriteProgress(progressMessage(p)) },
	})
	if err != nil {
		return err
	}
	t := "latest"
	if tagged, ok := named.(reference.Tagged); ok {
		t = tagged.Tag()
	}
	progress.WriteProgress(jsonstream.Message{Status: fmt.Sprintf("%s: digest: %s size: %d", t, desc.Digest, desc.Size)})
	d.events.Publish(eventtypes.ImageEventType, "push", actor(reference.FamiliarString(named), nil))
	return nil
}

// ImageImport makes a one-layer image of a root file system tarball.
func (d *Daemon) ImageImport(ctx context.Context, src io.Reader, repo, tag, message string, changes []string, plat string, progress ProgressWriter) error {
	opts := image.ImportOptions{Changes: changes, Message: message}
	if repo != "" {
		full, err := withTag(repo, tag)
		if err != nil {
			return err
		}
		opts.Ref = full
	}
	if plat != "" {
		p, err := platform.Parse(plat)
		if err != nil {
			return fmt.Errorf("invalid platform %q: %w", plat, cerrdefs.ErrInvalidArgument)
		}
		opts.Platform = &p
	}
	img, err := d.images.Import(ctx, src, opts)
	if err != nil {
		return err
	}
	d.events.Publish(eventtypes.ImageEventType, "import", actor(img.ID.String(), nil))
	return progress.WriteProgress(jsonstream.Message{Status: img.ID.String()})
}

// ImagesSave writes the images as a docker save tarball, or an OCI layout with
// format "oci".
func (d *Daemon) ImagesSave(ctx context.Context, refs []string, format string, w io.Writer) error {
	var named []imagearchive.Named
	for _, ref := range refs {
		img, err := d.images.Get(ctx, ref)
		if err != nil {
			return err
		}
		n := imagearchive.Named{Target: img.Manifest}
		// Saved by one of its tags, the image keeps that tag in the file; saved
		// by ID or digest, none, as docker save does.
		if r, err := reference.ParseNormalizedNamed(ref); err == nil {
			if _, digested := r.(reference.Digested); !digested {
				tagged := reference.TagNameOnly(r)
				if slices.Contains(img.RepoTags, reference.FamiliarString(tagged)) {
					n.Names = []string{tagged.String()}
				}
			}
		}
		named = append(named, n)
	}
	switch format {
	case "", "docker":
		return imagearchive.WriteDocker(ctx, w, d.images.Content(), named)
	case "oci":
		return imagearchive.WriteOCI(ctx, w, d.images.Content(), named)
	}
	return fmt.Errorf("unknown save format %q (docker or oci): %w", format, cerrdefs.ErrInvalidArgument)
}

// ImagesLoad reads a docker save or OCI layout tarball and makes its images.
func (d *Daemon) ImagesLoad(ctx context.Context, src io.Reader, quiet bool, progress ProgressWriter) error {
	imgs, err := imagearchive.Read(ctx, src, imagearchive.NewContentSink(d.content, "load-"))
	if err != nil {
		return err
	}
	for _, ai := range imgs {
		img, err := d.images.Register(ctx, ai.Target, ai.Names, nil)
		if err != nil {
			return err
		}
		// What the file named, not every tag the image has here, as docker load.
		if len(ai.Names) == 0 {
			progress.WriteProgress(jsonstream.Message{Stream: "Loaded image ID: " + img.ID.String() + "\n"})
		}
		for _, n := range ai.Names {
			if r, err := reference.ParseNormalizedNamed(n); err == nil {
				n = reference.FamiliarString(r)
			}
			progress.WriteProgress(jsonstream.Message{Stream: "Loaded image: " + n + "\n"})
		}
		d.events.Publish(eventtypes.ImageEventType, "load", actor(img.ID.String(), nil))
	}
	return nil
}

// withTag joins a reference and a separate tag (or digest) as the API passes them.
func withTag(ref, tag string) (string, error) {
	full := ref
	switch {
	case tag == "":
	case strings.Contains(tag, ":"):
		full = ref + "@" + tag
	default:
		full = ref + ":" + tag
	}
	named, err := reference.ParseNormalizedNamed(full)
	if err != nil {
		return "", fmt.Errorf("invalid reference format: %q: %w", full, cerrdefs.ErrInvalidArgument)
	}
	return reference.TagNameOnly(named).String(), nil
}

// progressMessage renders the image service's progress as Docker's messages.
func progressMessage(p image.Progress) jsonstream.Message {
	m := jsonstream.Message{Status: p.Action, ID: p.ID}
	if p.Total > 0 || p.Current > 0 {
		m.Progress = &jsonstream.Progress{Current: p.Current, Total: p.Total}
	}
	return m
}

// credentials turns the API's X-Registry-Auth into the registry client's.
func credentials(ac *registry.AuthConfig) auth.Credentials {
	if ac == nil {
		return nil
	}
	user, pass := ac.Username, ac.Password
	if ac.Auth != "" && user == "" {
		if raw, err := base64.StdEncoding.DecodeString(ac.Auth); err == nil {
			user, pass, _ = strings.Cut(string(raw), ":")
		}
	}
	if ac.IdentityToken != "" {
		return auth.Static(auth.IdentityTokenUser, ac.IdentityToken)
	}
	if user == "" && pass == "" {
		return nil
	}
	return auth.Static(user, pass)
}

// actor names the object of an event.
func actor(id string, attrs map[string]string) eventtypes.Actor {
	if attrs == nil {
		attrs = map[string]string{}
	}
	if id != "" {
		attrs["name"] = id
	}
	return eventtypes.Actor{ID: id, Attributes: attrs}
}

// Login checks the credentials against the registry (Docker Hub when none is named).
func (d *Daemon) Login(ctx context.Context, ac registry.AuthConfig) (*registry.AuthResponse, error) {
	host := ac.ServerAddress
	host = strings.TrimPrefix(strings.TrimPrefix(host, "https://"), "http://")
	host = strings.TrimSuffix(strings.SplitN(host, "/", 2)[0], "/")
	if host == "" || host == "index.docker.io" {
		host = "docker.io"
	}
	creds := credentials(&ac)
	if creds == nil {
		return nil, fmt.Errorf("login to %s: a username and password are required: %w", host, cerrdefs.ErrInvalidArgument)
	}
	token, err := d.registry.Login(ctx, host, creds)
	if err != nil {
		return nil, err
	}
	return &registry.AuthResponse{Status: "Login Succeeded", IdentityToken: token}, nil
}

// imagesDiskUsage lists every image with the number of containers made from
// it and the size of its layers that other images share too, and returns the
// size of all layers, each counted once.
func (d *Daemon) imagesDiskUsage(ctx context.Context, containers []container.Summary) ([]imagetypes.Summary, int64, error) {
	list, err := d.images.List(ctx, image.ListOptions{})
	if err != nil {
		return nil, 0, err
	}
	users := map[string]int64{} // image ID -> containers
	for _, c := range containers {
		users[c.ImageID]++
	}
	layerSize := map[digest.Digest]int64{}
	holders := map[digest.Digest]int{} // chain ID -> images holding it
	for _, img := range list {
		sizes, err := d.images.LayerSizes(ctx, img)
		if err != nil {
			return nil, 0, err
		}
		for i, chain := range img.ChainIDs {
			layerSize[chain] = sizes[i]
			holders[chain]++
		}
	}
	var total int64
	for _, n := range layerSize {
		total += n
	}
	out := make([]imagetypes.Summary, 0, len(list))
	for _, img := range list {
		var shared int64
		for _, chain := range img.ChainIDs {
			if holders[chain] > 1 {
				shared += layerSize[chain]
			}
		}
		out = append(out, imagetypes.Summary{
			ID:          img.ID.String(),
			RepoTags:    nonNil(img.RepoTags),
			RepoDigests: nonNil(img.RepoDigests),
			Created:     img.Created.Unix(),
			Size:        img.Size,
			Labels:      img.Config.Config.Labels,
			Containers:  users[img.ID.String()],
			SharedSize:  shared,
		})
	}
	return out, total, nil
}
