// Package volume is berth's volume store and its one driver, "local", which
// behaves as Docker's: a volume is a directory on the host that outlives the
// containers using it, or, when created with mount options, a file system
// (tmpfs, a bind of a host directory, NFS...) mounted on that directory while
// a container uses it.
//
// # The model
//
// A volume has a name (chosen by the user, or 64 random hex digits for an
// anonymous volume, which then carries the label com.docker.volume.anonymous),
// driver options fixed at creation, labels, and two sets of container IDs:
//
//   - references: the containers that use the volume, from container create
//     to container remove. A referenced volume is "in use": Remove refuses it
//     and Prune skips it; an unreferenced one is "dangling". Acquire and
//     Release change this set.
//   - mounts: the containers that have it mounted right now (started and not
//     yet stopped), a subset of the references. A volume with a "type" or
//     "device" option mounts its file system on the first Mount and unmounts it
//     when the last holder calls Unmount or Release, as Docker's local driver
//     does; creating it mounts nothing.
//
// Both sets are stored, so after a daemon restart a volume used by a container
// is still in use and its mount still has its holders; the daemon drops the
// IDs of containers that are gone (Release) when it reconciles its containers.
//
// A typical container's life:
//
//	v, _, _ := s.Create(ctx, "", "local", nil, nil) // docker run -v /data (anonymous)
//	s.Acquire(ctx, v.Name, ctrID)                   // container created
//	dir, _ := s.Mount(ctx, v.Name, ctrID)           // container starting
//	s.Populate(ctx, v.Name, rootfs, "/data")        // copy the image's /data into an empty volume,
//	                                                // before dir is bound over rootfs/data
//	...bind dir into the container at /data...
//	s.Unmount(ctx, v.Name, ctrID)                   // container stopped
//	s.Release(ctx, v.Name, ctrID)                   // container removed: the volume is dangling
//	s.Remove(ctx, v.Name, false)                    // docker rm -v, or Prune
//
// Mount, Unmount, Release (and Open, which unmounts leftovers) act in the mount
// namespace of the calling thread.
//
// # Options
//
// Docker's local driver options: type, device and o are mount(8)'s -t, device
// and -o (type=tmpfs device=tmpfs o=size=100m,uid=1000; type=none o=bind
// device=/srv/data; type=nfs o=addr=10.0.0.1,rw device=:/export), device and
// type go together and o needs both; size (a disk quota) is refused, as Docker
// refuses it without quota support. berth adds uid, gid and mode (octal), the
// owner and permissions of the volume's root directory (moby#21259): set on
// _data when the volume is created, and on the mounted file system's root each
// time it is mounted afresh. A new plain volume is root-owned 0755 otherwise.
//
// # On disk
//
//	<root>/                          <data-root>/volumes, 0701
//	    metadata.db                  bbolt, below ("metadata.db" is therefore
//	                                 not a volume name)
//	    <name>/                      0701
//	        _data/                   the volume's content, or its mount point
//	    .new-<random>/               a volume being created
//	    .rm-<random>/                a volume being removed
//
// A volume's directory is built under a .new- name and renamed to <name>
// inside the transaction that records it; Remove renames it to a .rm- name
// inside the transaction that forgets it, then deletes it. Names starting with
// a dot are not volume names, so the two never meet. Open reconciles what a
// crash can leave: .new- and .rm- directories are deleted, a <name> directory
// without metadata is deleted when its _data is empty (a create cut short) or
// adopted as a volume when it holds data, a volume whose directory vanished
// gets an empty one again, and a mounting volume found mounted with no holder
// is unmounted. Reconciled says what was done.
//
// The database:
//
//	meta/schema      -> "1"         layout version; Open refuses any other
//	volumes/<name>   -> JSON {driver, created, labels, options, refs, mounts}
//
// Every change is one bbolt transaction; operations on one name are
// serialised, operations on different names run in parallel.
//
// # Errors
//
// Errors carry containerd/errdefs classes and, where Docker's wording is known
// to users, its exact text: "get x: no such volume" (not found), "remove x:
// volume is in use - [id1, id2]" (conflict), "create x/y: "x/y" includes
// invalid characters for a local volume name, ..." (invalid argument).
package volume
