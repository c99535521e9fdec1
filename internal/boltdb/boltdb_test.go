package boltdb

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	bolt "go.etcd.io/bbolt"
)

func TestSchemaRecordedThenChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(path, "test metadata", "1", []byte("things"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("things")) == nil {
			t.Error("bucket things not made")
		}
		if v := string(tx.Bucket(bucketMeta).Get(keySchema)); v != "1" {
			t.Errorf("schema recorded as %q, want 1", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(path, "test metadata", "1")
	if err != nil {
		t.Fatalf("reopen with the same schema: %v", err)
	}
	db.Close()
	_, err = Open(path, "test metadata", "2")
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), `test metadata `+path+`: schema version "1", this berth reads "2"`) {
		t.Errorf("open with another schema: %v", err)
	}
}
