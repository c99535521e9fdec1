package cgroup

import (
	"os"
	"path/filepath"
	"strconv"
)

// PrimeMigration readies the kernel for a cgroup migration about to come, so that
// joining a new container's cgroups does not wait.
//
// Every write to a cgroup.procs file takes the kernel's global cgroup_threadgroup_rwsem
// for writing. That percpu rwsem lets readers (every fork and exit) in cheaply, and the
// price is paid by a writer that comes after a quiet spell: it waits for an RCU grace
// period to switch the lock to its slow mode, 5 to 20 ms on the machines we measured,
// longer than everything else a container's start does in the runtime. The lock stays
// in that mode for about one more grace period after the last writer. So a caller that
// knows a migration is coming calls PrimeMigration in a goroutine first: it moves this
// process to the cgroup it already is in (a migration that changes nothing but takes
// the lock), the grace period elapses while the caller does its other work, and the
// real migration then finds the lock ready. It blocks for that grace period; failures
// are ignored (the real migration reports its own).
func PrimeMigration() {
	l, err := detectLayout()
	if err != nil {
		return
	}
	// A v1 hierarchy where there is one: in cgroup2 a cgroup with controllers enabled
	// for its children refuses member processes, and the write would fail early.
	var m *mount
	var self string
	for _, c := range v1Controllers {
		if v1, ok := l.v1[c]; ok && l.self[c] != "" {
			m, self = &v1, l.self[c]
			break
		}
	}
	if m == nil && l.unified != nil && l.self[""] != "" {
		m, self = l.unified, l.self[""]
	}
	if m == nil {
		return
	}
	dir := hierarchyDir(innerPath{path: ".", relative: true}, m.point, m.root, self)
	if !filepath.IsAbs(dir) {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, "cgroup.procs"), os.O_WRONLY, 0)
	if err != nil {
		return
	}
	f.WriteString(strconv.Itoa(os.Getpid()))
	f.Close()
}
