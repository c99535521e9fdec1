package rootfs

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		opts []string
		want mountOpts
	}{
		{nil, mountOpts{}},
		{[]string{"defaults"}, mountOpts{}},
		{[]string{"ro"}, mountOpts{flags: unix.MS_RDONLY}},
		{[]string{"rw"}, mountOpts{clear: unix.MS_RDONLY}},
		{[]string{"ro", "rw"}, mountOpts{clear: unix.MS_RDONLY}},
		{[]string{"rw", "ro"}, mountOpts{flags: unix.MS_RDONLY}},
		{[]string{"nosuid", "nodev", "noexec"}, mountOpts{flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}},
		{[]string{"suid", "dev", "exec"}, mountOpts{clear: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC}},
		{[]string{"sync", "dirsync"}, mountOpts{flags: unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC}},
		{[]string{"async"}, mountOpts{clear: unix.MS_SYNCHRONOUS}},
		{[]string{"remount"}, mountOpts{flags: unix.MS_REMOUNT}},
		{[]string{"mand"}, mountOpts{flags: unix.MS_MANDLOCK}},
		{[]string{"nomand"}, mountOpts{clear: unix.MS_MANDLOCK}},
		{[]string{"noatime"}, mountOpts{flags: unix.MS_NOATIME}},
		{[]string{"atime"}, mountOpts{clear: unix.MS_NOATIME}},
		{[]string{"relatime"}, mountOpts{flags: unix.MS_RELATIME}},
		{[]string{"norelatime"}, mountOpts{clear: unix.MS_RELATIME}},
		{[]string{"strictatime"}, mountOpts{flags: unix.MS_STRICTATIME}},
		{[]string{"nostrictatime"}, mountOpts{clear: unix.MS_STRICTATIME}},
		// Access-time modes exclude each other: the last wins.
		{[]string{"noatime", "relatime"}, mountOpts{flags: unix.MS_RELATIME}},
		{[]string{"relatime", "strictatime"}, mountOpts{flags: unix.MS_STRICTATIME}},
		// nodiratime is not one of them.
		{[]string{"noatime", "nodiratime"}, mountOpts{flags: unix.MS_NOATIME | unix.MS_NODIRATIME}},
		{[]string{"diratime"}, mountOpts{clear: unix.MS_NODIRATIME}},
		{[]string{"iversion", "lazytime", "silent"}, mountOpts{flags: unix.MS_I_VERSION | unix.MS_LAZYTIME | unix.MS_SILENT}},
		{[]string{"noiversion", "nolazytime", "loud"}, mountOpts{clear: unix.MS_I_VERSION | unix.MS_LAZYTIME | unix.MS_SILENT}},
		{[]string{"bind"}, mountOpts{flags: unix.MS_BIND}},
		{[]string{"rbind", "ro"}, mountOpts{flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}},
		{[]string{"private"}, mountOpts{prop: []uintptr{unix.MS_PRIVATE}}},
		{[]string{"rprivate"}, mountOpts{prop: []uintptr{unix.MS_PRIVATE | unix.MS_REC}}},
		{[]string{"shared"}, mountOpts{prop: []uintptr{unix.MS_SHARED}}},
		{[]string{"rshared"}, mountOpts{prop: []uintptr{unix.MS_SHARED | unix.MS_REC}}},
		{[]string{"slave"}, mountOpts{prop: []uintptr{unix.MS_SLAVE}}},
		{[]string{"rslave"}, mountOpts{prop: []uintptr{unix.MS_SLAVE | unix.MS_REC}}},
		{[]string{"unbindable"}, mountOpts{prop: []uintptr{unix.MS_UNBINDABLE}}},
		{[]string{"runbindable"}, mountOpts{prop: []uintptr{unix.MS_UNBINDABLE | unix.MS_REC}}},
		// Propagation changes are kept in order: each is one mount(2) call.
		{[]string{"rshared", "runbindable"}, mountOpts{prop: []uintptr{unix.MS_SHARED | unix.MS_REC, unix.MS_UNBINDABLE | unix.MS_REC}}},
		{[]string{"rro"}, mountOpts{attrSet: unix.MOUNT_ATTR_RDONLY}},
		{[]string{"rro", "rrw"}, mountOpts{attrClr: unix.MOUNT_ATTR_RDONLY}},
		{[]string{"rnosuid", "rnodev", "rnoexec", "rnodiratime"}, mountOpts{attrSet: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME}},
		{[]string{"rsuid", "rdev", "rexec", "rdiratime"}, mountOpts{attrClr: unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOEXEC | unix.MOUNT_ATTR_NODIRATIME}},
		// Setting an access-time mode recursively clears the whole atime field (the kernel requires it).
		{[]string{"rnoatime"}, mountOpts{attrSet: unix.MOUNT_ATTR_NOATIME, attrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"rstrictatime"}, mountOpts{attrSet: unix.MOUNT_ATTR_STRICTATIME, attrClr: unix.MOUNT_ATTR__ATIME}},
		{[]string{"rnoatime", "rrelatime"}, mountOpts{attrClr: unix.MOUNT_ATTR__ATIME}},
		// Anything else is filesystem data, in order.
		{[]string{"nosuid", "size=64m", "mode=1777", "inode64"}, mountOpts{flags: unix.MS_NOSUID, data: []string{"size=64m", "mode=1777", "inode64"}}},
	}
	for _, tt := range tests {
		got, err := parseOptions(tt.opts)
		if err != nil {
			t.Errorf("parseOptions(%q): %v", tt.opts, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseOptions(%q) = %+v, want %+v", tt.opts, got, tt.want)
		}
	}
}

// Every option the tables know must be reachable by parseOptions and not fall through
// to data: a typo in a table would otherwise go to the kernel as filesystem data.
func TestParseOptionsCoversTables(t *testing.T) {
	all := mount.OptionNames()
	for o := range recursiveOptions {
		all = append(all, o)
	}
	for _, o := range all {
		got, err := parseOptions([]string{o})
		if err != nil {
			t.Errorf("%q: %v", o, err)
		}
		if len(got.data) != 0 {
			t.Errorf("%q went to data", o)
		}
	}
}

func TestParseOptionsErrors(t *testing.T) {
	for _, opt := range []string{"idmap", "ridmap", "idmap=uids=0-1000-10;gids=0-1000-10", ""} {
		_, err := parseOptions([]string{"rbind", opt})
		if err == nil {
			t.Errorf("%q: no error", opt)
			continue
		}
		if opt != "" && !errors.Is(err, errIDMap) {
			t.Errorf("%q: error %v is not errIDMap", opt, err)
		}
	}
}

func TestCheckData(t *testing.T) {
	tests := []struct {
		fstype string
		data   []string
		bad    string // the option named in the error, or "" for none
	}{
		{"tmpfs", []string{"size=64m", "mode=1777", "uid=1", "gid=2", "nr_inodes=10", "huge=always", "inode64", "noswap"}, ""},
		{"tmpfs", []string{"size=1", "sise=2"}, "sise=2"},
		{"tmpfs", []string{"newinstance"}, "newinstance"},
		{"devpts", []string{"newinstance", "ptmxmode=0666", "mode=0620", "gid=5", "max=10"}, ""},
		{"devpts", []string{"size=1"}, "size=1"},
		{"proc", []string{"hidepid=2", "subset=pid"}, ""},
		{"proc", []string{"mode=1"}, "mode=1"},
		{"sysfs", []string{"x"}, "x"},
		{"mqueue", []string{"x"}, "x"},
		{"bind", []string{"size=1"}, "size=1"},
		{"cgroup", []string{"memory"}, "memory"},
		{"cgroup2", []string{"nsdelegate"}, ""},
		// Filesystems berth does not know take anything.
		{"overlay", []string{"lowerdir=/a", "upperdir=/b", "workdir=/c", "userxattr"}, ""},
		{"nfs", []string{"soft", "vers=4"}, ""},
	}
	for _, tt := range tests {
		err := checkData(tt.fstype, tt.data)
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("%s %q: %v", tt.fstype, tt.data, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), `"`+tt.bad+`"`)):
			t.Errorf("%s %q: error %v, want one naming %q", tt.fstype, tt.data, err, tt.bad)
		}
	}
}

func TestRemountFlagsFromStatfs(t *testing.T) {
	got := statfsFlags(unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_NOATIME | unix.ST_NODIRATIME | unix.ST_RELATIME | unix.ST_SYNCHRONOUS)
	want := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	if got != want {
		t.Errorf("statfsFlags = %s, want %s", flagString(got), flagString(want))
	}
}

func TestSysctlPath(t *testing.T) {
	tests := []struct{ key, want string }{
		{"net.ipv4.ip_forward", "net/ipv4/ip_forward"},
		{"kernel.domainname", "kernel/domainname"},
		{"net/ipv4/conf/eth0.100/rp_filter", "net/ipv4/conf/eth0.100/rp_filter"},
	}
	for _, tt := range tests {
		got, err := sysctlPath(tt.key)
		if err != nil || got != tt.want {
			t.Errorf("sysctlPath(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "net..ipv4", ".net", "net.", "net/../../etc/passwd", "/net/ipv4", "a/./b"} {
		if got, err := sysctlPath(bad); err == nil {
			t.Errorf("sysctlPath(%q) = %q, want an error", bad, got)
		}
	}
}

// Mount flags and attributes are named the way options spell them, unnamed bits
// in hex, nothing as "-".
func TestFlagAndAttrNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{flagString(0), "-"},
		{flagString(unix.MS_RDONLY | unix.MS_BIND | unix.MS_REC), "bind,rec,ro"},
		{flagString(unix.MS_NOSUID | 1<<31), "nosuid,0x80000000"},
		{attrString(0), "-"},
		{attrString(unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOEXEC), "ro,noexec"},
		{attrString(unix.MOUNT_ATTR__ATIME | unix.MOUNT_ATTR_NODEV), "atime,nodev"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
