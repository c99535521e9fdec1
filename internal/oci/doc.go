// Package oci turns a container's Docker options (the Engine API's Config and
// HostConfig, and the image's defaults) into the OCI runtime spec that
// berth-runtime runs. Docker's secure defaults live here, in one place:
// capabilities, the seccomp profile, masked and read-only paths, namespaces,
// mounts, device rules.
//
// # The model
//
// A container's spec is a function of four things, and nothing else:
//
//	options    Config + HostConfig, as `docker create` sends them
//	image      the image's Config (User, Env, Entrypoint, Cmd, ...)
//	resolved   what the daemon looked up: the rootfs, volume and bind sources,
//	           the /etc/hosts, /etc/hostname and /etc/resolv.conf files,
//	           namespaces of other containers (Input)
//	defaults   the daemon's settings (Defaults) and the host's facts (Host)
//
// Spec reads no daemon state. The few host reads it does are inherent to the
// options: the user's name in the rootfs's /etc/passwd, a --device node's
// numbers, a seccomp profile named by path.
//
// # Create, then start
//
// Docker settles a container's options when it creates it and builds the
// spec each time it starts it. The same split here:
//
//	create:  MergeImage(cfg, img)          image defaults into the options
//	         Adapt(id, cfg, hc, d, host)   Docker's filled-in defaults (host name,
//	                                       shm size, ipc mode, swap = 2 x memory)
//	         Validate(cfg, hc, d, host)    Docker's checks and messages, warnings
//	         ... store cfg and hc: this is what inspect shows
//	start:   Spec(Input{Config: cfg, HostConfig: hc, ...})
//
// Spec repeats Adapt and Validate on copies, so it also accepts options that
// were never stored, as tests pass them.
//
// # From options to spec
//
//	process     args = entrypoint + cmd (behind /sbin/docker-init with --init);
//	            env = PATH, HOSTNAME, TERM (-t), then the container's, then HOME;
//	            user from --user and --group-add against the rootfs's files;
//	            rlimits from --ulimit then the daemon's; no_new_privs; oom_score_adj
//	caps        Docker's 14 defaults -/+ --cap-drop/--cap-add; every cap if privileged;
//	            the same set is bounding, effective and permitted
//	seccomp     the built-in profile (Docker's default, seccomp_default.go), the
//	            daemon's, or --security-opt seccomp=<json|path>, resolved for the
//	            container's capabilities and architecture; none if unconfined or
//	            privileged
//	namespaces  mount, network, uts, pid, ipc, cgroup (private on cgroup v1 too);
//	            host or container:<id> modes remove or join one (namespaces.go)
//	mounts      Docker's defaults, then the user's sorted by depth (mounts.go);
//	            masked and read-only /proc and /sys paths unless privileged
//	devices     Docker's device cgroup rules, --device nodes, --device-cgroup-rule;
//	            every host device if privileged (devices.go)
//	resources   memory, cpu, pids and blkio limits (resources.go); the cgroup
//	            path <parent>/<id>
//	sysctls     --sysctl, each only in a namespace the container owns, and
//	            Docker's two network defaults (sysctl.go)
//
// Errors a user can cause are of class errdefs.ErrInvalidArgument and carry
// the text Docker answers with ("Minimum memory limit allowed is 6MB"), so the
// API can return them as they are.
//
// # Departures from Docker
//
//   - An AppArmor profile or SELinux label that cannot be applied is an error,
//     not silently ignored; "apparmor=unconfined" and "label=disable" pass.
//   - The cgroup namespace is private by default on cgroup v1 too.
//   - A variable set twice in Env keeps its first position with the last value.
//   - --security-opt seccomp= also takes a file path (the docker CLI sends the
//     file's content, which works too).
//   - Read-only binds are recursive (rro) unless asked otherwise, as Docker does
//     where the runtime supports it: berth-runtime does.
package oci
