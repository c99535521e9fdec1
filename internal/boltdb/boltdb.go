// Package boltdb opens berth's bbolt metadata databases (images, snapshots, volumes) the
// one way they are all opened: the file lock waited for a bounded time, the schema
// version recorded in the "meta" bucket on first use and checked on every open after,
// the caller's buckets made. A database of another schema is refused
// (errdefs.ErrFailedPrecondition) rather than read wrongly.
package boltdb

import (
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketMeta = []byte("meta")
	keySchema  = []byte("schema")
)

// lockTimeout bounds the wait for another process's lock on the file (a second
// berthd on the same data root is refused earlier, by the data root's own lock).
const lockTimeout = 5 * time.Second

// Open opens the database at path, which holds what ("image metadata"), for schema
// version schema, with the given buckets.
func Open(path, what, schema string, buckets ...[]byte) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := string(meta.Get(keySchema)); v {
		case "":
			if err := meta.Put(keySchema, []byte(schema)); err != nil {
				return err
			}
		case schema:
		default:
			return fmt.Errorf("schema version %q, this berth reads %q: %w", v, schema, errdefs.ErrFailedPrecondition)
		}
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return db, nil
}
