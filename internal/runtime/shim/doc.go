// Package shim is the small process that stays beside containers for their whole
// lives, and the client berthd uses to talk to it.
//
// # Why a process beside the containers
//
// The daemon may crash, be upgraded or be killed with SIGKILL; the container must not
// notice. Whatever a container needs from the host while it runs therefore lives in a
// process of its own: the read ends of its stdout and stderr (or its pty master), the
// write end of its stdin, its log file, and the right to reap it. That process is the
// shim, "berth-runtime shim", started in a session of its own with nothing of the
// daemon's (stdio on /dev/null, no inherited descriptors):
//
//	berthd --Group.Launch--> berth-runtime shim --capacity 16 --control S  (setsid; outlives berthd)
//	                           |  runtime.Create with stdio it holds (pipes, or a pty master)
//	                           +-- berth-runtime init -> the container's program
//	                           |  runtime.Exec for each exec, same stdio handling
//	                           +-- berth-runtime exec-init -> the exec'd program
//
// The shim is the inits' parent (it called Create) and a child subreaper, so exec'd
// processes and anything they leave behind are reaped by it too: each known child
// through a pidfd in the Go poller, or, for a container in the host's pid namespace
// (whose orphans come to the shim), by SIGCHLD and sweeps. Launch returns once the
// container is created and the shim is listening on the container's own socket; the
// program has not started, so a client can attach before Start, as `docker run`
// attaches and then starts.
//
// # Shared shims
//
// A Go process costs about 0.8 MB however little it does, more than the 1 MB a
// container may cost berth in all. So one shim serves several containers (berthd:
// up to 16), each through a server of its own, on a socket of its own, with the same
// protocol: Group.Launch launches into the shim taking launches (on its launch socket,
// bound by the group before the shim starts), and starts another when that one is
// full, closing or gone. A shim with no container exits after a while (10 s). The
// cost of sharing: a shim killed by hand takes all its containers down, not one
// (berthd finds their shim gone and reaps them, exit code 255, as for any lost shim).
// A container in the host's pid namespace gets a shim of its own (Launch), since its
// shim must reap every child.
//
// A launch is a transaction on one connection: the options, the reply, then the
// client's commit; a client that goes away before committing (its context ended)
// makes the shim undo the container, once its creation is over, before the
// connection closes.
//
// # Staying small
//
// The shim runs with one P, no heap profiling, no signal handling in the default case
// (two OS threads saved), starts the container without reading its record back, and
// gives memory back once a burst of launches or execs is over (creating a container
// in the shim leaves garbage the collector would not look at before the heap reached
// 4 MB). A panic while creating a container fails that launch only.
//
// # The state directory
//
// Launch is given a directory of the caller's; the shim keeps there:
//
//	STATEDIR/shim.sock   the control socket (0600), present while the shim serves
//	STATEDIR/shim.pid    the pid of the shim serving it, while it does
//	STATEDIR/exit.json   the container's exit, written atomically once it has exited
//	                     and been cleaned up: {"schema":1,"pid":..,"exitCode":..,
//	                     "exitedAt":..,"oomKilled":..}
//
// exit.json stays when the shim goes away; the caller removes the directory.
//
// # The protocol
//
// One connection carries one request: the client writes one JSON object on one line
// ({"op":"start"}), the shim answers with one JSON line ({"pid":42}, or
// {"error":"...","class":"conflict"}). After a successful attach or exec the
// connection then becomes the process's stream, framed as the Engine API frames it:
//
//   - with a terminal, raw bytes both ways;
//   - without, output as stdcopy frames: an 8-byte header (stream 1 stdout or 2
//     stderr, three zero bytes, big-endian uint32 length) then the payload; input is
//     raw bytes.
//
// Ops:
//
//	start                         start the program; reply {pid}
//	attach {stdin,stdout,stderr,  join the container's stream from now on; several
//	        detachKeys}           clients may attach at once, each gets every output.
//	                              Input is read only with the container's OpenStdin.
//	                              When the client closes its write side and StdinOnce
//	                              is set, the container's stdin is closed (Docker's rule);
//	                              the detach keys end the attach and leave stdin open.
//	                              The shim closes the stream when the container is gone
//	                              and its output drained.
//	resize {height,width[,exec]}  set the size of the container's (or an exec's) terminal
//	wait                          reply once the container has exited (at once if it has):
//	                              {exit:{exitCode,exitedAt,oomKilled,pid}}
//	state                         {pid,status: created|running|exited,exit}
//	exec {exec,process,terminal,  run process in the container; the connection becomes
//	      stdin,framing,noStderr, its stream as for attach, framed unless it has a
//	      detachKeys}             terminal, or as framing says ("raw", "multiplexed": a
//	                              terminal's output is then stdout); noStderr leaves its
//	                              stderr out. Its stdin closes when the client closes its
//	                              write side; the detach keys end the stream and leave
//	                              the process running, stdin open. Otherwise the stream
//	                              ends once the process is reaped and its output
//	                              drained, so exec-state afterwards reports the code.
//	exec-state {exec}             {pid,status: running|exited,exit}; remembered while the
//	                              shim lives
//	exec-wait {exec}              as exec-state, once the exec has exited
//	shutdown                      after the exit: the shim removes shim.sock and shim.pid
//	                              and stops serving the container; the client sees its
//	                              connection end then.
//
// # The exit
//
// When init exits the shim drains the output to end of file (or for at most
// drainTimeout if some escaped process keeps it open), flushes and closes the log,
// closes every attach stream, reads the cgroup's OOM kill count, removes what the
// container held through the runtime library (cgroups, mounts, its record), writes
// exit.json, answers every waiter, and stops serving the container on shutdown or
// once no client has been connected for Opts.ExitGrace (5 s by default). A caller
// that missed the answer reads exit.json (ReadExit); if the shim died before writing
// it, Reap kills what is left of the container and cleans up.
//
// # Logs
//
// The container's output goes through a logs.LineWriter per stream (lines of at most
// 16 KiB, as Docker's copier cuts them) into the logs.Writer that NewLogWriter opens,
// one write per read of the pipe, before any attached client sees it: a slow client
// never costs a log line. Exec output is not logged, as in Docker.
//
// The shim is linked into berth-runtime, which must stay lean (no net, no moby
// packages): sockets are plain syscalls wrapped in pollable *os.File values, and the
// stdcopy framing is written here (the API module only exports the reader).
package shim
