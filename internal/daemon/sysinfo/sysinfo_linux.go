package sysinfo

import (
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// CgroupRoot is where the cgroup hierarchy is mounted.
const CgroupRoot = "/sys/fs/cgroup"

// ReadHost reads the host's description.
func ReadHost() Host {
	h := Host{NCPU: runtime.NumCPU()}
	h.Hostname, _ = os.Hostname()
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.KernelVersion = unix.ByteSliceToString(u.Release[:])
		h.Architecture = unix.ByteSliceToString(u.Machine[:])
	}
	h.OperatingSystem, h.OSVersion = readOSRelease()
	if f, err := os.Open("/proc/meminfo"); err == nil {
		h.MemTotal = ParseMemTotal(f)
		f.Close()
	}
	return h
}

// ReadCgroups reads the running system's cgroup version and abilities: version 2
// when CgroupRoot is a cgroup2 mount (the unified layout), else version 1 (a
// hybrid layout counts as 1, as that is where containers are placed).
func ReadCgroups() Cgroups {
	var st unix.Statfs_t
	if unix.Statfs(CgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return cgroupsV2(CgroupRoot)
	}
	return cgroupsV1(CgroupRoot)
}

// IPv4Forwarding reports whether the kernel forwards IPv4 packets.
func IPv4Forwarding() bool {
	return readIPv4Forwarding("/proc/sys/net/ipv4/ip_forward")
}

// filesystems names the filesystems by statfs magic, as docker info does.
var filesystems = map[int64]string{
	unix.EXT4_SUPER_MAGIC:      "extfs",
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlayfs",
	0x2fc12fc1:                 "zfs", // not in x/sys/unix
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.F2FS_SUPER_MAGIC:      "f2fs",
	unix.SQUASHFS_MAGIC:        "squashfs",
}

// BackingFilesystem names the filesystem holding path ("extfs", "xfs", ...), or
// "<unknown>".
func BackingFilesystem(path string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "<unknown>"
	}
	if name, ok := filesystems[int64(st.Type)]; ok {
		return name
	}
	return "<unknown>"
}
