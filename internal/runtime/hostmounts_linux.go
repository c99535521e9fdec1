package runtime

import (
	"fmt"
	"sort"

	"github.com/moby/sys/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// releaseHostMounts undoes what a container without a mount namespace of its own
// mounted in the host's namespace under its rootfs (with a namespace, the kernel
// drops them with it).
func releaseHostMounts(st *State) error {
	if own, _ := hasNS(st.Spec, specs.MountNamespace); own || st.Rootfs == "" {
		return nil
	}
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(st.Rootfs))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	// Deepest first, so a parent is never detached before what it holds.
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
			return fmt.Errorf("unmount %s: %w", m.Mountpoint, err)
		}
	}
	return nil
}
