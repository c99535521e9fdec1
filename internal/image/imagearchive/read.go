package imagearchive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/berth-engine/berth/internal/archive"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Files of an archive that are metadata, not blobs; they are kept in memory.
const (
	dockerManifestFile = "manifest.json"
	repositoriesFile   = "repositories"
	maxMetadataSize    = 32 << 20
	maxLinkHops        = 16
)

var metadataFiles = map[string]bool{
	dockerManifestFile:      true,
	repositoriesFile:        true,
	ocispec.ImageIndexFile:  true,
	ocispec.ImageLayoutFile: true,
}

// Read reads an image archive — Docker's `docker save` format or an OCI
// layout, as a tar, possibly gzip- or zstd-compressed as a whole — ingesting
// its blobs into sink as they stream past, and returns the images it holds in
// the order the archive lists them.
func Read(ctx context.Context, r io.Reader, sink Sink) ([]Image, error) {
	dr, _, err := archive.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	defer dr.Close()
	tr := tar.NewReader(dr)
	st := &tarState{
		sink:    sink,
		members: map[string]blob{},
		links:   map[string]string{},
		seen:    map[digest.Digest]int64{},
		meta:    map[string][]byte{},
	}
	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			if i == 0 {
				return nil, invalid("image archive: empty, not a tar archive")
			}
			break
		}
		if err != nil {
			if i == 0 {
				return nil, invalid("image archive: not a tar archive: %v", err)
			}
			return nil, invalid("image archive: corrupt tar after %d members: %v", i, err)
		}
		if err := st.member(ctx, hdr, tr); err != nil {
			return nil, fmt.Errorf("image archive: %w", err)
		}
	}
	res := &resolver{sink: sink, blobs: st}
	images, err := res.resolve(ctx, st.meta, st.lookup)
	if err != nil {
		return nil, fmt.Errorf("image archive: %w", err)
	}
	return images, nil
}

// blob is a member stored in the sink.
type blob struct {
	digest digest.Digest
	size   int64
}

// tarState is what a pass over the tar learned.
type tarState struct {
	sink    Sink
	members map[string]blob         // regular member name -> its blob
	links   map[string]string       // symlink or hardlink name -> the member it names
	seen    map[digest.Digest]int64 // blobs that came with the archive
	meta    map[string][]byte       // metadataFiles, by name
}

func (st *tarState) member(ctx context.Context, hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeDir {
		return nil // "./", "blobs/": an archive made with tar -C dir -c . has them
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeReg:
	case tar.TypeSymlink:
		if path.IsAbs(hdr.Linkname) {
			return invalid("member %q: symlink to an absolute path %q", hdr.Name, hdr.Linkname)
		}
		target, err := cleanName(path.Join(path.Dir(name), hdr.Linkname))
		if err != nil {
			return invalid("member %q: symlink %q leads out of the archive", hdr.Name, hdr.Linkname)
		}
		st.links[name] = target
		return nil
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return invalid("member %q: hard link %q leads out of the archive", hdr.Name, hdr.Linkname)
		}
		st.links[name] = target
		return nil
	default:
		return nil // directories, devices: nothing an image archive needs
	}
	if metadataFiles[name] {
		if hdr.Size > maxMetadataSize {
			return invalid("member %q: %d bytes, more than %d", name, hdr.Size, maxMetadataSize)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return fmt.Errorf("member %q: %w", name, err)
		}
		st.meta[name] = b
		return nil
	}
	if base := path.Base(name); strings.Contains(name, "/") && (base == "json" || base == "VERSION") && !strings.HasPrefix(name, ocispec.ImageBlobsDir+"/") {
		return nil // Docker's legacy v1 metadata
	}
	desc := ocispec.Descriptor{Size: hdr.Size}
	if d, ok, err := blobName(name); err != nil {
		return err
	} else if ok {
		desc.Digest = d
		if size, ok := st.seen[d]; ok && size == hdr.Size {
			st.members[name] = blob{d, size}
			return nil
		}
		if info, err := st.sink.Info(ctx, d); err == nil && info.Size == hdr.Size {
			st.members[name] = blob{d, hdr.Size}
			st.seen[d] = hdr.Size
			return nil
		}
	}
	d, err := st.sink.Ingest(ctx, desc, r)
	if err != nil {
		return fmt.Errorf("member %q: %w", name, err)
	}
	st.members[name] = blob{d, hdr.Size}
	st.seen[d] = hdr.Size
	return nil
}

// lookup finds the blob a member name (as manifest.json spells it) stands for,
// following links.
func (st *tarState) lookup(name string) (blob, error) {
	clean, err := cleanName(name)
	if err != nil {
		return blob{}, err
	}
	for range maxLinkHops {
		if b, ok := st.members[clean]; ok {
			return b, nil
		}
		target, ok := st.links[clean]
		if !ok {
			return blob{}, invalid("%q is not in the archive", name)
		}
		clean = target
	}
	return blob{}, invalid("%q: too many links", name)
}

// has tells whether dgst came with the archive or is already in the sink.
func (st *tarState) has(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if size, ok := st.seen[desc.Digest]; ok {
		if desc.Size > 0 && size != desc.Size {
			return false, invalid("blob %s: %d bytes in the archive, %d expected", desc.Digest, size, desc.Size)
		}
		return true, nil
	}
	info, err := st.sink.Info(ctx, desc.Digest)
	return err == nil && (desc.Size <= 0 || info.Size == desc.Size), nil
}

// cleanName makes a member name relative and clean, and refuses one that
// climbs out of the archive.
func cleanName(name string) (string, error) {
	if path.IsAbs(name) {
		return "", invalid("member %q: absolute path", name)
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", invalid("member %q: path leads out of the archive", name)
	}
	if c == "." {
		return "", invalid("member %q: empty name", name)
	}
	return c, nil
}

// blobName tells whether name is blobs/<alg>/<hex> and which digest it names.
func blobName(name string) (digest.Digest, bool, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] != ocispec.ImageBlobsDir {
		return "", false, nil
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[2])
	if err := d.Validate(); err != nil {
		return "", false, invalid("member %q: not a blob name: %v", name, err)
	}
	return d, true, nil
}

// ReadDir reads an OCI image layout directory, ingesting into sink the blobs
// its index.json reaches (and no others).
func ReadDir(ctx context.Context, dir string, sink Sink) ([]Image, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("image layout: %w", err)
	}
	defer root.Close()
	meta := map[string][]byte{}
	for _, name := range []string{ocispec.ImageIndexFile, ocispec.ImageLayoutFile} {
		b, err := readRootFile(root, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("image layout %s: %w", dir, err)
		}
		meta[name] = b
	}
	if meta[ocispec.ImageIndexFile] == nil {
		return nil, invalid("image layout %s: no index.json", dir)
	}
	res := &resolver{sink: sink, blobs: &dirBlobs{root: root, sink: sink}}
	images, err := res.resolve(ctx, meta, nil)
	if err != nil {
		return nil, fmt.Errorf("image layout %s: %w", dir, err)
	}
	return images, nil
}

func readRootFile(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetadataSize+1))
	if err == nil && len(b) > maxMetadataSize {
		return nil, invalid("%s: more than %d bytes", name, maxMetadataSize)
	}
	return b, err
}

// dirBlobs ingests a layout directory's blobs on demand.
type dirBlobs struct {
	root *os.Root
	sink Sink
}

func (d *dirBlobs) has(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if info, err := d.sink.Info(ctx, desc.Digest); err == nil && (desc.Size <= 0 || info.Size == desc.Size) {
		return true, nil
	}
	name := path.Join(ocispec.ImageBlobsDir, desc.Digest.Algorithm().String(), desc.Digest.Encoded())
	f, err := d.root.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if !fi.Mode().IsRegular() {
		return false, invalid("%s: not a regular file", name)
	}
	if desc.Size > 0 && fi.Size() != desc.Size {
		return false, invalid("%s: %d bytes, %d expected", name, fi.Size(), desc.Size)
	}
	if _, err := d.sink.Ingest(ctx, ocispec.Descriptor{Digest: desc.Digest, Size: fi.Size()}, f); err != nil {
		return false, fmt.Errorf("%s: %w", name, err)
	}
	return true, nil
}
