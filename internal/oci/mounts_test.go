package oci

import (
	"slices"
	"testing"

	"github.com/moby/moby/api/types/mount"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestShm(t *testing.T) {
	for _, tc := range []struct {
		name        string
		edit        func(*Input)
		wantType    string // "" for no /dev/shm
		wantSource  string
		wantOptions []string
	}{
		{"default 64 MiB", nil, "tmpfs", "shm", []string{"nosuid", "noexec", "nodev", "mode=1777", "size=67108864"}},
		{"--shm-size", func(in *Input) { in.HostConfig.ShmSize = 1 << 30 }, "tmpfs", "shm",
			[]string{"nosuid", "noexec", "nodev", "mode=1777", "size=1073741824"}},
		{"daemon default", func(in *Input) { in.Defaults.ShmSize = 128 << 20 }, "tmpfs", "shm",
			[]string{"nosuid", "noexec", "nodev", "mode=1777", "size=134217728"}},
		{"--ipc none", func(in *Input) { in.HostConfig.IpcMode = "none" }, "", "", nil},
		{"--ipc host binds the host's", func(in *Input) { in.HostConfig.IpcMode = "host" }, "bind", "/dev/shm",
			[]string{"rbind", "rprivate"}},
		{"--ipc shareable binds its own", func(in *Input) {
			in.HostConfig.IpcMode = "shareable"
			in.Join.Shm = "/var/lib/berth/containers/x/shm"
		}, "bind", "/var/lib/berth/containers/x/shm", []string{"rbind", "rprivate"}},
		{"--ipc container: binds the donor's", func(in *Input) {
			in.HostConfig.IpcMode = "container:db"
			in.Join.IPC, in.Join.Shm = "/proc/7/ns/ipc", "/var/lib/berth/containers/db/shm"
		}, "bind", "/var/lib/berth/containers/db/shm", []string{"rbind", "rprivate"}},
		{"a user mount replaces it", func(in *Input) {
			in.Mounts = []Mount{{Destination: "/dev/shm", Tmpfs: true, TmpfsOptions: "size=1m"}}
		}, "tmpfs", "tmpfs", []string{"noexec", "nosuid", "nodev", "rprivate", "size=1m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, input(t, tc.edit))
			var found []specs.Mount
			for _, m := range s.Mounts {
				if m.Destination == "/dev/shm" {
					found = append(found, m)
				}
			}
			if tc.wantType == "" {
				if len(found) != 0 {
					t.Fatalf("/dev/shm mounted: %+v", found)
				}
				return
			}
			if len(found) != 1 {
				t.Fatalf("/dev/shm mounted %d times: %+v", len(found), found)
			}
			m := found[0]
			if m.Type != tc.wantType || m.Source != tc.wantSource || !slices.Equal(m.Options, tc.wantOptions) {
				t.Errorf("/dev/shm = %+v, want %s %s %v", m, tc.wantType, tc.wantSource, tc.wantOptions)
			}
		})
	}
}

func TestTmpfs(t *testing.T) {
	for _, tc := range []struct {
		data string
		want []string
	}{
		{"", []string{"noexec", "nosuid", "nodev", "rprivate"}},
		{"size=64m,mode=1770", []string{"noexec", "nosuid", "nodev", "rprivate", "size=64m", "mode=1770"}},
		{"exec", []string{"nosuid", "nodev", "rprivate", "exec"}},
		{"size=1m,size=2m,ro,rw,shared", []string{"noexec", "nosuid", "nodev", "size=2m", "rw", "shared"}},
		{"uid=1000,gid=1000,nr_inodes=100,defaults", []string{"noexec", "nosuid", "nodev", "rprivate", "uid=1000", "gid=1000", "nr_inodes=100"}},
	} {
		s := mustSpec(t, input(t, func(in *Input) { in.HostConfig.Tmpfs = map[string]string{"/run": tc.data} }))
		m, ok := mountAt(s, "/run")
		if !ok || m.Type != "tmpfs" || m.Source != "tmpfs" || !slices.Equal(m.Options, tc.want) {
			t.Errorf("--tmpfs /run:%s = %+v, want options %v", tc.data, m, tc.want)
		}
	}
	_, err := Spec(input(t, func(in *Input) { in.HostConfig.Tmpfs = map[string]string{"/run": "size=1m,bogus=1"} }))
	wantInvalid(t, err, `Invalid tmpfs option "bogus=1"`)
}

func TestUserMounts(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) {
		in.Mounts = []Mount{
			{Destination: "/data/deep/er", Source: "/srv/c"},
			{Destination: "/data", Source: "/srv/a", ReadOnly: true},
			{Destination: "/data/deep/", Source: "/srv/b", ReadOnly: true, ReadOnlyNonRecursive: true, NonRecursive: true},
			{Destination: "/cache", Tmpfs: true, TmpfsOptions: "size=10m", ReadOnly: true},
			{Destination: "/shared", Source: "/mnt/shared", Propagation: mount.PropagationRShared},
		}
		in.Files = EtcFiles{Hosts: "/c/hosts", Hostname: "/c/hostname", ResolvConf: "/c/resolv.conf"}
	}))
	want := []specs.Mount{
		{Destination: "/data", Type: "bind", Source: "/srv/a", Options: []string{"rbind", "rro", "rprivate"}},
		{Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rprivate", "ro", "size=10m"}},
		{Destination: "/shared", Type: "bind", Source: "/mnt/shared", Options: []string{"rbind", "rshared"}},
		{Destination: "/data/deep", Type: "bind", Source: "/srv/b", Options: []string{"bind", "ro", "rprivate"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: "/c/resolv.conf", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hostname", Type: "bind", Source: "/c/hostname", Options: []string{"rbind", "rprivate"}},
		{Destination: "/etc/hosts", Type: "bind", Source: "/c/hosts", Options: []string{"rbind", "rprivate"}},
		{Destination: "/data/deep/er", Type: "bind", Source: "/srv/c", Options: []string{"rbind", "rprivate"}},
	}
	user := s.Mounts[len(s.Mounts)-len(want):]
	for i := range want {
		if want[i].Destination != user[i].Destination || want[i].Source != user[i].Source ||
			want[i].Type != user[i].Type || !slices.Equal(want[i].Options, user[i].Options) {
			t.Errorf("mount %d = %+v\n        want %+v", i, user[i], want[i])
		}
	}
	if s.Linux.RootfsPropagation != "shared" {
		t.Errorf("rootfsPropagation = %q, want shared for a shared bind", s.Linux.RootfsPropagation)
	}
}

func TestUserMountOverridesDefaults(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) {
		in.Mounts = []Mount{{Destination: "/dev", Source: "/dev"}}
	}))
	for _, m := range s.Mounts {
		if m.Destination == "/dev" && m.Type != "bind" {
			t.Errorf("default /dev kept: %+v", m)
		}
		if len(m.Destination) > 5 && m.Destination[:5] == "/dev/" {
			t.Errorf("default %s kept under a user's /dev", m.Destination)
		}
	}
	// A user's /etc/hosts wins over the daemon's.
	s = mustSpec(t, input(t, func(in *Input) {
		in.Mounts = []Mount{{Destination: "/etc/hosts", Source: "/my/hosts"}}
		in.Files.Hosts = "/c/hosts"
	}))
	var n int
	for _, m := range s.Mounts {
		if m.Destination == "/etc/hosts" {
			n++
			if m.Source != "/my/hosts" {
				t.Errorf("/etc/hosts from %s", m.Source)
			}
		}
	}
	if n != 1 {
		t.Errorf("/etc/hosts mounted %d times", n)
	}
}

func TestReadOnlyRootfs(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) {
		in.HostConfig.ReadonlyRootfs = true
		in.Mounts = []Mount{{Destination: "/data", Source: "/srv"}}
		in.Files.Hosts = "/c/hosts"
	}))
	if !s.Root.Readonly {
		t.Error("root is writable")
	}
	for _, m := range s.Mounts {
		ro := slices.Contains(m.Options, "ro") || slices.Contains(m.Options, "rro")
		switch m.Destination {
		case "/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/data":
			if ro {
				t.Errorf("%s is read-only: %v", m.Destination, m.Options)
			}
		default:
			if !ro {
				t.Errorf("%s is writable: %v", m.Destination, m.Options)
			}
		}
	}
}

func TestWritableCgroups(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) { in.HostConfig.SecurityOpt = []string{"writable-cgroups=true"} }))
	if m, _ := mountAt(s, "/sys/fs/cgroup"); slices.Contains(m.Options, "ro") {
		t.Errorf("cgroup mount %v, want writable", m.Options)
	}
	s = mustSpec(t, input(t, func(in *Input) {
		in.HostConfig.Privileged = true
		in.HostConfig.SecurityOpt = []string{"writable-cgroups=false"}
	}))
	if m, _ := mountAt(s, "/sys/fs/cgroup"); !slices.Contains(m.Options, "ro") {
		t.Errorf("cgroup mount %v, want read-only", m.Options)
	}
}

func TestMountFromAPI(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    mount.Mount
		want Mount
		err  string
	}{
		{"bind", mount.Mount{Type: mount.TypeBind, Source: "/a", Target: "/b", ReadOnly: true,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave, NonRecursive: true}},
			Mount{Destination: "/b", Source: "/resolved", ReadOnly: true, NonRecursive: true, Propagation: mount.PropagationRSlave}, ""},
		{"volume", mount.Mount{Type: mount.TypeVolume, Source: "vol", Target: "/v"},
			Mount{Destination: "/v", Source: "/resolved"}, ""},
		{"image", mount.Mount{Type: mount.TypeImage, Source: "busybox", Target: "/i"},
			Mount{Destination: "/i", Source: "/resolved", ReadOnly: true}, ""},
		{"tmpfs", mount.Mount{Type: mount.TypeTmpfs, Target: "/t", ReadOnly: true,
			TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: 0o1770, Options: [][]string{{"exec"}}}},
			Mount{Destination: "/t", Tmpfs: true, TmpfsOptions: "ro,mode=1770,size=64m,exec"}, ""},
		{"tmpfs odd size", mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1000}},
			Mount{Destination: "/t", Tmpfs: true, TmpfsOptions: "size=1000"}, ""},
		{"tmpfs bad option", mount.Mount{Type: mount.TypeTmpfs, Target: "/t", TmpfsOptions: &mount.TmpfsOptions{Options: [][]string{{"suid"}}}},
			Mount{}, `invalid mount config for type "tmpfs": invalid option: suid`},
		{"rro conflict", mount.Mount{Type: mount.TypeBind, Target: "/t", BindOptions: &mount.BindOptions{ReadOnlyNonRecursive: true, ReadOnlyForceRecursive: true}},
			Mount{}, "mount options conflict: ReadOnlyNonRecursive && ReadOnlyForceRecursive"},
		{"npipe", mount.Mount{Type: mount.TypeNamedPipe, Target: "/t"}, Mount{}, `invalid mount config for type "npipe": mount type unknown`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MountFromAPI(tc.m, "/resolved")
			if tc.err != "" {
				wantInvalid(t, err, tc.err)
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}
