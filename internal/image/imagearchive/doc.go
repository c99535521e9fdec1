// Package imagearchive reads and writes image tarballs: what `docker save`
// writes and `docker load` reads, and OCI image layouts packed in a tar (or
// spread out in a directory).
//
// It knows nothing of image names in a store, snapshots or the daemon. Reading
// moves blobs into a Sink (a content store) and hands back what the archive
// describes; writing reads blobs from a Source. The image store does the rest.
//
// # The two formats
//
// Docker's format (docker save up to 24, and skopeo's docker-archive):
//
//	manifest.json          [{"Config":"<hex>.json","RepoTags":["busybox:latest"],
//	                         "Layers":["<id>/layer.tar", ...]}, ...]
//	repositories           {"busybox":{"latest":"<top layer id>"}}   (legacy, ignored on read)
//	<hex>.json             the image config; <hex> is its sha256
//	<id>/layer.tar         an uncompressed layer (a reader accepts gzip and zstd too)
//	<id>/VERSION, <id>/json  legacy v1 metadata, ignored on read
//
// Members are named by path, not digest, so a reader hashes each one as it
// streams past and resolves manifest.json's paths to digests at the end. Docker
// 25 and later write the layers as blobs/sha256/<hex> (an OCI layout beside
// manifest.json), with <id>/layer.tar as symlinks to them; both are followed.
//
// The OCI image layout:
//
//	oci-layout             {"imageLayoutVersion":"1.0.0"}
//	index.json             an OCI index; each entry's annotations name it:
//	                       org.opencontainers.image.ref.name and io.containerd.image.name
//	blobs/sha256/<hex>     manifests, indexes, configs and layers by digest
//
// An index.json entry may itself be an index (a multi-platform image); its
// manifests that are in the archive are read and the others skipped.
//
// # Reading a stream
//
// A tar is read once, front to back, and blobs may come before the metadata
// that explains them. So every member is ingested into the Sink as it arrives
// — blobs/<alg>/<hex> members under the digest their name promises (the Sink
// verifies it), other members under the sha256 computed while they stream —
// and only metadata (manifest.json, index.json, oci-layout, repositories) is
// kept in memory. At the end the manifests are resolved against what arrived.
// A Docker-format image becomes an OCI manifest (layer media types
// application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]) that is ingested into the
// Sink too, after each layer's uncompressed digest is checked against the
// config's rootfs.diff_ids. Members nothing refers to are left in the Sink as
// unreferenced blobs for the store's garbage collection.
//
// # Errors
//
// A malformed archive (not a tar, no manifest.json nor index.json, a path that
// climbs out of the archive, a reference to a blob the archive lacks, a layer
// whose content disagrees with the config) fails with a one-line message
// wrapping errdefs.ErrInvalidArgument. A blob whose bytes disagree with its
// digest fails with the Sink's error, which wraps errdefs.ErrFailedPrecondition.
package imagearchive
