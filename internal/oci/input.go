package oci

import (
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Input is everything Spec needs to describe one container. The daemon resolves
// names (volumes, other containers, networks) into paths before calling Spec;
// Spec itself only reads the container's /etc/passwd and /etc/group, stats
// device nodes named by --device and the blkio options, and reads a seccomp
// profile given as a file path.
type Input struct {
	// ID is the container's full ID; the cgroup path and the default host
	// name (its first 12 characters) derive from it.
	ID string
	// Config and HostConfig are the container's options as the Engine API
	// carries them. Spec does not modify them.
	Config     *container.Config
	HostConfig *container.HostConfig
	// Image, when not nil, holds the image's defaults and is merged into a
	// copy of Config first (MergeImage). Leave it nil when Config was already
	// merged at create time, as Docker stores it: merging twice is not the
	// same as merging once for `--entrypoint ""`.
	Image *ocispec.ImageConfig
	// Rootfs is the container's root file system on the host, mounted and
	// readable: user and group names are looked up in its /etc/passwd and
	// /etc/group.
	Rootfs string
	// Mounts are the user's mounts (-v, --mount, --volumes-from), resolved to
	// host paths by the caller. HostConfig.Tmpfs (--tmpfs) is read by Spec.
	Mounts []Mount
	// Files are host files bind-mounted over /etc/hosts, /etc/hostname and
	// /etc/resolv.conf; an empty path mounts nothing there.
	Files EtcFiles
	// Join holds the namespaces to join, for the modes that name one.
	Join Joined
	// CgroupsPath overrides the cgroup path, which is otherwise
	// <HostConfig.CgroupParent or Defaults.CgroupParent>/<ID>.
	CgroupsPath string
	// Defaults are the daemon-wide settings (daemon.json).
	Defaults Defaults
	// Host are facts about the machine (see ProbeHost).
	Host Host
}

// Mount is one user mount: a bind of a host path (a bind mount, or a volume's
// directory) or a tmpfs.
type Mount struct {
	// Destination is the absolute path inside the container.
	Destination string
	// Source is the host path to bind; unused for a tmpfs.
	Source string
	// Tmpfs mounts a new tmpfs instead of binding Source.
	Tmpfs bool
	// TmpfsOptions are the tmpfs's mount(8) options ("size=64m,mode=1777").
	TmpfsOptions string
	// ReadOnly makes the mount read-only: recursively (rro), unless
	// ReadOnlyNonRecursive.
	ReadOnly             bool
	ReadOnlyNonRecursive bool
	// NonRecursive binds only Source, not the mounts below it (bind, not rbind).
	NonRecursive bool
	// Propagation of a bind; empty means rprivate.
	Propagation mount.Propagation
}

// EtcFiles are the host files that stand in for the container's name
// resolution files.
type EtcFiles struct {
	Hosts      string
	Hostname   string
	ResolvConf string
}

// Joined are namespaces to enter instead of creating new ones, as paths such
// as /proc/<pid>/ns/net or /run/berth/netns/<id>.
type Joined struct {
	// Network is required for --network container:<id>; for a bridge or
	// user-defined network it is the namespace the network driver prepared,
	// and empty means a new, unconfigured one.
	Network string
	// IPC is required for --ipc container:<id>; PID for --pid container:<id>.
	IPC string
	PID string
	// User is the user namespace of the container whose namespaces are
	// joined, when user namespaces are remapped.
	User string
	// Shm is a host directory bound at /dev/shm instead of a fresh tmpfs:
	// the donor's /dev/shm for --ipc container:<id>, the container's own for
	// --ipc shareable. For --ipc host it defaults to the host's /dev/shm.
	Shm string
}

// Defaults are the daemon-wide settings that apply to every container unless
// its options say otherwise.
type Defaults struct {
	// NoNewPrivileges turns no_new_privs on for every container
	// (--security-opt no-new-privileges=false turns it off again).
	NoNewPrivileges bool
	// Ulimits apply unless the container sets the same one (--default-ulimit).
	Ulimits []*container.Ulimit
	// ShmSize of /dev/shm; 0 means DefaultShmSize.
	ShmSize int64
	// IpcMode for a container that does not choose; empty means private.
	IpcMode container.IpcMode
	// CgroupnsMode for a container that does not choose; empty means private,
	// on cgroup v1 as on v2.
	CgroupnsMode container.CgroupnsMode
	// CgroupParent of containers' cgroups; empty means DefaultCgroupParent.
	CgroupParent string
	// SeccompProfile is the daemon's profile: empty for the built-in one,
	// "unconfined" for none, or a profile's JSON.
	SeccompProfile string
	// Init runs InitPath as the container's pid 1 unless HostConfig.Init says
	// otherwise (--init).
	Init     bool
	InitPath string
	// UsernsRemap, when not nil, runs containers in a user namespace with
	// these mappings unless --userns=host (daemon --userns-remap).
	UsernsRemap *IDMap
}

// IDMap are the uid and gid mappings of a remapped user namespace.
type IDMap struct {
	UIDs []specs.LinuxIDMapping
	GIDs []specs.LinuxIDMapping
}

// Host are facts about the machine that decide defaults and limits. The zero
// value is usable: each unknown fact is taken from the running process or
// assumed permissive, as documented per field.
type Host struct {
	// Arch is the GOARCH containers run as; empty means this binary's.
	Arch string
	// Kernel is the running kernel's version; zero means new enough for
	// every rule of a seccomp profile and every default sysctl.
	Kernel KernelVersion
	// NumCPU bounds --cpus; 0 means runtime.NumCPU().
	NumCPU int
	// CPUs and Mems are the cpuset lists available ("0-3"); empty skips the
	// --cpuset-cpus/--cpuset-mems availability check.
	CPUs string
	Mems string
	// LastCap is the highest capability number the kernel knows
	// (/proc/sys/kernel/cap_last_cap); 0 means every capability berth knows.
	LastCap int
	// Bounding is berthd's own capability bounding set (CapBnd of
	// /proc/self/status), a bit per capability: no container can hold more.
	// 0 means unknown: every capability.
	Bounding uint64
	// NoSwapLimit is set when the memory cgroup cannot limit swap: then
	// --memory-swap is discarded with a warning, as Docker does.
	NoSwapLimit bool
	// AppArmor and SELinux report whether those security modules are active.
	AppArmor bool
	SELinux  bool
	// MaskedPaths are host-specific paths masked in addition to Docker's
	// list (each CPU's thermal_throttle directory, where present).
	MaskedPaths []string
	// Hostname is the host's name, the default host name of a container on
	// the host's network.
	Hostname string
}
