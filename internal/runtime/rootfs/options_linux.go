package rootfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount"
)

// mountOpts is what an OCI mount's option list means to the kernel. Every option is one
// of four kinds:
//
//   - a mount(2) flag that it sets ("ro", "nosuid", "rbind") or clears ("rw", "suid");
//   - a propagation change ("rprivate", "slave"), applied by a second mount(2) call
//     once the mount exists, because the kernel does not take propagation and other
//     flags in one call;
//   - a recursive attribute ("rro", "rnosuid"), applied with mount_setattr(2) and
//     AT_RECURSIVE to the new mount and everything under it;
//   - anything else, which is the filesystem's own option ("size=64m", "mode=1777")
//     and goes to mount(2) as its data string.
type mountOpts struct {
	flags   uintptr   // MS_* flags to set
	clear   uintptr   // MS_* flags the options explicitly turn off
	prop    []uintptr // propagation changes, in the order given
	attrSet uint64    // MOUNT_ATTR_* to set recursively
	attrClr uint64    // MOUNT_ATTR_* to clear recursively
	data    []string  // filesystem options, in the order given
}

// atimeFlags are the mutually exclusive access-time modes of a mount.
const atimeFlags = unix.MS_NOATIME | unix.MS_RELATIME | unix.MS_STRICTATIME

// attrOption is a recursive mount attribute: set and clr go to mount_setattr(2).
type attrOption struct{ set, clr uint64 }

var recursiveOptions = map[string]attrOption{
	"rro":          {unix.MOUNT_ATTR_RDONLY, 0},
	"rrw":          {0, unix.MOUNT_ATTR_RDONLY},
	"rnosuid":      {unix.MOUNT_ATTR_NOSUID, 0},
	"rsuid":        {0, unix.MOUNT_ATTR_NOSUID},
	"rnodev":       {unix.MOUNT_ATTR_NODEV, 0},
	"rdev":         {0, unix.MOUNT_ATTR_NODEV},
	"rnoexec":      {unix.MOUNT_ATTR_NOEXEC, 0},
	"rexec":        {0, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime":  {unix.MOUNT_ATTR_NODIRATIME, 0},
	"rdiratime":    {0, unix.MOUNT_ATTR_NODIRATIME},
	"rrelatime":    {unix.MOUNT_ATTR_RELATIME, unix.MOUNT_ATTR__ATIME},
	"rnoatime":     {unix.MOUNT_ATTR_NOATIME, unix.MOUNT_ATTR__ATIME},
	"rstrictatime": {unix.MOUNT_ATTR_STRICTATIME, unix.MOUNT_ATTR__ATIME},
}

// errIDMap is returned for id-mapped mounts, which berth does not do yet.
var errIDMap = fmt.Errorf("idmapped mounts not supported")

// parseOptions sorts a mount's options into flags, propagation, recursive attributes
// and filesystem data. Later options win over earlier ones ("ro,rw" is rw), as with
// mount(8). It rejects only what no filesystem could take: id-mapping options and
// empty strings; whether data suits the filesystem is checkData's job.
func parseOptions(options []string) (mountOpts, error) {
	var o mountOpts
	for _, opt := range options {
		if flag, clear, ok := mount.Flag(opt); ok {
			if clear {
				o.flags &^= flag
				o.clear |= flag
			} else {
				if flag&atimeFlags != 0 {
					// The access-time modes exclude each other: the last one wins.
					o.flags &^= atimeFlags
				}
				o.flags |= flag
				o.clear &^= flag
			}
			continue
		}
		if p, ok := mount.Propagation(opt); ok {
			o.prop = append(o.prop, p)
			continue
		}
		if a, ok := recursiveOptions[opt]; ok {
			o.attrSet = o.attrSet&^a.clr | a.set
			o.attrClr = o.attrClr&^a.set | a.clr
			continue
		}
		switch {
		case opt == "idmap" || opt == "ridmap" || strings.HasPrefix(opt, "idmap=") || strings.HasPrefix(opt, "ridmap="):
			return o, fmt.Errorf("option %q: %w", opt, errIDMap)
		case opt == "":
			return o, fmt.Errorf("empty mount option")
		}
		o.data = append(o.data, opt)
	}
	return o, nil
}

// knownData lists, for the filesystems berth mounts itself, the option names (the part
// before any "=") they accept. An option outside the list is a typo or a flag meant
// for another filesystem and is refused before anything is mounted. Filesystems not in
// the map get their data passed through unchecked.
var knownData = map[string][]string{
	"bind":   {},
	"cgroup": {},
	"sysfs":  {},
	"mqueue": {},
	"proc":   {"hidepid", "gid", "subset"},
	"devpts": {"newinstance", "ptmxmode", "mode", "gid", "uid", "max"},
	"tmpfs": {"size", "nr_blocks", "nr_inodes", "mode", "uid", "gid", "huge", "mpol",
		"inode32", "inode64", "noswap", "quota", "usrquota", "grpquota",
		"usrquota_block_hardlimit", "usrquota_inode_hardlimit",
		"grpquota_block_hardlimit", "grpquota_inode_hardlimit", "casefold", "strict_encoding"},
	"cgroup2": {"nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot",
		"memory_hugetlb_accounting", "pids_localevents"},
}

// checkData refuses filesystem options that fstype does not take.
func checkData(fstype string, data []string) error {
	known, ok := knownData[fstype]
	if !ok {
		return nil
	}
	for _, d := range data {
		name, _, _ := strings.Cut(d, "=")
		found := false
		for _, k := range known {
			if k == name {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("unknown mount option %q for %s", d, fstype)
		}
	}
	return nil
}

// hasData reports whether data sets option name (with or without a value).
func hasData(data []string, name string) bool {
	for _, d := range data {
		if n, _, _ := strings.Cut(d, "="); n == name {
			return true
		}
	}
	return false
}

// flagNames is the order in which String and error messages list flags.
// bitName names one flag bit (of mount(2) flags or MOUNT_ATTR_* attributes).
type bitName[T ~uintptr | ~uint64] struct {
	bit  T
	name string
}

var flagNames = []bitName[uintptr]{
	{unix.MS_BIND, "bind"},
	{unix.MS_REC, "rec"},
	{unix.MS_REMOUNT, "remount"},
	{unix.MS_RDONLY, "ro"},
	{unix.MS_NOSUID, "nosuid"},
	{unix.MS_NODEV, "nodev"},
	{unix.MS_NOEXEC, "noexec"},
	{unix.MS_SYNCHRONOUS, "sync"},
	{unix.MS_DIRSYNC, "dirsync"},
	{unix.MS_MANDLOCK, "mand"},
	{unix.MS_NOATIME, "noatime"},
	{unix.MS_NODIRATIME, "nodiratime"},
	{unix.MS_RELATIME, "relatime"},
	{unix.MS_STRICTATIME, "strictatime"},
	{unix.MS_I_VERSION, "iversion"},
	{unix.MS_LAZYTIME, "lazytime"},
	{unix.MS_SILENT, "silent"},
	{unix.MS_PRIVATE, "private"},
	{unix.MS_SHARED, "shared"},
	{unix.MS_SLAVE, "slave"},
	{unix.MS_UNBINDABLE, "unbindable"},
}

// flagString names the flags in f, comma-separated, or "-" for none.
func flagString(f uintptr) string { return bitString(f, flagNames, nil) }

// bitString names the bits of v, after the names given first: comma-separated,
// unnamed bits in hex, "-" for none.
func bitString[T ~uintptr | ~uint64](v T, names []bitName[T], first []string) string {
	for _, n := range names {
		if v&n.bit != 0 {
			first = append(first, n.name)
			v &^= n.bit
		}
	}
	if v != 0 {
		first = append(first, fmt.Sprintf("%#x", uint64(v)))
	}
	if len(first) == 0 {
		return "-"
	}
	return strings.Join(first, ",")
}

// propagationString names a propagation change the way options spell it ("rslave").
func propagationString(p uintptr) string {
	for _, name := range []string{"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable"} {
		if v, _ := mount.Propagation(name); v == p {
			return name
		}
	}
	return flagString(p)
}

var attrNames = []bitName[uint64]{
	{unix.MOUNT_ATTR_RDONLY, "ro"},
	{unix.MOUNT_ATTR_NOSUID, "nosuid"},
	{unix.MOUNT_ATTR_NODEV, "nodev"},
	{unix.MOUNT_ATTR_NOEXEC, "noexec"},
	{unix.MOUNT_ATTR_NOATIME, "noatime"},
	{unix.MOUNT_ATTR_STRICTATIME, "strictatime"},
	{unix.MOUNT_ATTR_NODIRATIME, "nodiratime"},
}

// attrString names MOUNT_ATTR_* bits; the atime mask reads "atime".
func attrString(a uint64) string {
	var first []string
	if a&unix.MOUNT_ATTR__ATIME == unix.MOUNT_ATTR__ATIME {
		first = append(first, "atime")
		a &^= unix.MOUNT_ATTR__ATIME
	}
	return bitString(a, attrNames, first)
}
