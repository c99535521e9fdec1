package oci

import (
	"strings"
	"testing"

	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestBadInput gives each option Docker refuses a value it refuses, and
// expects Docker's message, as an invalid-argument error, from both Validate
// (create) and Spec (start).
func TestBadInput(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	remap := func(in *Input) {
		in.Defaults.UsernsRemap = &IDMap{UIDs: []specs.LinuxIDMapping{{HostID: 100000, Size: 65536}}}
	}
	for _, tc := range []struct {
		name string
		edit func(*Input)
		msg  string
	}{
		{"-m 1b", func(in *Input) { in.HostConfig.Memory = 1 }, "Minimum memory limit allowed is 6MB"},
		{"--memory-swap below -m", func(in *Input) { in.HostConfig.Memory, in.HostConfig.MemorySwap = 64<<20, 32<<20 },
			"Minimum memoryswap limit should be larger than memory limit, see usage"},
		{"--memory-swap without -m", func(in *Input) { in.HostConfig.MemorySwap = 64 << 20 },
			"You should always set the Memory limit when using Memoryswap limit, see usage"},
		{"--memory-reservation 1k", func(in *Input) { in.HostConfig.MemoryReservation = 1024 }, "Minimum memory reservation allowed is 6MB"},
		{"--memory-reservation above -m", func(in *Input) { in.HostConfig.Memory, in.HostConfig.MemoryReservation = 64<<20, 128<<20 },
			"Minimum memory limit can not be less than memory reservation limit, see usage"},
		{"--memory-swappiness 101", func(in *Input) { in.HostConfig.MemorySwappiness = i64(101) },
			"Invalid value: 101, valid memory swappiness range is 0-100"},
		{"--cpus -1", func(in *Input) { in.HostConfig.NanoCPUs = -1e9 },
			"range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{"--cpus 3 on 2 CPUs", func(in *Input) { in.HostConfig.NanoCPUs = 3e9 },
			"range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"},
		{"--cpus with --cpu-period", func(in *Input) { in.HostConfig.NanoCPUs, in.HostConfig.CPUPeriod = 1e9, 50000 },
			"Conflicting options: Nano CPUs and CPU Period cannot both be set"},
		{"--cpus with --cpu-quota", func(in *Input) { in.HostConfig.NanoCPUs, in.HostConfig.CPUQuota = 1e9, 50000 },
			"Conflicting options: Nano CPUs and CPU Quota cannot both be set"},
		{"--cpu-period 10", func(in *Input) { in.HostConfig.CPUPeriod = 10 },
			"CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"},
		{"--cpu-quota 10", func(in *Input) { in.HostConfig.CPUQuota = 10 }, "CPU cfs quota can not be less than 1ms (i.e. 1000)"},
		{"--cpu-shares -2", func(in *Input) { in.HostConfig.CPUShares = -2 }, "invalid CPU shares (-2): value must be a positive integer"},
		{"--cpuset-cpus 5", func(in *Input) { in.HostConfig.CpusetCpus = "1,5" },
			"Requested CPUs are not available - requested 1,5, available: 0-1"},
		{"--cpuset-cpus 1-x", func(in *Input) { in.HostConfig.CpusetCpus = "1-x" },
			"Invalid value 1-x for cpuset cpus: invalid format: 1-x"},
		{"--cpuset-mems 1", func(in *Input) { in.HostConfig.CpusetMems = "1" },
			"Requested memory nodes are not available - requested 1, available: 0"},
		{"--blkio-weight 5", func(in *Input) { in.HostConfig.BlkioWeight = 5 }, "Range of blkio weight is from 10 to 1000"},
		{"--blkio-weight 1001", func(in *Input) { in.HostConfig.BlkioWeight = 1001 }, "Range of blkio weight is from 10 to 1000"},
		{"--blkio-weight-device /dev/null:5", func(in *Input) {
			in.HostConfig.BlkioWeightDevice = []*blkiodev.WeightDevice{{Path: "/dev/null", Weight: 5}}
		}, "invalid weight for device: /dev/null:5"},
		{"io maximum", func(in *Input) { in.HostConfig.IOMaximumIOps = 10 },
			"Invalid QoS settings: linux does not support Maximum IO Bandwidth or Maximum IO IOps"},
		{"--shm-size -1", func(in *Input) { in.HostConfig.ShmSize = -1 }, "SHM size can not be less than 0"},
		{"--oom-score-adj 1001", func(in *Input) { in.HostConfig.OomScoreAdj = 1001 },
			"Invalid value 1001, range for oom score adj is [-1000, 1000]"},
		{"--ipc bogus", func(in *Input) { in.HostConfig.IpcMode = "bogus" }, "invalid IPC mode: bogus"},
		{"--pid bogus", func(in *Input) { in.HostConfig.PidMode = "bogus" }, "invalid PID mode: bogus"},
		{"--uts bogus", func(in *Input) { in.HostConfig.UTSMode = "bogus" }, "invalid UTS mode: bogus"},
		{"--cgroupns bogus", func(in *Input) { in.HostConfig.CgroupnsMode = "bogus" }, "invalid cgroup namespace mode: bogus"},
		{"--userns bogus", func(in *Input) { in.HostConfig.UsernsMode = "bogus" }, "invalid USER mode: bogus"},
		{"-h too long", func(in *Input) { in.Config.Hostname = strings.Repeat("h", 65) },
			`hostname "` + strings.Repeat("h", 65) + `" is too long (maximum 64 bytes)`},
		{"-w relative", func(in *Input) { in.Config.WorkingDir = "srv" },
			"the working directory 'srv' is invalid, it needs to be an absolute path"},
		{"-e =x", func(in *Input) { in.Config.Env = []string{"=x"} }, "invalid environment variable: =x"},
		{"--cap-add BOGUS", func(in *Input) { in.HostConfig.CapAdd = []string{"bogus"} }, `invalid CapAdd: unknown capability: "CAP_BOGUS"`},
		{"--cap-drop CAP_NOPE", func(in *Input) { in.HostConfig.CapDrop = []string{"CAP_NOPE"} }, `invalid CapDrop: unknown capability: "CAP_NOPE"`},
		{"--cap-add a cap the kernel lacks", func(in *Input) {
			in.Host.LastCap = 37
			in.HostConfig.CapAdd = []string{"BPF"}
		}, `invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_BPF"`},
		{"--security-opt bogus", func(in *Input) { in.HostConfig.SecurityOpt = []string{"bogus"} }, `invalid --security-opt 1: "bogus"`},
		{"--security-opt bogus=1", func(in *Input) { in.HostConfig.SecurityOpt = []string{"bogus=1"} }, `invalid --security-opt 2: "bogus=1"`},
		{"--security-opt no-new-privileges=maybe", func(in *Input) { in.HostConfig.SecurityOpt = []string{"no-new-privileges=maybe"} },
			`invalid --security-opt 2: "no-new-privileges=maybe"`},
		{"--ulimit bogus", func(in *Input) { in.HostConfig.Ulimits = []*container.Ulimit{{Name: "bogus", Soft: 1, Hard: 1}} },
			"invalid ulimit type: bogus"},
		{"--ulimit soft above hard", func(in *Input) { in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: 10, Hard: 5}} },
			"ulimit soft limit must be less than or equal to hard limit: 10 > 5"},
		{"--ulimit unlimited soft", func(in *Input) { in.HostConfig.Ulimits = []*container.Ulimit{{Name: "nofile", Soft: -1, Hard: 5}} },
			"ulimit soft limit must be less than or equal to hard limit: soft: -1 (unlimited), hard: 5"},
		{"--tmpfs relative", func(in *Input) { in.HostConfig.Tmpfs = map[string]string{"run": ""} },
			"invalid mount path: 'run' mount path must be absolute"},
		{"--tmpfs /", func(in *Input) { in.HostConfig.Tmpfs = map[string]string{"/": ""} },
			"invalid specification: destination can't be '/'"},
		{"mount at a relative path", func(in *Input) { in.Mounts = []Mount{{Destination: "data", Source: "/srv"}} },
			"invalid mount path: 'data' mount path must be absolute"},
		{"mount propagation", func(in *Input) { in.Mounts = []Mount{{Destination: "/data", Source: "/srv", Propagation: "sideways"}} },
			"invalid propagation mode: sideways"},
		{"--sysctl kernel.panic", func(in *Input) { in.HostConfig.Sysctls = map[string]string{"kernel.panic": "1"} },
			"sysctl 'kernel.panic=1' is not allowed"},
		{"--sysctl net.* with --network host", func(in *Input) {
			in.HostConfig.NetworkMode = "host"
			in.HostConfig.Sysctls = map[string]string{"net.ipv4.ip_forward": "1"}
		}, `sysctl "net.ipv4.ip_forward" not allowed in host network namespace`},
		{"--sysctl kernel.shmmax with --ipc host", func(in *Input) {
			in.HostConfig.IpcMode = "host"
			in.HostConfig.Sysctls = map[string]string{"kernel.shmmax": "1"}
		}, `sysctl "kernel.shmmax" not allowed in host IPC namespace`},
		{"--sysctl fs.mqueue with --ipc host", func(in *Input) {
			in.HostConfig.IpcMode = "host"
			in.HostConfig.Sysctls = map[string]string{"fs.mqueue.msg_max": "1"}
		}, `sysctl "fs.mqueue.msg_max" not allowed in host IPC namespace`},
		{"--domainname with --uts host", func(in *Input) {
			in.HostConfig.UTSMode = "host"
			in.Config.Domainname = "example.com"
		}, `domain name "example.com" needs a UTS namespace of the container's own, not --uts host`},
		{"--device-cgroup-rule", func(in *Input) { in.HostConfig.DeviceCgroupRules = []string{"c 1:x rwm"} },
			"invalid device cgroup rule format: 'c 1:x rwm'"},
		{"--device-cgroup-rule access", func(in *Input) { in.HostConfig.DeviceCgroupRules = []string{"c 1:3 rwx"} },
			"invalid device cgroup rule format: 'c 1:3 rwx'"},
		{"--device-cgroup-rule type", func(in *Input) { in.HostConfig.DeviceCgroupRules = []string{"x 1:3 r"} },
			"invalid device cgroup rule format: 'x 1:3 r'"},
		{"--device mode", func(in *Input) {
			in.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/null", CgroupPermissions: "rwx"}}
		}, "invalid device mode: rwx"},
		{"--privileged with remapping", func(in *Input) { remap(in); in.HostConfig.Privileged = true },
			"privileged mode is incompatible with user namespaces.  You must run the container in the host namespace when running privileged mode"},
		{"--network host with remapping", func(in *Input) { remap(in); in.HostConfig.NetworkMode = "host" },
			"cannot share the host's network namespace when user namespaces are enabled"},
		{"--pid host with remapping", func(in *Input) { remap(in); in.HostConfig.PidMode = "host" },
			"cannot share the host PID namespace when user namespaces are enabled"},
		{"writable-cgroups with remapping", func(in *Input) { remap(in); in.HostConfig.SecurityOpt = []string{"writable-cgroups"} },
			"option WritableCgroups conflicts with user namespaces and rootless mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, tc.edit)
			_, err := Spec(in)
			wantInvalid(t, err, tc.msg)

			// Validate alone, at create time, catches all but what needs
			// the spec's other parts.
			cfg, hc := *in.Config, *in.HostConfig
			Adapt(in.ID, &cfg, &hc, in.Defaults, in.Host)
			if _, err := Validate(&cfg, &hc, in.Defaults, in.Host); err == nil && !specTimeOnly[tc.name] {
				t.Errorf("Validate accepted it")
			}
		})
	}
}

// specTimeOnly are the bad inputs only Spec can see: they are not in
// HostConfig but in what the daemon resolved.
var specTimeOnly = map[string]bool{
	"mount at a relative path":        true,
	"mount propagation":               true,
	"writable-cgroups with remapping": true,
}

func TestValidateWarnings(t *testing.T) {
	yes := true
	cfg := &container.Config{}
	hc := &container.HostConfig{Resources: container.Resources{OomKillDisable: &yes, CPUPercent: 50}}
	warnings, err := Validate(cfg, hc, Defaults{}, testHost)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.",
		"linux does not support CPU percent. Percent discarded.",
	}
	if len(warnings) != 2 || warnings[0] != want[0] || warnings[1] != want[1] || hc.CPUPercent != 0 {
		t.Errorf("warnings %q, percent %d", warnings, hc.CPUPercent)
	}
}
