// Package overlay is the snapshotter berth uses wherever the kernel can mount
// overlayfs on the data root: each committed snapshot is one layer directory,
// unpacked once and shared by every image and container built on it.
//
// For a snapshot whose ancestors are c3 (nearest), c2 and c1, with directories
// snapshots/<id>/fs as in package storage:
//
//	Prepare("ctr", "c3")  overlay  lowerdir=<c3>/fs:<c2>/fs:<c1>/fs
//	                               upperdir=<ctr>/fs workdir=<ctr>/work
//	Prepare("x", "")      bind     <x>/fs, read-write (nothing to merge)
//	View("v", "c3")       overlay  lowerdir=<c3>/fs:<c2>/fs:<c1>/fs (read-only)
//	View("v", "c1")       bind     <c1>/fs, read-only (overlay needs two lowers)
//
// What a container deletes or replaces is recorded in its upper directory the
// overlayfs way (whiteouts are 0/0 character devices, opaque directories carry
// trusted.overlay.opaque=y), so after Commit the layer directory is exactly
// what the next snapshot stacks on. Mounts always pass index=off, and turn
// redirect_dir and metacopy off when the kernel enables them by default, so a
// layer holds plain files that a tar differ can read; inside a user namespace
// they add userxattr.
//
// The driver reports itself as "overlay2" (Name), the name docker info shows
// for Docker's overlay driver, so tools and users see a familiar word. The
// directory layout is berth's own, not Docker's.
//
// Chains of any length mount: package mount hands each layer to the kernel
// separately (fsconfig "lowerdir+"), up to overlayfs's own limit of 500.
package overlay
