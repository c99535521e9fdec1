// Package drivers opens the snapshotter a data root uses, by the storage
// driver name Docker users know: "overlay2" (package overlay) or "vfs"
// (package native). With no name it chooses as dockerd does: overlay2 where
// the kernel can mount it on the data root, vfs otherwise.
//
// Each driver keeps its snapshots in its own directory, <dir>/<name>, so
// switching drivers never mixes layouts (images must be pulled again, as
// with Docker).
package drivers

import (
	"fmt"
	"path/filepath"

	"github.com/containerd/errdefs"

	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/native"
	"github.com/berth-engine/berth/internal/snapshot/overlay"
)

// aliases maps every accepted name to the driver's reported name.
var aliases = map[string]string{
	"overlay2":  overlay.Name,
	"overlay":   overlay.Name,
	"overlayfs": overlay.Name,
	"vfs":       native.Name,
	"native":    native.Name,
}

// Choose returns the driver to use under dir when none is configured:
// overlay2 if overlay.Supported says so, else vfs with the reason overlay2
// is unusable (worth logging).
func Choose(dir string) (driver string, why error) {
	if why = overlay.Supported(filepath.Join(dir, overlay.Name)); why != nil {
		return native.Name, why
	}
	return overlay.Name, nil
}

// Open opens the snapshotter named name under dir ("" to Choose) and
// returns it with the name to report, "overlay2" or "vfs". An explicit
// overlay2 that the kernel cannot mount here is an error, not a fallback.
func Open(dir, name string) (snapshot.Snapshotter, string, error) {
	var driver string
	switch {
	case name == "":
		driver, _ = Choose(dir)
	case aliases[name] == "":
		return nil, "", fmt.Errorf("storage driver %q: berth has overlay2 and vfs: %w", name, errdefs.ErrInvalidArgument)
	default:
		driver = aliases[name]
		if driver == overlay.Name {
			if err := overlay.Supported(filepath.Join(dir, driver)); err != nil {
				return nil, "", fmt.Errorf("storage driver %s: %w", name, err)
			}
		}
	}
	root := filepath.Join(dir, driver)
	var (
		sn  snapshot.Snapshotter
		err error
	)
	if driver == overlay.Name {
		sn, err = overlay.New(root)
	} else {
		sn, err = native.New(root)
	}
	if err != nil {
		return nil, "", err
	}
	return sn, driver, nil
}
