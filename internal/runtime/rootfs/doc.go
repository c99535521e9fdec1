// Package rootfs builds a container's filesystem view inside its new mount namespace,
// as the OCI runtime-spec describes it: root, mounts, devices, masked and read-only
// paths, sysctls and propagation. The container's init process drives it:
//
//	plan, err := rootfs.NewPlan(spec, bundle, rootfs.Options{InUserNS: userns})
//	plan.Setup()        // host still visible: mounts, devices, /dev symlinks
//	plan.BindConsole(p) // optional, any time after Setup
//	plan.Enter(noPivot) // pivot_root: the rootfs becomes "/", the host disappears
//	plan.Finalize()     // sysctls, read-only and masked paths, read-only "/"
//
// NewPlan touches nothing. It validates the spec and normalises it (absolute clean
// destinations, bind sources made absolute against the bundle, every option sorted
// into mount(2) flags, propagation, recursive attributes or filesystem data), so bad
// input fails before init changes anything. Plan.String shows the result; the golden
// files in testdata/plan pin it down.
//
// # Order, and why
//
// Setup
//  1. "/" becomes rslave (or linux.rootfsPropagation) before anything is mounted, so
//     the container's mounts never propagate back to the host, while the host's later
//     mounts still reach the container.
//  2. The rootfs is bound onto itself: pivot_root needs a mount point, and every
//     mount below lands inside that bind, which the container takes along.
//  3. The spec's mounts, in the spec's order (later ones may sit on earlier ones, as
//     /dev/pts on /dev). A bind's "ro" and friends need a second remount, because the
//     kernel ignores them on the first MS_BIND; that remount keeps the flags the bind
//     inherited from its source unless the options clear them ("rw", "suid"),
//     since in a user namespace those flags are locked. Propagation options come
//     last, as a separate call.
//  4. Devices (the six defaults plus linux.devices) with mknod, or, in a user
//     namespace, as binds of the host's nodes; then /dev/fd, stdin, stdout, stderr
//     (and core) symlinks, and /dev/ptmx -> pts/ptmx when /dev/pts is a devpts.
//     Skipped when /dev is a bind of the host's.
//
// Enter: pivot_root(".", ".") then a lazy unmount of the old root, so no directory for
// it is needed in the image; with noPivot, MS_MOVE and chroot.
//
// Finalize, inside the new root:
//  1. sysctls, first, because /proc/sys is usually one of the read-only paths;
//  2. read-only paths (a bind of the path onto itself, remounted ro,nosuid,nodev,noexec);
//  3. masked paths (/dev/null bound over files, an empty read-only tmpfs over
//     directories; paths that do not exist are skipped);
//  4. "/" remounted read-only when root.readonly, last, so everything above could
//     still create its mount points;
//  5. linux.rootfsPropagation on the new "/".
//
// # Security: nothing resolves outside the rootfs
//
// The image is untrusted. Every destination is looked up with openat2(2) and
// RESOLVE_IN_ROOT relative to a descriptor of the rootfs, so a symlink in the image —
// "/", "../../etc", an absolute host path — resolves as it would inside the container.
// Missing directories and files are created one component at a time under
// descriptors from those lookups. Mounts then target /proc/self/fd/N of the O_PATH
// descriptor, never the path again, so a swap between check and mount changes nothing.
// Destinations are also checked once resolved: only proc goes on /proc, nothing goes
// inside /proc except the LXCFS-emulated files, and no symlink may steer a mount into
// /proc or /sys.
//
// The caller provides the rest: it has unshared the mount namespace (and any other),
// locked its OS thread, and joined its cgroups before Setup when the spec mounts
// "cgroup". SELinux mount labels and id-mapped mounts are refused with an error.
package rootfs
