// Command berth-runtime is berth's OCI runtime, with runc's command line. The same
// binary is the container-side "init" and "exec-init" processes it starts.
//
// It starts once per container: the Go runtime's cgroup CPU-limit tracking (which reads
// mountinfo and keeps cgroup files open) is turned off, as it is pure start-up cost here.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/runtime/pid1"
	"github.com/berth-engine/berth/internal/runtimecli"
)

func init() {
	// The container-side processes set namespaces and credentials per thread and then
	// execve from that thread: keep main on one thread from the very start.
	goruntime.LockOSThread()
}

func main() {
	// Bound into containers as /sbin/docker-init, it is their --init.
	if filepath.Base(os.Args[0]) == "docker-init" {
		os.Exit(pid1.Main(os.Args[1:], os.Stderr))
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "init":
			runtime.Init(entryResults())
		case "exec-init":
			runtime.ExecInit(entryResults())
		}
	}
	os.Exit(runtimecli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
