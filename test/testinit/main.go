// Command testinit is the process that runtime tests run inside a container, so
// that those tests need no image: it reports what the container looks like from
// the inside (ids, capabilities, mounts, namespaces, limits...) and performs a
// few actions (write a file, sleep, wait for a signal, exit with a code).
//
// It is built static (CGO_ENABLED=0) and copied into a busybox rootfs as
// /testinit by internal/testutil. One process runs one subcommand:
//
//	/testinit id            ->  uid=0 gid=0 groups=0,10
//	/testinit caps          ->  CapInh=0000000000000000 CapPrm=... CapEff=... CapBnd=... CapAmb=...
//	/testinit rlimit NOFILE ->  1024 1024
//
// Results go to stdout, one value or one item per line; failures go to stderr
// with exit status 1. Run it without arguments for the list of subcommands.
// The Go runtime would keep cgroup files open to track CPU limits: no stray fds here.
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// command is one subcommand: nargs is the exact number of arguments it takes,
// or -1 for any number.
type command struct {
	nargs int
	usage string
	run   func(args []string) error
}

// commands is filled in main rather than at package level because several
// entries refer back to it (usage), which Go forbids in a package initialiser.
var commands map[string]command

func main() {
	commands = map[string]command{
		"id":            {0, "uid, gid and supplementary groups", cmdID},
		"cwd":           {0, "working directory", cmdCwd},
		"env":           {0, "environment, one variable per line", cmdEnv},
		"caps":          {0, "the five capability sets, hex", cmdCaps},
		"mounts":        {0, "/proc/self/mountinfo", catFunc("/proc/self/mountinfo")},
		"hostname":      {0, "host name (uname nodename)", cmdHostname},
		"pid":           {0, "process id", func([]string) error { return println(os.Getpid()) }},
		"ppid":          {0, "parent process id", func([]string) error { return println(os.Getppid()) }},
		"nnp":           {0, "NoNewPrivs flag (0 or 1)", statusFunc("NoNewPrivs")},
		"seccomp":       {0, "seccomp mode (0 none, 1 strict, 2 filter)", statusFunc("Seccomp")},
		"umask":         {0, "umask, octal", cmdUmask},
		"rlimit":        {1, "NAME: soft and hard limit as numbers (NOFILE or RLIMIT_NOFILE)", cmdRlimit},
		"fds":           {0, "open file descriptors, one per line", cmdFds},
		"sleep":         {1, "SECONDS: sleep (fractions allowed), then exit 0", cmdSleep},
		"udp-echo":      {1, "PORT: send every UDP datagram back to its sender, forever", cmdUDPEcho},
		"tcp-sink":      {1, "ADDR: accept one TCP connection, read it to the end, print bytes, MB/s and the machine's busy CPU ms meanwhile", cmdTCPSink},
		"tcp-send":      {2, "ADDR BYTES: connect, send BYTES zero bytes, print MB/s", cmdTCPSend},
		"exit":          {1, "N: exit with status N", cmdExit},
		"cat":           {1, "PATH: copy a file to stdout", func(a []string) error { return catFunc(a[0])(nil) }},
		"write":         {2, "PATH CONTENT: create or truncate PATH and write CONTENT", cmdWrite},
		"ls":            {1, "PATH: directory entries, sorted, one per line", cmdLs},
		"isdir":         {1, "PATH: print yes and exit 0 if PATH is a directory, else exit 1", cmdIsdir},
		"stat":          {1, "PATH: perm uid gid type [major:minor] (perm is octal mode&07777)", cmdStat},
		"ns":            {0, "namespaces as name:[inode], one per line", cmdNs},
		"cgroup":        {0, "/proc/self/cgroup", catFunc("/proc/self/cgroup")},
		"oom-score-adj": {0, "oom_score_adj", trimFunc("/proc/self/oom_score_adj")},
		"sysctl":        {1, "KEY: value of a sysctl (net.ipv4.ip_forward or net/ipv4/ip_forward)", cmdSysctl},
		"kill-self":     {1, "SIGNAL: send SIGNAL (name or number) to itself", cmdKillSelf},
		"wait-signal":   {0, "print ready, wait for SIGTERM/SIGINT/SIGHUP/SIGUSR1, print its name", cmdWaitSignal},
		"tty":           {0, "whether fds 0 1 2 are terminals, and the terminal of fd 0", cmdTty},
		"echo":          {-1, "ARGS...: print the arguments separated by spaces", func(a []string) error { return println(strings.Join(a, " ")) }},
		"read-stdin":    {0, "copy stdin to stdout", cmdReadStdin},
		"sched":         {0, "scheduling: policy=N nice=N ioprio=CLASS:PRIO cpus=N", cmdSched},
		"syscall":       {-1, "NAME [PATH]: try a syscall, print ok or the errno name (" + strings.Join(syscallNames(), " ") + ")", cmdSyscall},
	}
	if len(os.Args) < 2 {
		usage()
	}
	name, args := os.Args[1], os.Args[2:]
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "testinit: unknown command %q\n", name)
		usage()
	}
	if c.nargs >= 0 && len(args) != c.nargs {
		fmt.Fprintf(os.Stderr, "testinit: %s takes %d arguments, got %d\n", name, c.nargs, len(args))
		os.Exit(1)
	}
	if err := c.run(args); err != nil {
		fmt.Fprintf(os.Stderr, "testinit: %s: %v\n", name, err)
		os.Exit(1)
	}
}

func usage() {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(os.Stderr, "usage: testinit COMMAND [ARGS...]")
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-14s %s\n", n, commands[n].usage)
	}
	os.Exit(1)
}

func println(v any) error {
	_, err := fmt.Fprintln(os.Stdout, v)
	return err
}

func catFunc(path string) func([]string) error {
	return func([]string) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(os.Stdout, f)
		return err
	}
}

func trimFunc(path string) func([]string) error {
	return func([]string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return println(strings.TrimSpace(string(b)))
	}
}

// statusField returns the value of one "Key:\tvalue" line of /proc/self/status.
func statusField(key string) (string, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == key {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/self/status", key)
}

func statusFunc(key string) func([]string) error {
	return func([]string) error {
		v, err := statusField(key)
		if err != nil {
			return err
		}
		return println(v)
	}
}

func cmdID([]string) error {
	groups, err := unix.Getgroups()
	if err != nil {
		return err
	}
	gs := make([]string, len(groups))
	for i, g := range groups {
		gs[i] = strconv.Itoa(g)
	}
	return println(fmt.Sprintf("uid=%d gid=%d groups=%s", os.Getuid(), os.Getgid(), strings.Join(gs, ",")))
}

func cmdCwd([]string) error {
	wd, err := unix.Getwd()
	if err != nil {
		return err
	}
	return println(wd)
}

func cmdEnv([]string) error {
	for _, e := range os.Environ() {
		if err := println(e); err != nil {
			return err
		}
	}
	return nil
}

func cmdCaps([]string) error {
	var out []string
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		v, err := statusField(k)
		if err != nil {
			return err
		}
		out = append(out, k+"="+v)
	}
	return println(strings.Join(out, " "))
}

func cmdUDPEcho(args []string) error {
	c, err := net.ListenPacket("udp", ":"+args[0])
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return err
		}
		c.WriteTo(buf[:n], from)
	}
}

func cmdTCPSink(args []string) error {
	l, err := net.Listen("tcp", args[0])
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "listening on", l.Addr())
	c, err := l.Accept()
	l.Close()
	if err != nil {
		return err
	}
	defer c.Close()
	start, busy0 := time.Now(), busyMs()
	n, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	return println(fmt.Sprintf("%d bytes %.0f MB/s %d busy-ms", n, float64(n)/secs/1e6, busyMs()-busy0))
}

// busyMs is the time all CPUs have spent busy since boot (user, nice, system, irq, softirq), in
// ms, from /proc/stat (in USER_HZ, 100 on Linux); -1 when it cannot be read. Measured around a
// transfer only, it leaves out the cost of starting the sender's container.
func busyMs() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return -1
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return -1
		}
		ticks += v
	}
	return ticks * 10
}

func cmdTCPSend(args []string) error {
	total, err := strconv.ParseInt(args[1], 10, 64)
	if err != nil {
		return err
	}
	c, err := net.Dial("tcp", args[0])
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	start := time.Now()
	for sent := int64(0); sent < total; {
		n, err := c.Write(buf[:min(int64(len(buf)), total-sent)])
		if err != nil {
			return err
		}
		sent += int64(n)
	}
	secs := time.Since(start).Seconds()
	return println(fmt.Sprintf("%d bytes %.0f MB/s", total, float64(total)/secs/1e6))
}

func cmdHostname([]string) error {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	return println(unix.ByteSliceToString(u.Nodename[:]))
}

func cmdUmask([]string) error {
	m := unix.Umask(0)
	unix.Umask(m)
	return println(fmt.Sprintf("%04o", m))
}

func cmdRlimit(args []string) error {
	name := strings.TrimPrefix(strings.ToUpper(args[0]), "RLIMIT_")
	res, ok := map[string]int{
		"AS": unix.RLIMIT_AS, "CORE": unix.RLIMIT_CORE, "CPU": unix.RLIMIT_CPU,
		"DATA": unix.RLIMIT_DATA, "FSIZE": unix.RLIMIT_FSIZE, "LOCKS": unix.RLIMIT_LOCKS,
		"MEMLOCK": unix.RLIMIT_MEMLOCK, "MSGQUEUE": unix.RLIMIT_MSGQUEUE, "NICE": unix.RLIMIT_NICE,
		"NOFILE": unix.RLIMIT_NOFILE, "NPROC": unix.RLIMIT_NPROC, "RSS": unix.RLIMIT_RSS,
		"RTPRIO": unix.RLIMIT_RTPRIO, "RTTIME": unix.RLIMIT_RTTIME, "SIGPENDING": unix.RLIMIT_SIGPENDING,
		"STACK": unix.RLIMIT_STACK,
	}[name]
	if !ok {
		return fmt.Errorf("unknown resource %q", args[0])
	}
	var rl unix.Rlimit
	if err := unix.Prlimit(0, res, nil, &rl); err != nil {
		return err
	}
	if res == unix.RLIMIT_NOFILE && rl.Max > 0 && rl.Cur == rl.Max-1 {
		// Go's start-up raises a soft NOFILE limit below max-1 to max-1,
		// so max-1 may not be what we were given; see startedNofile.
		cur, err := startedNofile()
		if err != nil {
			return fmt.Errorf("recover the NOFILE soft limit Go raised: %w", err)
		}
		rl.Cur = cur
	}
	return println(fmt.Sprintf("%d %d", rl.Cur, rl.Max))
}

// startedNofile returns the soft RLIMIT_NOFILE this process was started with.
// Go keeps it only in unexported state and puts it back in the children it
// starts, so start ourselves traced: the child stops right after execve, with
// the original limit restored and before its own Go start-up raises it again;
// read the child's limit, then kill it.
func startedNofile() (uint64, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"testinit", "exit", "0"},
		&syscall.ProcAttr{Sys: &syscall.SysProcAttr{Ptrace: true}})
	if err != nil {
		return 0, err
	}
	defer func() {
		unix.Kill(pid, unix.SIGKILL)
		unix.Wait4(pid, nil, 0, nil)
	}()
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, err
	}
	if !ws.Stopped() {
		return 0, fmt.Errorf("traced child did not stop at exec (status %#x)", ws)
	}
	var rl unix.Rlimit
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, nil, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}

func cmdFds([]string) error {
	// Raw syscalls, not os.Open: opening through os may start Go's poller,
	// whose epoll and event fds would then show up in the list.
	dfd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	var names []string
	buf := make([]byte, 4096)
	for {
		n, err := unix.ReadDirent(dfd, buf)
		if err != nil {
			unix.Close(dfd)
			return err
		}
		if n == 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	unix.Close(dfd)
	var fds []int
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err == nil && fd != dfd {
			fds = append(fds, fd)
		}
	}
	sort.Ints(fds)
	for _, fd := range fds {
		if err := println(fd); err != nil {
			return err
		}
	}
	return nil
}

func cmdSleep(args []string) error {
	s, err := strconv.ParseFloat(args[0], 64)
	if err != nil {
		return err
	}
	time.Sleep(time.Duration(s * float64(time.Second)))
	return nil
}

func cmdExit(args []string) error {
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	os.Exit(n)
	return nil
}

func cmdWrite(args []string) error {
	return os.WriteFile(args[0], []byte(args[1]), 0o644)
}

func cmdLs(args []string) error {
	entries, err := os.ReadDir(args[0])
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := println(e.Name()); err != nil {
			return err
		}
	}
	return nil
}

func cmdIsdir(args []string) error {
	var st unix.Stat_t
	if err := unix.Stat(args[0], &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return errors.New("not a directory")
	}
	return println("yes")
}

func cmdStat(args []string) error {
	var st unix.Stat_t
	if err := unix.Stat(args[0], &st); err != nil {
		return err
	}
	types := map[uint32]string{
		unix.S_IFREG: "file", unix.S_IFDIR: "dir", unix.S_IFLNK: "symlink", unix.S_IFCHR: "char",
		unix.S_IFBLK: "block", unix.S_IFIFO: "fifo", unix.S_IFSOCK: "socket",
	}
	typ := types[st.Mode&unix.S_IFMT]
	out := fmt.Sprintf("%04o %d %d %s", st.Mode&0o7777, st.Uid, st.Gid, typ)
	if typ == "char" || typ == "block" {
		out += fmt.Sprintf(" %d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	return println(out)
}

func cmdNs([]string) error {
	entries, err := os.ReadDir("/proc/self/ns")
	if err != nil {
		return err
	}
	for _, e := range entries {
		target, err := os.Readlink("/proc/self/ns/" + e.Name())
		if err != nil {
			return err
		}
		// target is "net:[4026531840]"; name the line after the entry so that
		// pid_for_children and pid stay distinct.
		_, inode, _ := strings.Cut(target, ":")
		if err := println(e.Name() + ":" + inode); err != nil {
			return err
		}
	}
	return nil
}

func cmdSysctl(args []string) error {
	key := args[0]
	if !strings.Contains(key, "/") {
		key = strings.ReplaceAll(key, ".", "/")
	}
	return trimFunc(filepath.Join("/proc/sys", filepath.Clean("/"+key)))(nil)
}

func parseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return unix.Signal(n), nil
	}
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	if sig := unix.SignalNum(s); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func cmdKillSelf(args []string) error {
	sig, err := parseSignal(args[0])
	if err != nil {
		return err
	}
	if err := unix.Kill(os.Getpid(), sig); err != nil {
		return err
	}
	// A fatal signal normally ends us here. Reaching the end means it was
	// ignored (a pid namespace's init ignores signals it has no handler for).
	time.Sleep(time.Second)
	return fmt.Errorf("still alive after %s", unix.SignalName(sig))
}

func cmdWaitSignal([]string) error {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	// Tell the test that the handlers are in place: a SIGTERM sent before this
	// line would kill us instead of being reported.
	if err := println("ready"); err != nil {
		return err
	}
	sig := (<-ch).(syscall.Signal)
	return println(unix.SignalName(sig))
}

func cmdTty([]string) error {
	var out []string
	for fd := 0; fd <= 2; fd++ {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		out = append(out, fmt.Sprintf("%d=%t", fd, err == nil))
	}
	name := ""
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); err == nil {
		name, _ = os.Readlink("/proc/self/fd/0")
	}
	return println(strings.Join(out, " ") + " name=" + name)
}

func cmdReadStdin([]string) error {
	_, err := io.Copy(os.Stdout, os.Stdin)
	return err
}

// syscalls are the calls `syscall NAME` can try; each returns the raw error.
// An optional PATH replaces the default target of path-taking calls.
var syscalls = map[string]func(path string) error{
	"getcwd": func(string) error { _, err := unix.Getwd(); return err },
	"uname":  func(string) error { var u unix.Utsname; return unix.Uname(&u) },
	"getpid": func(string) error { _, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0); return errnoErr(e) },
	"chdir":  func(p string) error { return unix.Chdir(orDefault(p, "/")) },
	"mkdir": func(p string) error {
		p = orDefault(p, fmt.Sprintf("/tmp/testinit-mkdir-%d", os.Getpid()))
		if err := unix.Mkdir(p, 0o755); err != nil {
			return err
		}
		unix.Rmdir(p)
		return nil
	},
	"chmod": func(p string) error {
		// Re-apply the current mode: the call is made, nothing changes.
		p = orDefault(p, "/tmp")
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("stat before chmod: %w", err)
		}
		return unix.Chmod(p, st.Mode&0o7777)
	},
	"socket": func(string) error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	"personality": func(string) error {
		_, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
		return errnoErr(e)
	},
	"unshare": func(string) error { return unix.Unshare(unix.CLONE_NEWUTS) },
}

func syscallNames() []string {
	var names []string
	for n := range syscalls {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func orDefault(p, def string) string {
	if p == "" {
		return def
	}
	return p
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func cmdSyscall(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: syscall NAME [PATH]")
	}
	call, ok := syscalls[args[0]]
	if !ok {
		return fmt.Errorf("unknown syscall %q (known: %s)", args[0], strings.Join(syscallNames(), " "))
	}
	path := ""
	if len(args) == 2 {
		path = args[1]
	}
	err := call(path)
	var errno unix.Errno
	switch {
	case err == nil:
		return println("ok")
	case errors.As(err, &errno):
		return println(unix.ErrnoName(errno))
	default:
		return err
	}
}

// cmdSched prints the scheduling policy and nice value, the I/O priority as class:data,
// and how many CPUs the process may run on.
func cmdSched([]string) error {
	policy, _, e := unix.RawSyscall(unix.SYS_SCHED_GETSCHEDULER, 0, 0, 0)
	if e != 0 {
		return e
	}
	nice, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		return err
	}
	const whoProcess = 1
	prio, _, e := unix.RawSyscall(unix.SYS_IOPRIO_GET, whoProcess, 0, 0)
	if e != 0 {
		return e
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return err
	}
	// getpriority(2) returns 20-nice through the raw syscall; x/sys passes it on as is.
	return println(fmt.Sprintf("policy=%d nice=%d ioprio=%d:%d cpus=%d", policy&^0x40000000, 20-nice, prio>>13, prio&0x1fff, set.Count()))
}
