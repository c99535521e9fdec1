package mount

import (
	"strings"

	"golang.org/x/sys/unix"
)

// options is what a Mount's option list means to the kernel: mount(2) flags,
// propagation changes (applied by a second call once the mount exists) and the
// filesystem's own options, in the order given.
type options struct {
	flags uintptr   // MS_* flags to set
	prop  []uintptr // propagation changes
	data  []string  // filesystem options ("lowerdir=...", "size=64m", "userxattr")
}

// flagOption is a mount(2) flag that an option sets, or clears when clear is set.
type flagOption struct {
	flag  uintptr
	clear bool
}

var flagOptions = map[string]flagOption{
	"defaults":      {0, false},
	"ro":            {unix.MS_RDONLY, false},
	"rw":            {unix.MS_RDONLY, true},
	"nosuid":        {unix.MS_NOSUID, false},
	"suid":          {unix.MS_NOSUID, true},
	"nodev":         {unix.MS_NODEV, false},
	"dev":           {unix.MS_NODEV, true},
	"noexec":        {unix.MS_NOEXEC, false},
	"exec":          {unix.MS_NOEXEC, true},
	"sync":          {unix.MS_SYNCHRONOUS, false},
	"async":         {unix.MS_SYNCHRONOUS, true},
	"dirsync":       {unix.MS_DIRSYNC, false},
	"lazytime":      {unix.MS_LAZYTIME, false},
	"nolazytime":    {unix.MS_LAZYTIME, true},
	"noatime":       {unix.MS_NOATIME, false},
	"atime":         {unix.MS_NOATIME, true},
	"nodiratime":    {unix.MS_NODIRATIME, false},
	"diratime":      {unix.MS_NODIRATIME, true},
	"relatime":      {unix.MS_RELATIME, false},
	"norelatime":    {unix.MS_RELATIME, true},
	"strictatime":   {unix.MS_STRICTATIME, false},
	"nostrictatime": {unix.MS_STRICTATIME, true},
	"iversion":      {unix.MS_I_VERSION, false},
	"noiversion":    {unix.MS_I_VERSION, true},
	"mand":          {unix.MS_MANDLOCK, false},
	"nomand":        {unix.MS_MANDLOCK, true},
	"silent":        {unix.MS_SILENT, false},
	"loud":          {unix.MS_SILENT, true},
	"remount":       {unix.MS_REMOUNT, false},
	"bind":          {unix.MS_BIND, false},
	"rbind":         {unix.MS_BIND | unix.MS_REC, false},
}

var propagationOptions = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// Flag returns the mount(2) flag that the option name sets, or clears when clear is
// true ("ro" sets MS_RDONLY, "rw" clears it), as mount(8) reads option lists; ok is
// false for a name that is no flag. The runtime's mount planning shares this table.
func Flag(name string) (flag uintptr, clear, ok bool) {
	f, ok := flagOptions[name]
	return f.flag, f.clear, ok
}

// Propagation returns the propagation change an option names ("rslave": MS_SLAVE|MS_REC).
func Propagation(name string) (uintptr, bool) {
	p, ok := propagationOptions[name]
	return p, ok
}

// OptionNames lists every flag and propagation option name.
func OptionNames() []string {
	names := make([]string, 0, len(flagOptions)+len(propagationOptions))
	for n := range flagOptions {
		names = append(names, n)
	}
	for n := range propagationOptions {
		names = append(names, n)
	}
	return names
}

func parseOptions(opts []string) options {
	var o options
	for _, opt := range opts {
		if f, ok := flagOptions[opt]; ok {
			if f.clear {
				o.flags &^= f.flag
			} else {
				o.flags |= f.flag
			}
			continue
		}
		if p, ok := propagationOptions[opt]; ok {
			o.prop = append(o.prop, p)
			continue
		}
		o.data = append(o.data, opt)
	}
	return o
}

// mountAttrs maps the mount(2) flags that the new mount API takes as mount
// attributes (fsmount's attr_flags) to those attributes.
var mountAttrs = map[uintptr]uint64{
	unix.MS_RDONLY:      unix.MOUNT_ATTR_RDONLY,
	unix.MS_NOSUID:      unix.MOUNT_ATTR_NOSUID,
	unix.MS_NODEV:       unix.MOUNT_ATTR_NODEV,
	unix.MS_NOEXEC:      unix.MOUNT_ATTR_NOEXEC,
	unix.MS_NOATIME:     unix.MOUNT_ATTR_NOATIME,
	unix.MS_NODIRATIME:  unix.MOUNT_ATTR_NODIRATIME,
	unix.MS_STRICTATIME: unix.MOUNT_ATTR_STRICTATIME,
	unix.MS_RELATIME:    unix.MOUNT_ATTR_RELATIME,
}

// superblockFlags maps the mount(2) flags that the new mount API takes as
// superblock flags (fsconfig FSCONFIG_SET_FLAG) to their names.
var superblockFlags = map[uintptr]string{
	unix.MS_SYNCHRONOUS: "sync",
	unix.MS_DIRSYNC:     "dirsync",
	unix.MS_LAZYTIME:    "lazytime",
}

// newAPIFlags splits o.flags into fsmount attributes and superblock flags. ok
// is false when a flag has no equivalent in the new mount API (MS_REMOUNT,
// MS_BIND), and the caller must use mount(2).
func (o options) newAPIFlags() (attrs uint64, sb []string, ok bool) {
	rest := o.flags
	for f, a := range mountAttrs {
		if o.flags&f != 0 {
			attrs |= a
			rest &^= f
		}
	}
	for f, name := range superblockFlags {
		if o.flags&f != 0 {
			sb = append(sb, name)
			rest &^= f
		}
	}
	return attrs, sb, rest == 0
}

// splitLowerdir splits an overlay lowerdir value at each ':' not escaped by a
// backslash, leaving escapes in place (the kernel undoes them).
func splitLowerdir(v string) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case ':':
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// unescapeLowerdir undoes the backslash escapes of one lowerdir entry, for
// the interfaces that take a single path ("lowerdir+", chdir).
func unescapeLowerdir(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
