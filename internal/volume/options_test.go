package volume

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestValidateName(t *testing.T) {
	for _, name := range []string{"ab", "my-vol_1.x", "0a", "A.b-c_D", "9..", strings.Repeat("v", 255)} {
		if err := validateName(name); err != nil {
			t.Errorf("validateName(%q) = %v, want nil", name, err)
		}
	}
	const chars = `only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`
	for name, want := range map[string]string{
		"a":                      "volume name is too short, names should be at least two alphanumeric characters",
		"foo/bar":                `"foo/bar" includes invalid characters for a local volume name, ` + chars,
		"_x":                     `"_x" includes invalid characters for a local volume name, ` + chars,
		".hidden":                `".hidden" includes invalid characters for a local volume name, ` + chars,
		"..":                     `".." includes invalid characters for a local volume name, ` + chars,
		"a b":                    `"a b" includes invalid characters for a local volume name, ` + chars,
		"metadata.db":            `"metadata.db" is reserved: it is the name of the volume store's database`,
		strings.Repeat("v", 256): "volume name is too long (256 bytes), names may have at most 255",
	} {
		err := validateName(name)
		if err == nil || err.Error() != want || !errdefs.IsInvalidArgument(err) {
			t.Errorf("validateName(%q) = %v, want invalid argument %q", name, err, want)
		}
	}
}

func TestRandomName(t *testing.T) {
	a, b := randomName(), randomName()
	if len(a) != 64 || a == b {
		t.Fatalf("randomName() = %q, %q: want two different 64-digit names", a, b)
	}
	if err := validateName(a); err != nil {
		t.Fatalf("random name %q is not a valid name: %v", a, err)
	}
}

func TestParseOptions(t *testing.T) {
	good := []struct {
		opts   map[string]string
		mounts bool
		check  func(config) bool
	}{
		{nil, false, func(c config) bool { return c.uid == -1 && c.gid == -1 && !c.hasMode }},
		{map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=100m,uid=1000"}, true,
			func(c config) bool {
				m := c.mount()
				return m.Type == "tmpfs" && m.Source == "tmpfs" && len(m.Options) == 2 && m.Options[1] == "uid=1000"
			}},
		{map[string]string{"type": "none", "o": "bind", "device": "/srv/data"}, true,
			func(c config) bool { return c.mount().Options[0] == "bind" }},
		{map[string]string{"type": "nfs", "o": "addr=10.0.0.1,rw", "device": ":/export"}, true, nil},
		{map[string]string{"uid": "1000", "gid": "0", "mode": "0750"}, false,
			func(c config) bool { return c.uid == 1000 && c.gid == 0 && c.hasMode && c.mode == 0o750 }},
		{map[string]string{"mode": "1777"}, false, func(c config) bool { return c.mode == 0o1777 }},
		{map[string]string{"size": "0"}, false, nil},
		{map[string]string{"type": "tmpfs", "device": "tmpfs", "uid": "5"}, true, func(c config) bool { return c.uid == 5 }},
	}
	for _, tc := range good {
		c, err := parseOptions(tc.opts)
		if err != nil {
			t.Errorf("parseOptions(%v): %v", tc.opts, err)
			continue
		}
		if c.mounts() != tc.mounts {
			t.Errorf("parseOptions(%v).mounts() = %v, want %v", tc.opts, c.mounts(), tc.mounts)
		}
		if tc.check != nil && !tc.check(c) {
			t.Errorf("parseOptions(%v) = %+v: not what the options say", tc.opts, c)
		}
	}

	bad := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"foo": "bar"}, `invalid option: "foo"`},
		{map[string]string{"type": "tmpfs"}, `missing required option: "device"`},
		{map[string]string{"device": "tmpfs"}, `missing required option: "type"`},
		{map[string]string{"o": "size=1m", "device": "tmpfs"}, `missing required option: "type"`},
		{map[string]string{"o": "size=1m"}, `missing required option: "device"`},
		{map[string]string{"size": "10m"}, "quota size requested but no quota support"},
		{map[string]string{"size": "lots"}, "invalid size: 'lots'"},
		{map[string]string{"uid": "-1"}, `invalid option uid="-1": not a numeric id from 0 to 4294967294`},
		{map[string]string{"gid": "wheel"}, `invalid option gid="wheel": not a numeric id from 0 to 4294967294`},
		{map[string]string{"uid": "4294967295"}, `invalid option uid="4294967295": not a numeric id from 0 to 4294967294`},
		{map[string]string{"mode": "0999"}, `invalid option mode="0999": not an octal file mode such as 0755`},
		{map[string]string{"mode": "17777"}, `invalid option mode="17777": not an octal file mode such as 0755`},
	}
	for _, tc := range bad {
		_, err := parseOptions(tc.opts)
		if err == nil || err.Error() != tc.want || !errdefs.IsInvalidArgument(err) {
			t.Errorf("parseOptions(%v) = %v, want invalid argument %q", tc.opts, err, tc.want)
		}
	}
}
