package oci

import (
	"maps"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestResources(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	no, yes := false, true
	for _, tc := range []struct {
		name string
		r    container.Resources
		mem  *specs.LinuxMemory
		cpu  *specs.LinuxCPU
		pids *specs.LinuxPids
		blk  *specs.LinuxBlockIO
	}{
		{name: "none"},
		{name: "-m 512m: swap twice the memory", r: container.Resources{Memory: 512 << 20},
			mem: &specs.LinuxMemory{Limit: i64(512 << 20), Swap: i64(1 << 30), DisableOOMKiller: &no}},
		{name: "--memory-swap", r: container.Resources{Memory: 512 << 20, MemorySwap: 768 << 20},
			mem: &specs.LinuxMemory{Limit: i64(512 << 20), Swap: i64(768 << 20), DisableOOMKiller: &no}},
		{name: "--memory-swap -1 leaves swap unlimited", r: container.Resources{Memory: 512 << 20, MemorySwap: -1},
			mem: &specs.LinuxMemory{Limit: i64(512 << 20), DisableOOMKiller: &no}},
		{name: "reservation, swappiness, oom-kill-disable",
			r:   container.Resources{Memory: 64 << 20, MemoryReservation: 32 << 20, MemorySwappiness: i64(10), OomKillDisable: &yes},
			mem: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20), Swap: i64(128 << 20), Swappiness: u64(10), DisableOOMKiller: &yes}},
		{name: "--cpus 1.5", r: container.Resources{NanoCPUs: 1.5e9},
			cpu: &specs.LinuxCPU{Quota: i64(150000), Period: u64(100000)}},
		{name: "--cpus 0.01", r: container.Resources{NanoCPUs: 1e7},
			cpu: &specs.LinuxCPU{Quota: i64(1000), Period: u64(100000)}},
		{name: "period, quota, shares, cpuset",
			r:   container.Resources{CPUPeriod: 50000, CPUQuota: 25000, CPUShares: 512, CpusetCpus: "0-1", CpusetMems: "0"},
			cpu: &specs.LinuxCPU{Period: u64(50000), Quota: i64(25000), Shares: u64(512), Cpus: "0-1", Mems: "0"}},
		{name: "--pids-limit 100", r: container.Resources{PidsLimit: i64(100)}, pids: &specs.LinuxPids{Limit: 100}},
		{name: "--pids-limit 0 is unlimited", r: container.Resources{PidsLimit: i64(0)}, pids: &specs.LinuxPids{Limit: -1}},
		{name: "--pids-limit -5 is unlimited", r: container.Resources{PidsLimit: i64(-5)}, pids: &specs.LinuxPids{Limit: -1}},
		{name: "--blkio-weight", r: container.Resources{BlkioWeight: 300}, blk: &specs.LinuxBlockIO{Weight: ptr(uint16(300))}},
		{name: "--device-read-bps /dev/null", r: container.Resources{BlkioDeviceReadBps: []*blkiodev.ThrottleDevice{{Path: "/dev/null", Rate: 1 << 20}}},
			blk: &specs.LinuxBlockIO{ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 1, Minor: 3}, Rate: 1 << 20}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, input(t, func(in *Input) { in.HostConfig.Resources = tc.r }))
			res := s.Linux.Resources
			if tc.mem == nil { // Docker always says whether the OOM killer runs
				tc.mem = &specs.LinuxMemory{DisableOOMKiller: &no}
			}
			check(t, "memory", res.Memory, tc.mem)
			check(t, "cpu", res.CPU, tc.cpu)
			check(t, "pids", res.Pids, tc.pids)
			check(t, "blockIO", res.BlockIO, tc.blk)
		})
	}
}

// check compares two values of a spec, printing both as JSON on a mismatch.
func check[T any](t *testing.T, what string, got, want *T) {
	t.Helper()
	g, w := jsonOf(got), jsonOf(want)
	if g != w {
		t.Errorf("%s = %s, want %s", what, g, w)
	}
}

func TestNoSwapLimit(t *testing.T) {
	in := input(t, func(in *Input) {
		in.Host.NoSwapLimit = true
		in.HostConfig.Memory = 64 << 20
		in.HostConfig.MemorySwap = 128 << 20
	})
	cfg, hc := *in.Config, *in.HostConfig
	warnings, err := Validate(&cfg, &hc, in.Defaults, in.Host)
	if err != nil {
		t.Fatal(err)
	}
	if hc.MemorySwap != -1 || len(warnings) != 1 || warnings[0] != "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap." {
		t.Errorf("swap %d warnings %q", hc.MemorySwap, warnings)
	}
	if s := mustSpec(t, in); s.Linux.Resources.Memory.Swap != nil {
		t.Errorf("swap limit %d set on a host without swap accounting", *s.Linux.Resources.Memory.Swap)
	}
}

func TestAdapt(t *testing.T) {
	cfg := &container.Config{}
	hc := &container.HostConfig{Resources: container.Resources{Memory: 100 << 20}}
	Adapt(testID, cfg, hc, Defaults{ShmSize: 1 << 20, IpcMode: "shareable"}, testHost)
	if cfg.Hostname != "0123456789ab" || hc.MemorySwap != 200<<20 || hc.ShmSize != 1<<20 ||
		hc.IpcMode != "shareable" || hc.CgroupnsMode != "private" || hc.OomKillDisable == nil || *hc.OomKillDisable {
		t.Errorf("adapted: hostname %q %+v", cfg.Hostname, hc)
	}
}

func TestSysctls(t *testing.T) {
	defaults := map[string]string{"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "0"}
	for _, tc := range []struct {
		name   string
		edit   func(*Input)
		want   map[string]string
		domain string
	}{
		{"defaults", nil, defaults, ""},
		{"old kernel: no unprivileged port start", func(in *Input) { in.Host.Kernel = KernelVersion{4, 9} },
			map[string]string{"net.ipv4.ping_group_range": "0 2147483647"}, ""},
		{"host network: none", func(in *Input) { in.HostConfig.NetworkMode = "host" }, map[string]string{}, ""},
		{"joined network: none", func(in *Input) {
			in.HostConfig.NetworkMode, in.Join.Network = "container:x", "/proc/1/ns/net"
		}, map[string]string{}, ""},
		{"user values override", func(in *Input) {
			in.HostConfig.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "1024", "kernel.shmmax": "1000", "fs.mqueue.msg_max": "20"}
		}, map[string]string{"net.ipv4.ping_group_range": "0 2147483647", "net.ipv4.ip_unprivileged_port_start": "1024",
			"kernel.shmmax": "1000", "fs.mqueue.msg_max": "20"}, ""},
		{"domain name", func(in *Input) { in.Config.Domainname = "example.com" }, defaults, "example.com"},
		{"kernel.domainname sysctl wins", func(in *Input) {
			in.Config.Domainname = "example.com"
			in.HostConfig.Sysctls = map[string]string{"kernel.domainname": "example.org"}
		}, defaults, "example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSpec(t, input(t, tc.edit))
			if !maps.Equal(s.Linux.Sysctl, tc.want) || s.Domainname != tc.domain {
				t.Errorf("sysctl %v domain %q, want %v %q", s.Linux.Sysctl, s.Domainname, tc.want, tc.domain)
			}
		})
	}
}

func TestDevices(t *testing.T) {
	s := mustSpec(t, input(t, func(in *Input) {
		in.HostConfig.Devices = []container.DeviceMapping{
			{PathOnHost: "/dev/null", PathInContainer: "/dev/mynull", CgroupPermissions: "r"},
			{PathOnHost: "/dev/zero"},
		}
		in.HostConfig.DeviceCgroupRules = []string{"c 42:* rmw", "a *:* r", "b 8:0 w"}
	}))
	var got []string
	for _, d := range s.Linux.Devices {
		got = append(got, d.Path+" "+d.Type+" "+jsonOf(&d.Major)+":"+jsonOf(&d.Minor))
	}
	if want := []string{"/dev/mynull c 1:3", "/dev/zero c 1:5"}; !slices.Equal(got, want) {
		t.Errorf("devices = %q, want %q", got, want)
	}
	rules := s.Linux.Resources.Devices
	wantTail := []string{
		`{"allow":true,"type":"c","major":1,"minor":3,"access":"r"}`,
		`{"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"}`,
		`{"allow":true,"type":"c","major":42,"minor":-1,"access":"rmw"}`,
		`{"allow":true,"type":"a","major":-1,"minor":-1,"access":"r"}`,
		`{"allow":true,"type":"b","major":8,"minor":0,"access":"w"}`,
	}
	if len(rules) != len(defaultDeviceRules())+len(wantTail) {
		t.Fatalf("rules = %s", jsonOf(&rules))
	}
	for i, w := range wantTail {
		if g := jsonOf(&rules[len(defaultDeviceRules())+i]); g != w {
			t.Errorf("rule %d = %s, want %s", i, g, w)
		}
	}

	dir := t.TempDir()
	_, err := Spec(input(t, func(in *Input) {
		in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: dir + "/nope", CgroupPermissions: "rwm"}}
	}))
	wantInvalid(t, err, `error gathering device information while adding custom device "`+dir+`/nope": lstat `+dir+`/nope: no such file or directory`)
	_, err = Spec(input(t, func(in *Input) {
		in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: dir, CgroupPermissions: "rwm"}}
	}))
	wantInvalid(t, err, `error gathering device information while adding custom device "`+dir+`": not a device node`)
}
