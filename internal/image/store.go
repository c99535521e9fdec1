package image

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-engine/berth/internal/boltdb"
)

// SchemaVersion is the layout of images.db (see the package documentation).
// Open refuses a database of any other version.
const SchemaVersion = "1"

var (
	bucketImages = []byte("images")
	bucketRefs   = []byte("refs")
	// bucketCompressed maps an uncompressed layer blob's digest to the
	// descriptor of the gzip copy a push made of it.
	bucketCompressed = []byte("compressed")
)

// record is an image as images.db keeps it, under its ID.
type record struct {
	ID       digest.Digest        `json:"id"`
	Manifest ocispec.Descriptor   `json:"manifest"`
	Config   []byte               `json:"config"` // the config blob's exact bytes
	Layers   []ocispec.Descriptor `json:"layers"`
	ChainIDs []digest.Digest      `json:"chainIDs"`
	Size     int64                `json:"size"`
	Added    time.Time            `json:"added"`
	// LastTagged is when a tag or import last gave the image a name (what
	// docker inspect calls LastTagTime); zero when only pulls and loads did.
	LastTagged time.Time `json:"lastTagged,omitzero"`
}

// blobs lists the content blobs the image keeps alive.
func (r *record) blobs() []digest.Digest {
	ds := []digest.Digest{r.Manifest.Digest, r.ID}
	for _, l := range r.Layers {
		ds = append(ds, l.Digest)
	}
	return ds
}

// refRecord is a name (tag or digest reference) as images.db keeps it.
type refRecord struct {
	ID digest.Digest `json:"id"`
	// Target is what the name resolved to: the image's manifest, or the index
	// it was selected from.
	Target ocispec.Descriptor `json:"target"`
	Added  time.Time          `json:"added"`
}

func openDB(path string) (*bolt.DB, error) {
	return boltdb.Open(path, "image metadata", SchemaVersion, bucketImages, bucketRefs, bucketCompressed)
}

func getRecord(tx *bolt.Tx, id digest.Digest) (*record, error) {
	v := tx.Bucket(bucketImages).Get([]byte(id))
	if v == nil {
		return nil, errdefs.ErrNotFound.WithMessage("No such image: " + id.String())
	}
	var r record
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("image %s: decode record: %w", id, err)
	}
	return &r, nil
}

func putRecord(tx *bolt.Tx, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketImages).Put([]byte(r.ID), b)
}

func getRef(tx *bolt.Tx, name string) (*refRecord, bool, error) {
	v := tx.Bucket(bucketRefs).Get([]byte(name))
	if v == nil {
		return nil, false, nil
	}
	var r refRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, false, fmt.Errorf("name %s: decode record: %w", name, err)
	}
	return &r, true, nil
}

func putRef(tx *bolt.Tx, name string, r refRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketRefs).Put([]byte(name), b)
}

func getCompressed(tx *bolt.Tx, d digest.Digest) (ocispec.Descriptor, bool) {
	var desc ocispec.Descriptor
	v := tx.Bucket(bucketCompressed).Get([]byte(d))
	if v == nil || json.Unmarshal(v, &desc) != nil {
		return ocispec.Descriptor{}, false
	}
	return desc, true
}

func putCompressed(tx *bolt.Tx, d digest.Digest, desc ocispec.Descriptor) error {
	b, err := json.Marshal(desc)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketCompressed).Put([]byte(d), b)
}

// forEachRecord calls fn for every image.
func forEachRecord(tx *bolt.Tx, fn func(*record) error) error {
	return tx.Bucket(bucketImages).ForEach(func(k, v []byte) error {
		var r record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("image %s: decode record: %w", k, err)
		}
		return fn(&r)
	})
}

// forEachRef calls fn for every name.
func forEachRef(tx *bolt.Tx, fn func(name string, r *refRecord) error) error {
	return tx.Bucket(bucketRefs).ForEach(func(k, v []byte) error {
		var r refRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("name %s: decode record: %w", k, err)
		}
		return fn(string(k), &r)
	})
}

// refsOf returns the names pointing at id.
func refsOf(tx *bolt.Tx, id digest.Digest) ([]string, error) {
	var names []string
	err := forEachRef(tx, func(name string, r *refRecord) error {
		if r.ID == id {
			names = append(names, name)
		}
		return nil
	})
	return names, err
}
