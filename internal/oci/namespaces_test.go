package oci

import (
	"maps"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestNamespaces(t *testing.T) {
	all := func(edit func(map[specs.LinuxNamespaceType]string)) map[specs.LinuxNamespaceType]string {
		m := map[specs.LinuxNamespaceType]string{"mount": "", "network": "", "uts": "", "pid": "", "ipc": "", "cgroup": ""}
		if edit != nil {
			edit(m)
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		edit     func(*Input)
		want     map[specs.LinuxNamespaceType]string
		hostname string
	}{
		{"defaults", nil, all(nil), "0123456789ab"},
		{"--network host", func(in *Input) { in.HostConfig.NetworkMode = "host" },
			all(func(m map[specs.LinuxNamespaceType]string) { delete(m, "network") }), "thehost"},
		{"--network none", func(in *Input) { in.HostConfig.NetworkMode = "none" }, all(nil), "0123456789ab"},
		{"bridge with a prepared namespace", func(in *Input) {
			in.HostConfig.NetworkMode = "bridge"
			in.Join.Network = "/run/berth/netns/x"
		}, all(func(m map[specs.LinuxNamespaceType]string) { m["network"] = "/run/berth/netns/x" }), "0123456789ab"},
		{"--network container:", func(in *Input) {
			in.HostConfig.NetworkMode = "container:other"
			in.Join.Network = "/proc/42/ns/net"
		}, all(func(m map[specs.LinuxNamespaceType]string) { m["network"] = "/proc/42/ns/net" }), "0123456789ab"},
		{"--uts host", func(in *Input) { in.HostConfig.UTSMode = "host" },
			all(func(m map[specs.LinuxNamespaceType]string) { delete(m, "uts") }), ""},
		{"--pid host", func(in *Input) { in.HostConfig.PidMode = "host" },
			all(func(m map[specs.LinuxNamespaceType]string) { delete(m, "pid") }), "0123456789ab"},
		{"--pid container:", func(in *Input) {
			in.HostConfig.PidMode = "container:db"
			in.Join.PID = "/proc/7/ns/pid"
		}, all(func(m map[specs.LinuxNamespaceType]string) { m["pid"] = "/proc/7/ns/pid" }), "0123456789ab"},
		{"--ipc host", func(in *Input) { in.HostConfig.IpcMode = "host" },
			all(func(m map[specs.LinuxNamespaceType]string) { delete(m, "ipc") }), "0123456789ab"},
		{"--ipc shareable", func(in *Input) { in.HostConfig.IpcMode = "shareable" }, all(nil), "0123456789ab"},
		{"--ipc none", func(in *Input) { in.HostConfig.IpcMode = "none" }, all(nil), "0123456789ab"},
		{"--ipc container:", func(in *Input) {
			in.HostConfig.IpcMode = "container:db"
			in.Join.IPC = "/proc/7/ns/ipc"
		}, all(func(m map[specs.LinuxNamespaceType]string) { m["ipc"] = "/proc/7/ns/ipc" }), "0123456789ab"},
		{"--cgroupns host", func(in *Input) { in.HostConfig.CgroupnsMode = "host" },
			all(func(m map[specs.LinuxNamespaceType]string) { delete(m, "cgroup") }), "0123456789ab"},
		{"daemon default cgroupns host", func(in *Input) { in.Defaults.CgroupnsMode = "host" },
			all(func(m map[specs.LinuxNamespaceType]string) { delete(m, "cgroup") }), "0123456789ab"},
		{"privileged keeps a private cgroupns", func(in *Input) { in.HostConfig.Privileged = true }, all(nil), "0123456789ab"},
		{"remapped user namespace", func(in *Input) {
			in.Defaults.UsernsRemap = &IDMap{UIDs: []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}}
		}, all(func(m map[specs.LinuxNamespaceType]string) { m["user"] = "" }), "0123456789ab"},
		{"remapped, joining another container's", func(in *Input) {
			in.Defaults.UsernsRemap = &IDMap{}
			in.HostConfig.PidMode = "container:db"
			in.Join.PID, in.Join.User = "/proc/7/ns/pid", "/proc/7/ns/user"
		}, all(func(m map[specs.LinuxNamespaceType]string) { m["pid"], m["user"] = "/proc/7/ns/pid", "/proc/7/ns/user" }), "0123456789ab"},
		{"--userns host with remapping", func(in *Input) {
			in.Defaults.UsernsRemap = &IDMap{}
			in.HostConfig.UsernsMode = "host"
		}, all(nil), "0123456789ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, input(t, tc.edit))
			if got := namespaceTypes(s); !maps.Equal(got, tc.want) {
				t.Errorf("namespaces = %v, want %v", got, tc.want)
			}
			if s.Hostname != tc.hostname {
				t.Errorf("hostname = %q, want %q", s.Hostname, tc.hostname)
			}
		})
	}
}

func TestUserNamespaceMappings(t *testing.T) {
	m := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 100000, Size: 65536}}
	s := mustSpec(t, input(t, func(in *Input) { in.Defaults.UsernsRemap = &IDMap{UIDs: m, GIDs: m} }))
	if len(s.Linux.UIDMappings) != 1 || s.Linux.UIDMappings[0] != m[0] || len(s.Linux.GIDMappings) != 1 {
		t.Errorf("mappings uid %v gid %v", s.Linux.UIDMappings, s.Linux.GIDMappings)
	}
	if _, ok := s.Linux.Sysctl["net.ipv4.ping_group_range"]; ok {
		t.Error("ping_group_range set in a remapped user namespace")
	}
	if c, _ := mountAt(s, "/sys/fs/cgroup"); slices.Contains(c.Options, "ro") {
		t.Errorf("cgroup mount read-only in a user namespace: %v", c.Options)
	}
}

func TestNamespaceToJoinMissing(t *testing.T) {
	for mode, edit := range map[string]func(*container.HostConfig){
		"network mode container:x: no network namespace to join": func(hc *container.HostConfig) { hc.NetworkMode = "container:x" },
		"PID mode container:x: no PID namespace to join":         func(hc *container.HostConfig) { hc.PidMode = "container:x" },
		"IPC mode container:x: no IPC namespace to join":         func(hc *container.HostConfig) { hc.IpcMode = "container:x" },
	} {
		_, err := Spec(input(t, func(in *Input) { edit(in.HostConfig) }))
		wantInvalid(t, err, mode)
	}
}
