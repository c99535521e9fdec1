// Package archive reads and writes image layers: the tar streams, usually
// compressed, that stack up into a container's root file system.
//
// # Layers and whiteouts
//
// A layer holds what changed relative to the layers below it. Added and
// modified files are ordinary tar entries. Removals are marked by whiteouts,
// empty files named after what they hide (the OCI image spec, "Representing
// Changes"):
//
//	etc/.wh.motd          etc/motd of the lower layers is gone
//	var/cache/.wh..wh..opq    var/cache is opaque: nothing of the lower layers'
//	                          var/cache shows, only this layer's own entries
//
// A whiteout hides only what lower layers hold; an entry of the same layer is
// never hidden by it, whichever comes first in the stream.
//
// # Two ways to apply a layer
//
// Apply unpacks a layer in one of two modes, chosen by the snapshotter:
//
//   - Overlay: into an empty directory that will be one lower (or upper) layer
//     of an overlayfs mount. Whiteouts become what overlayfs understands: a
//     0:0 character device for a removed path and the trusted.overlay.opaque=y
//     extended attribute on an opaque directory. The kernel then hides the
//     lower layers' entries when the layers are mounted. Needs root.
//
//   - Native: onto a complete copy of the parent's file system (the native,
//     copying snapshotter). Whiteouts remove the path; an opaque directory
//     loses the children it had before this layer.
//
// Diff goes the other way: from an overlay upper directory (or from two
// complete trees) back to a layer tar with whiteouts. Tar writes a whole
// directory, for export and import.
//
// # Safety
//
// A layer comes from a registry and may be hostile. Every path Apply touches
// is resolved inside the target directory as if it were the root: ".." stops
// there, symbolic links (absolute ones too) resolve within it, hardlinks may
// only point at entries within it, and the last element of a path is never
// followed. Entry names that climb out with ".." are refused.
package archive

// Mode selects how Apply treats whiteouts.
type Mode int

const (
	// Native applies a layer onto a full copy of its parent: whiteouts remove.
	Native Mode = iota
	// Overlay unpacks a layer into its own directory for overlayfs: whiteouts
	// become 0:0 character devices and opaque directories get the
	// trusted.overlay.opaque xattr.
	Overlay
)

func (m Mode) String() string {
	if m == Overlay {
		return "overlay"
	}
	return "native"
}

// ApplyOptions configures Apply.
type ApplyOptions struct {
	Mode Mode
	// IDMap, if set, maps the owner recorded in the layer to the owner on
	// disk (for user namespaces): it is called with the tar's uid and gid and
	// returns the ones to use. Directories Apply creates on its own (parents
	// the layer does not list) belong to the mapping of 0:0.
	IDMap func(uid, gid int) (int, int, error)
}

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."     // aufs bookkeeping entries: skipped
	opaqueMarker   = ".wh..wh..opq" // the directory is opaque
	overlayOpaque  = "trusted.overlay.opaque"
	paxXattr       = "SCHILY.xattr."
)
