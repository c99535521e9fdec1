// Package cgroup is berth's own small cgroup manager: it places a container's processes in
// a cgroup and writes its resource limits, on cgroup v1, v2 and the hybrid of the two. It
// talks to the cgroup filesystems directly: no systemd, no dbus, no containerd/cgroups.
//
// # Layouts
//
// The kernel offers two interfaces, and a machine mounts one, the other, or both:
//
//	v1 (legacy)   one hierarchy per controller, each its own mount:
//	                /sys/fs/cgroup/memory/c1/memory.limit_in_bytes
//	                /sys/fs/cgroup/cpu/c1/cpu.cfs_quota_us        (cpu and cpuacct may share one)
//	v2 (unified)  one hierarchy for every controller; a controller works in a child only
//	              when each ancestor lists it in cgroup.subtree_control:
//	                /sys/fs/cgroup/c1/memory.max
//	hybrid        v1 hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified) that
//	              holds the controllers v1 did not take (often none, sometimes hugetlb).
//
// New reads /proc/self/mountinfo to find which layout the machine has. The manager then
// routes each resource to wherever its controller lives: a v1 hierarchy if one is mounted,
// otherwise the cgroup2 directory if the cgroup2 root lists the controller in
// cgroup.controllers. So on a hybrid machine memory limits go to memory.limit_in_bytes and
// hugetlb limits to hugetlb.2MB.max in the unified directory. Freezing and device rules
// fall back to cgroup2 (cgroup.freeze, an eBPF program) when v1 lacks freezer or devices.
//
// # Paths
//
// The spec's linux.cgroupsPath names one cgroup, which exists once in every hierarchy:
//
//	""                   "/<id>" (at the top of each hierarchy, as crun does)
//	"/a/b"               "/a/b" under each hierarchy's mount point
//	"a/b"                under the cgroup the runtime itself is in (from /proc/self/cgroup),
//	                     per hierarchy, as runc does
//	"slice:prefix:name"  systemd's form, mapped to a plain path since berth has no systemd:
//	                     "machine-web.slice:berth:c1" -> "/machine.slice/machine-web.slice/berth-c1.scope"
//
// New only reads; nothing is created until Apply, so calling New again with the same
// arguments finds the same directories (while the runtime stays in the same cgroup; Load
// rebuilds a manager from the recorded Paths when it may not).
//
// # Resources
//
// Set writes runtime-spec LinuxResources. On v1 the files are the kernel's v1 names; on v2
// the values are converted as runc and crun do: cpu.weight = 1 + (shares-2)*9999/262142,
// cpu.max = "quota period", memory.swap.max = swap - limit (the spec's swap counts memory
// too), memory.low from the reservation, io.weight = 1 + (weight-10)*9999/990. A value the
// kernel refuses comes back as one line naming the file and the value; a value that can
// never be right (a swap limit below the memory limit) is refused before any write.
//
// Device rules are applied as the v1 kernel applies writes to devices.allow and
// devices.deny, in order, starting from "deny all". On v1 they are those very writes; on
// v2 the same rules are first reduced to a default and a list of exceptions and then
// compiled into a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup.
package cgroup
