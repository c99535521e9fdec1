package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/distribution"
	"github.com/berth-engine/berth/internal/snapshot"
)

// Config is what a Service is built from.
type Config struct {
	// Root is the service's own directory; images.db lives there.
	Root string
	// Content keeps manifests, configs and layer blobs. The Service owns it:
	// its garbage collection removes every blob no image references.
	Content *content.Store
	// Snapshotter keeps the unpacked layers, one committed snapshot per chain ID.
	Snapshotter snapshot.Snapshotter
	// Registry pulls and pushes; nil makes Pull and Push fail.
	Registry *distribution.Client
	// InUse names a container that uses the image (its full ID, running or
	// not), or returns "" when none does; nil means none ever does.
	InUse func(imageID digest.Digest) (container string, running bool)
	// MaxConcurrentDownloads bounds the layers one Pull downloads at once
	// (default 3).
	MaxConcurrentDownloads int
}

// Service keeps the images of one data root. It is safe for concurrent use.
type Service struct {
	cfg Config
	db  *bolt.DB
	sn  snapshot.Snapshotter
	cs  *content.Store

	// mu serialises metadata writes with garbage collection; it is held
	// briefly, never across a download.
	mu sync.Mutex
	// leases are what running pulls, imports and pushes use but no image
	// record holds yet; garbage collection keeps them.
	leases map[*lease]struct{}
}

// lease holds blobs and snapshots against garbage collection.
type lease struct {
	blobs     map[digest.Digest]struct{}
	snapshots map[string]struct{}
}

// Open opens the image service in cfg.Root and removes what an interrupted
// pull or import left in the snapshotter.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Content == nil || cfg.Snapshotter == nil {
		return nil, fmt.Errorf("image service: content store and snapshotter are required: %w", errdefs.ErrInvalidArgument)
	}
	if cfg.MaxConcurrentDownloads <= 0 {
		cfg.MaxConcurrentDownloads = 3
	}
	if err := os.MkdirAll(cfg.Root, 0o700); err != nil {
		return nil, fmt.Errorf("image service: %w", err)
	}
	db, err := openDB(filepath.Join(cfg.Root, "images.db"))
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, db: db, sn: cfg.Snapshotter, cs: cfg.Content, leases: map[*lease]struct{}{}}
	if err := s.removeStale(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the metadata database. The content store and snapshotter
// belong to the caller.
func (s *Service) Close() error {
	return s.db.Close()
}

// removeStale removes the active snapshots of unpacks a killed process left.
func (s *Service) removeStale(ctx context.Context) error {
	var stale []string
	err := s.sn.Walk(ctx, func(_ context.Context, info snapshot.Info) error {
		if info.Kind == snapshot.KindActive && strings.HasPrefix(info.Name, unpackKeyPrefix) {
			stale = append(stale, info.Name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("image service: walk snapshots: %w", err)
	}
	for _, k := range stale {
		if err := s.sn.Remove(ctx, k); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("image service: remove stale snapshot: %w", err)
		}
	}
	return nil
}

func (s *Service) newLease() *lease {
	l := &lease{blobs: map[digest.Digest]struct{}{}, snapshots: map[string]struct{}{}}
	s.mu.Lock()
	s.leases[l] = struct{}{}
	s.mu.Unlock()
	return l
}

// hold adds blobs and snapshots to l; call it before relying on them.
func (s *Service) hold(l *lease, blobs []digest.Digest, snapshots []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range blobs {
		l.blobs[b] = struct{}{}
	}
	for _, sn := range snapshots {
		l.snapshots[sn] = struct{}{}
	}
}

func (s *Service) release(l *lease) {
	s.mu.Lock()
	delete(s.leases, l)
	s.mu.Unlock()
}

// Image describes one image, as `docker image inspect` needs it.
type Image struct {
	// ID is the digest of the image's config.
	ID digest.Digest
	// RepoTags are its tagged names, familiar ("busybox:latest").
	RepoTags []string
	// RepoDigests are its names by digest ("busybox@sha256:..."): the digest
	// of the index it was pulled through, or of its manifest.
	RepoDigests []string
	// Created is when the image was built (from the config).
	Created time.Time
	// Size is the bytes of file content of all layers, uncompressed.
	Size int64
	// Manifest describes the image's manifest in the content store.
	Manifest ocispec.Descriptor
	// Layers are the manifest's layer blobs, base first.
	Layers []ocispec.Descriptor
	// ChainIDs name the layer snapshots, base first; the last one is the
	// image's root file system.
	ChainIDs []digest.Digest
	// Config is the image configuration (entrypoint, env, history, rootfs).
	Config ocispec.Image
	// LastTagTime is when `tag` or `import` last named the image; zero if
	// neither ever did (Docker does not count pulls and loads either).
	LastTagTime time.Time
}

func toImage(r *record, names []string) (Image, error) {
	img := Image{
		ID:          r.ID,
		Size:        r.Size,
		Manifest:    r.Manifest,
		Layers:      r.Layers,
		ChainIDs:    r.ChainIDs,
		LastTagTime: r.LastTagged,
	}
	if err := json.Unmarshal(r.Config, &img.Config); err != nil {
		return Image{}, fmt.Errorf("image %s: decode config: %w", r.ID, err)
	}
	if img.Config.Created != nil {
		img.Created = *img.Config.Created
	}
	for _, n := range names {
		named, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			continue
		}
		if _, ok := named.(reference.Digested); ok {
			img.RepoDigests = append(img.RepoDigests, reference.FamiliarString(named))
		} else {
			img.RepoTags = append(img.RepoTags, reference.FamiliarString(named))
		}
	}
	sort.Strings(img.RepoTags)
	sort.Strings(img.RepoDigests)
	return img, nil
}

// normalize parses a name as Docker does: "busybox" is
// docker.io/library/busybox:latest; a digest reference keeps its digest and
// drops any tag beside it.
func normalize(name string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid reference format: %q: %v", name, err))
	}
	if d, ok := named.(reference.Digested); ok {
		if _, tagged := named.(reference.Tagged); tagged {
			return reference.WithDigest(reference.TrimNamed(named), d.Digest())
		}
		return named, nil
	}
	return reference.TagNameOnly(named), nil
}

// resolve finds the image that s names: a name, a full image ID
// ("sha256:<hex>" or "<hex>") or an unambiguous prefix of an ID. It also
// returns the stored name s matched, if any.
func resolve(tx *bolt.Tx, s string) (*record, string, error) {
	if d, err := digest.Parse(s); err == nil {
		r, err := getRecord(tx, d)
		return r, "", err
	}
	if named, err := normalize(s); err == nil {
		rr, ok, err := getRef(tx, named.String())
		if err != nil {
			return nil, "", err
		}
		if ok {
			r, err := getRecord(tx, rr.ID)
			return r, named.String(), err
		}
	}
	prefix := strings.TrimPrefix(s, "sha256:")
	if prefix != "" && isHex(prefix) {
		var found *record
		n := 0
		err := forEachRecord(tx, func(r *record) error {
			if strings.HasPrefix(r.ID.Encoded(), prefix) {
				found = r
				n++
			}
			return nil
		})
		if err != nil {
			return nil, "", err
		}
		if n == 1 {
			return found, "", nil
		}
		if n > 1 {
			return nil, "", errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("image ID prefix %q is ambiguous", s))
		}
	}
	if named, err := normalize(s); err == nil && !strings.HasPrefix(s, "sha256:") {
		s = reference.FamiliarString(named) // with its tag, as Docker says it: "busybox:latest"
	}
	return nil, "", errdefs.ErrNotFound.WithMessage("No such image: " + s)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Get finds the image named by s: a name ("busybox", "busybox:1.36",
// "busybox@sha256:..."), its ID or an ID prefix.
func (s *Service) Get(ctx context.Context, ref string) (Image, error) {
	var img Image
	err := s.db.View(func(tx *bolt.Tx) error {
		r, _, err := resolve(tx, ref)
		if err != nil {
			return err
		}
		names, err := refsOf(tx, r.ID)
		if err != nil {
			return err
		}
		img, err = toImage(r, names)
		return err
	})
	return img, err
}

// ListOptions filters List, as `docker images --filter` does.
type ListOptions struct {
	// Dangling, when set, keeps only images without tags (true) or with tags
	// (false).
	Dangling *bool
	// References keep images with a name matching one of these patterns
	// ("busybox", "busy*:1.*", "docker.io/library/busybox"), in familiar or full
	// form; a pattern without a tag matches every tag.
	References []string
	// Labels keep images with every label given, "key" or "key=value".
	Labels []string
	// Before and Since keep images created before or after the image they name.
	Before, Since string
}

// List returns the images that pass opts, newest first.
func (s *Service) List(ctx context.Context, opts ListOptions) ([]Image, error) {
	var out []Image
	err := s.db.View(func(tx *bolt.Tx) error {
		names := map[digest.Digest][]string{}
		if err := forEachRef(tx, func(name string, r *refRecord) error {
			names[r.ID] = append(names[r.ID], name)
			return nil
		}); err != nil {
			return err
		}
		var before, since *Image
		for _, b := range []struct {
			s   string
			dst **Image
		}{{opts.Before, &before}, {opts.Since, &since}} {
			if b.s == "" {
				continue
			}
			r, _, err := resolve(tx, b.s)
			if err != nil {
				return err
			}
			img, err := toImage(r, nil)
			if err != nil {
				return err
			}
			*b.dst = &img
		}
		return forEachRecord(tx, func(r *record) error {
			img, err := toImage(r, names[r.ID])
			if err != nil {
				return err
			}
			if keep(img, names[r.ID], opts, before, since) {
				out = append(out, img)
			}
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, err
}

func keep(img Image, names []string, opts ListOptions, before, since *Image) bool {
	if opts.Dangling != nil && *opts.Dangling != (len(img.RepoTags) == 0) {
		return false
	}
	if before != nil && !img.Created.Before(before.Created) {
		return false
	}
	if since != nil && !img.Created.After(since.Created) {
		return false
	}
	for _, l := range opts.Labels {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := img.Config.Config.Labels[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	if len(opts.References) > 0 {
		matched := false
		for _, p := range opts.References {
			for _, n := range names {
				if matchRef(p, n) {
					matched = true
				}
			}
		}
		if !matched {
			return false
		}
	}
	return true
}

// matchRef matches a reference filter against a stored (normalised) name,
// trying the pattern on the familiar and the full spelling, with and without
// the tag, as Docker's reference filter does.
func matchRef(pattern, name string) bool {
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return false
	}
	candidates := []string{reference.FamiliarString(named), named.String(), reference.FamiliarName(named), named.Name()}
	for _, c := range candidates {
		if ok, _ := filepath.Match(pattern, c); ok {
			return true
		}
	}
	return false
}

// Tag gives the image src (any form Get accepts) the name newRef ("name" means
// "name:latest"). A name that pointed at another image moves; that image
// keeps its other names, or becomes dangling.
func (s *Service) Tag(ctx context.Context, src, newRef string) error {
	named, err := normalize(newRef)
	if err != nil {
		return err
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("refusing to create a tag with a digest reference: %s", newRef))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		r, _, err := resolve(tx, src)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		r.LastTagged = now
		if err := putRecord(tx, r); err != nil {
			return err
		}
		return putRef(tx, named.String(), refRecord{ID: r.ID, Target: r.Manifest, Added: now})
	})
}

// Untag removes the name ref; the image stays, dangling if that was its last
// name. A name that does not exist is ErrNotFound.
func (s *Service) Untag(ctx context.Context, ref string) error {
	named, err := normalize(ref)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefs)
		if b.Get([]byte(named.String())) == nil {
			return errdefs.ErrNotFound.WithMessage("No such image: " + ref)
		}
		return b.Delete([]byte(named.String()))
	})
}

// MatchReference reports whether a name (familiar or full, "busybox:latest") matches a
// reference filter pattern as Docker's does; listings use it to show only the
// matching tags of an image.
func MatchReference(pattern, name string) bool { return matchRef(pattern, name) }
