package rootfs

import "sort"

// KnownOptions lists every mount option this package understands, for
// `berth-runtime features`.
func KnownOptions() []string {
	var names []string
	for n := range flagOptions {
		names = append(names, n)
	}
	for n := range propagationOptions {
		names = append(names, n)
	}
	for n := range recursiveOptions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
