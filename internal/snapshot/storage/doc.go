// Package storage is the half of a snapshotter that overlay/ and native/
// share: the metadata of snapshots in a bbolt database, their directories on
// disk, and the rules of the snapshot model (see package snapshot). A Driver
// supplies the rest: how a new snapshot's directory is filled and which
// mounts show it.
//
// # On disk
//
//	<root>/
//	    metadata.db              bbolt, below
//	    snapshots/
//	        <id>/                one per snapshot; ids are decimal, never reused
//	            fs/              the snapshot's tree (overlay: its layer only;
//	                             native: a full copy)
//	            work/            overlay's work directory (active snapshots)
//	        new-<random>/        being filled by Prepare or View
//	        rm-<name>/           being deleted by Remove or Cleanup
//
// A snapshot's directory is filled under a new-* name first and renamed to
// snapshots/<id> inside the transaction that records its metadata, so a crash
// leaves at worst a directory without metadata: new-*, rm-*, or an <id> the
// database does not know. Cleanup removes those.
//
// # The database
//
//	meta/                        bucket
//	    schema   -> "1"          layout version; Open refuses any other
//	snapshots/                   bucket; its sequence allocates ids
//	    <key>/                   one bucket per snapshot, named by its key
//	        id       -> "17"     directory snapshots/17
//	        kind     -> "active" | "view" | "committed"
//	        parent   -> key of the parent (absent for a base snapshot)
//	        created  -> RFC 3339 time, UTC, nanoseconds
//	        updated  -> RFC 3339 time
//	        size     -> bytes of the layer, measured at commit (committed only)
//	        inodes   -> inodes of the layer, measured at commit (committed only)
//	        labels/              bucket: label key -> value
//	        children/            bucket: key of each child -> ""
//
// Every change is one bbolt read-write transaction, so metadata is always
// consistent; children/ makes "remove refuses a parent" a single lookup.
package storage
