package mount

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	tests := []struct {
		opts  []string
		flags uintptr
		prop  []uintptr
		data  []string
	}{
		{nil, 0, nil, nil},
		{[]string{"rbind", "ro"}, unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY, nil, nil},
		{[]string{"ro", "rw"}, 0, nil, nil},
		{[]string{"nosuid", "nodev", "rprivate", "size=64m"}, unix.MS_NOSUID | unix.MS_NODEV,
			[]uintptr{unix.MS_PRIVATE | unix.MS_REC}, []string{"size=64m"}},
		{[]string{"index=off", "lowerdir=/a:/b", "userxattr"}, 0, nil,
			[]string{"index=off", "lowerdir=/a:/b", "userxattr"}},
	}
	for _, tt := range tests {
		o := parseOptions(tt.opts)
		if o.flags != tt.flags || !reflect.DeepEqual(o.prop, tt.prop) || !reflect.DeepEqual(o.data, tt.data) {
			t.Errorf("parseOptions(%q) = flags %#x prop %v data %q, want %#x %v %q",
				tt.opts, o.flags, o.prop, o.data, tt.flags, tt.prop, tt.data)
		}
	}
}

func TestNewAPIFlags(t *testing.T) {
	attrs, sb, ok := parseOptions([]string{"ro", "nodev", "sync"}).newAPIFlags()
	if !ok || attrs != unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV || !reflect.DeepEqual(sb, []string{"sync"}) {
		t.Errorf("ro,nodev,sync: attrs %#x sb %q ok %v", attrs, sb, ok)
	}
	if _, _, ok := parseOptions([]string{"remount"}).newAPIFlags(); ok {
		t.Error("remount has no new-API equivalent, but newAPIFlags accepted it")
	}
}

func TestSplitLowerdir(t *testing.T) {
	got := splitLowerdir(`/a:/b\:c:/d`)
	want := []string{"/a", `/b\:c`, "/d"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitLowerdir = %q, want %q", got, want)
	}
	if u := unescapeLowerdir(`/b\:c`); u != "/b:c" {
		t.Errorf("unescapeLowerdir = %q, want /b:c", u)
	}
}

func TestRelativeOverlayData(t *testing.T) {
	dir, rel := relativeOverlayData([]string{
		"index=off",
		"lowerdir=/var/lib/berth/snapshots/3/fs:/var/lib/berth/snapshots/1/fs",
		"upperdir=/var/lib/berth/snapshots/9/fs",
		"workdir=/var/lib/berth/snapshots/9/work",
	})
	if dir != "/var/lib/berth/snapshots" {
		t.Errorf("common directory %q, want /var/lib/berth/snapshots", dir)
	}
	want := []string{"index=off", "lowerdir=3/fs:1/fs", "upperdir=9/fs", "workdir=9/work"}
	if !reflect.DeepEqual(rel, want) {
		t.Errorf("relative options %q, want %q", rel, want)
	}
	// Nothing in common but the root: no rewriting.
	if dir, _ := relativeOverlayData([]string{"lowerdir=/a/x:/b/y", "upperdir=/c/u"}); dir != "" {
		t.Errorf("paths sharing only / gave common directory %q", dir)
	}
	// A path that is itself the common prefix of another stays a proper ancestor.
	if d := commonDir([]string{"/s/1", "/s/1/fs"}); d != "/s" {
		t.Errorf("commonDir(/s/1, /s/1/fs) = %q, want /s", d)
	}
	if d := commonDir([]string{"rel/1", "/s/2"}); d != "" {
		t.Errorf("commonDir with a relative path = %q, want empty", d)
	}
}

func TestReadOnly(t *testing.T) {
	tests := []struct {
		m    Mount
		want bool
	}{
		{Mount{Type: "bind", Options: []string{"rbind", "ro"}}, true},
		{Mount{Type: "bind", Options: []string{"rbind", "rw"}}, false},
		{Mount{Type: "overlay", Options: []string{"lowerdir=/a:/b"}}, true},
		{Mount{Type: "overlay", Options: []string{"lowerdir=/a", "upperdir=/u", "workdir=/w"}}, false},
	}
	for _, tt := range tests {
		if got := tt.m.ReadOnly(); got != tt.want {
			t.Errorf("%s %s: ReadOnly() = %v, want %v", tt.m.Type, strings.Join(tt.m.Options, ","), got, tt.want)
		}
	}
}
