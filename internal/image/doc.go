// Package image is berth's image service: names to images, pull, push, import,
// deletion with garbage collection, and the root file systems containers start
// from. It sits on three stores, each with one job:
//
//   - the content store (package content): manifests, indexes, configs and
//     compressed layer blobs, by digest, kept so images can be pushed and saved;
//   - the snapshotter (package snapshot): each layer unpacked once, as a
//     committed snapshot named by the layer's chain ID, shared by every image
//     and container built on it;
//   - images.db (bbolt, below): which images exist and what names they have.
//
// # Identities
//
// An image's ID is the digest of its config. Its layers are identified three
// ways: the compressed blob's digest (in the manifest), the uncompressed tar's
// digest (diff ID, in the config) and the chain ID, which names the stack of
// layers up to it:
//
//	chain[0] = diff[0]
//	chain[n] = sha256(chain[n-1] + " " + diff[n])
//
// Two images whose first layers are the same share those layers' snapshots,
// however their blobs were compressed.
//
// # Names
//
// Names are Docker references normalised by distribution/reference:
// "busybox" is stored as docker.io/library/busybox:latest. A pull records the
// tag and name@digest, where the digest is what the tag resolved to (the index
// of a multi-platform image, as Docker reports in RepoDigests). An image
// without tags is dangling.
//
// # On disk
//
//	<root>/images.db
//	    meta/schema            -> "1"
//	    images/<image ID>      -> {manifest descriptor, config bytes, layer
//	                               descriptors, chain IDs, size, added,
//	                               last tagged}
//	    refs/<normalised name> -> {image ID, target descriptor, added}
//	    compressed/<layer blob digest> -> descriptor of the gzip copy a push
//	                               made of an uncompressed layer (kept while
//	                               the layer blob is; the next push sends it
//	                               without compressing again)
//	<root>/tmp/                   mount points of layers being unpacked
//
// # Pull
//
// Layers download in parallel (bounded) and unpack strictly in order, each
// into an active snapshot on its parent (key "extract-<random>"), mounted on a
// thread of its own in a private mount namespace, then committed under its
// chain ID once both its compressed digest and its diff ID are verified. A
// layer whose snapshot exists is not downloaded at all. The image record and
// its names are written last, in one transaction: a pull that fails leaves no
// image, removes its active snapshots and aborts its partial blobs, and one
// killed half-way leaves only complete blobs and snapshots that the next pull
// reuses (Open removes stale extract-* snapshots).
//
// # Garbage collection
//
// Deleting an image (Delete, Prune) sweeps: blobs and chain-ID snapshots that
// no image record, name or running operation (a lease, kept in memory)
// references are removed, snapshots from the top of each chain down; one that
// still has a child (a container's layer, or another image's) stays. The
// service therefore owns its content store: it must hold nothing else.
//
// # Errors
//
// Errors carry containerd/errdefs classes; those users see in docker's words
// ("No such image: x", "conflict: unable to delete ...") read exactly so.
package image
