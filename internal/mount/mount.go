// Package mount describes filesystem mounts as data and, on Linux, performs
// them.
//
// A snapshotter never mounts anything itself: it answers with a list of Mount
// values, and whoever needs the tree (the image unpacker, the container
// creator, a test) mounts them where it wants with All and later removes them
// with Unmount or UnmountAll. Two shapes cover every snapshot:
//
//	// a layer with no parent: its directory, bound read-write
//	{Type: "bind", Source: "/var/lib/berth/overlay2/snapshots/7/fs", Options: ["rbind", "rw"]}
//
//	// a layer on top of others: overlayfs, nearest parent first in lowerdir
//	{Type: "overlay", Source: "overlay", Options: [
//	    "index=off",
//	    "lowerdir=/…/snapshots/6/fs:/…/snapshots/2/fs",
//	    "upperdir=/…/snapshots/9/fs",
//	    "workdir=/…/snapshots/9/work",
//	]}
//
// Options use mount(8)'s vocabulary: flags such as "ro", "nosuid", "rbind" and
// propagation such as "rprivate" are understood by name; anything else is the
// filesystem's own option and reaches the kernel unchanged.
//
// Overlay with many layers: mount(2) takes the options in one page (4096
// bytes), which a chain of about 60 absolute layer paths already fills. All
// therefore mounts overlayfs with the new mount API (fsopen/fsconfig/fsmount,
// one "lowerdir+" call per layer, Linux 6.8 and later), where no such limit
// exists. On older kernels it falls back to mount(2), and when the options do
// not fit in a page it runs the mount on a helper thread whose working
// directory is the layers' common parent, passing short relative paths.
// Paths inside lowerdir may not contain an unescaped ':' (write "\:"), as for
// mount(8).
package mount

import (
	"slices"
	"strings"
)

// Mount is one mount to perform: what mount(8) would take as
// "mount -t Type -o Options Source target".
type Mount struct {
	// Type is the filesystem type ("overlay", "tmpfs", ...), or "bind" for a
	// bind mount (the "bind" or "rbind" option makes any mount a bind mount).
	Type string `json:"type"`
	// Source is the device, directory or, for pseudo filesystems, a label.
	Source string `json:"source"`
	// Target, when set, is a path relative to the directory given to All at
	// which this mount goes; empty means that directory itself.
	Target string `json:"target,omitempty"`
	// Options are mount(8) options, flags and filesystem options alike.
	Options []string `json:"options,omitempty"`
}

// ReadOnly reports whether m mounts read-only: it has the "ro" option, or it
// is an overlay without an upper directory.
func (m Mount) ReadOnly() bool {
	ro := false
	upper := false
	for _, o := range m.Options {
		switch {
		case o == "ro":
			ro = true
		case o == "rw":
			ro = false
		case strings.HasPrefix(o, "upperdir="):
			upper = true
		}
	}
	return ro || (m.Type == "overlay" && !upper)
}

// Clone returns a copy of m that shares no memory with it.
func (m Mount) Clone() Mount {
	m.Options = slices.Clone(m.Options)
	return m
}
