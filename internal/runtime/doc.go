// Package runtime is berth's OCI runtime library: it turns a bundle (config.json and a
// root filesystem) into a container and drives it through the runtime-spec lifecycle.
//
// # Processes
//
// A container's life involves three kinds of process, all the same binary:
//
//	berth-runtime create ID       the "parent": validates the spec, makes the state dir,
//	  |                           starts init in new namespaces, puts it in its cgroup,
//	  |                           runs createRuntime hooks, records state, exits.
//	  +-- berth-runtime init      the container's pid 1 until start: mounts the rootfs,
//	                              pivots, then blocks in accept() on start.sock.
//	berth-runtime start ID        connects to start.sock: init accepts, runs startContainer
//	                              hooks, drops privileges and execve()s the user's program;
//	                              start runs poststart hooks.
//
// exec is alike: the parent joins the container's namespaces on one locked OS thread and
// starts "berth-runtime exec-init" from that thread, so the child is born inside them.
//
// # Parent and child talk over a socketpair
//
// Messages are JSON lines (see sync.go). The parent sends the config at once and places
// init in its cgroups while init mounts the rootfs (the first write to cgroup.procs can
// wait out an RCU grace period); "go" tells init the cgroups are joined, which it awaits
// only before what needs them (the cgroup namespace, cgroup mounts). Init then reports
// "mounted" (the parent runs prestart and createRuntime hooks and answers "hooked"), then
// "ready", or an error that the parent prints as its own one-line error after cleaning up.
//
// The container side's last connection to the host side (start's connection for init,
// the socketpair for exec-init) is close-on-exec: EOF tells the host side the program
// runs, text says why it did not, and a seccomp notify listener fd travels back on it
// to be handed to the spec's listenerPath.
//
// # State
//
// Each container has a directory under the runtime root (default /run/berth-runtime):
//
//	<root>/<id>/state.json   the record (written atomically): pid, its start time, bundle,
//	                         the spec as created, cgroup paths
//	<root>/<id>/start.sock   init listens here from create until start; present means "created"
//
// Status is derived, never stored: no live init (or one with another start time) is
// "stopped"; a frozen cgroup is "paused"; a start.sock still present is "created"; else "running".
package runtime
