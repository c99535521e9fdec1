package rootfs

import (
	"sort"

	"github.com/berth-engine/berth/internal/mount"
)

// KnownOptions lists every mount option this package understands, for
// `berth-runtime features`.
func KnownOptions() []string {
	names := mount.OptionNames()
	for n := range recursiveOptions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
