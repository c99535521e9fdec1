// Package native is the snapshotter for data roots where overlayfs cannot be
// mounted (a root on overlayfs itself, a kernel without it, some nested
// containers): each active snapshot is a full copy of its parent's tree, and
// its mount is a plain bind.
//
//	Prepare("ctr", "c3")  copy <c3>/fs to <ctr>/fs; bind <ctr>/fs read-write
//	Prepare("x", "")      empty <x>/fs; bind read-write
//	View("v", "c3")       bind <c3>/fs read-only (committed trees never change,
//	                      so a view needs no copy)
//
// The copy keeps what a root filesystem needs: owners, modes (setuid, sticky),
// extended attributes (capabilities, ACLs), hard links, symlinks, device
// nodes, fifos and sockets, and access and modification times. A deletion in
// a snapshot is simply a deletion: there are no whiteouts, every committed
// tree is complete. Disk use is the price: Usage of a committed snapshot
// counts its whole tree.
//
// The driver reports itself as "vfs" (Name), the name docker info shows for
// Docker's copying driver.
package native
