package runtimecli_test

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The kernel's struct seccomp_notif and seccomp_notif_resp.
type seccompNotif struct {
	id    uint64
	pid   uint32
	flags uint32
	nr    int32
	arch  uint32
	ip    uint64
	args  [6]uint64
}

type seccompNotifResp struct {
	id    uint64
	val   int64
	error int32
	flags uint32
}

// seccompAgent listens at path like a seccomp agent: it takes the container process
// state and the listener fd, and answers every notified syscall with EXDEV.
func seccompAgent(t *testing.T, path string) <-chan specs.ContainerProcessState {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	states := make(chan specs.ContainerProcessState, 4)
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			go serveAgent(c, states)
		}
	}()
	return states
}

func serveAgent(c *net.UnixConn, states chan<- specs.ContainerProcessState) {
	defer c.Close()
	buf, oob := make([]byte, 8192), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	var st specs.ContainerProcessState
	json.Unmarshal(buf[:n], &st)
	states <- st
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	if len(msgs) != 1 {
		return
	}
	fds, _ := unix.ParseUnixRights(&msgs[0])
	if len(fds) != 1 {
		return
	}
	fd := fds[0]
	defer unix.Close(fd)
	for {
		var req seccompNotif
		if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); e != 0 {
			return // the filter is gone: the container exited
		}
		resp := seccompNotifResp{id: req.id, error: -int32(unix.EXDEV)}
		unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

func TestSeccompNotifyReachesTheAgent(t *testing.T) {
	h := newHarness(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	states := seccompAgent(t, sock)
	h.edit(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction:    specs.ActAllow,
			ListenerPath:     sock,
			ListenerMetadata: "from-the-test",
			Syscalls:         []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
		}
	})
	if got := h.runOK("/testinit", "syscall", "mkdir", "/tmp/x"); got != "EXDEV" {
		t.Errorf("mkdir answered by the agent: %q, want EXDEV", got)
	}
	select {
	case st := <-states:
		if st.Metadata != "from-the-test" || st.State.ID != h.id || len(st.Fds) != 1 || st.Fds[0] != "seccompFd" || st.Pid <= 0 {
			t.Errorf("agent got state %+v", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent never got the listener fd")
	}
}

func TestSeccompNotifyForExec(t *testing.T) {
	h := newHarness(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	states := seccompAgent(t, sock)
	h.edit(func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			ListenerPath:  sock,
			Syscalls:      []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
		}
	})
	h.createRunning()
	<-states // the container's own process
	if got := strings.TrimSpace(h.ok("exec", h.id, "/testinit", "syscall", "mkdir", "/tmp/y")); got != "EXDEV" {
		t.Errorf("mkdir in an exec'd process: %q, want EXDEV from the agent", got)
	}
	select {
	case st := <-states:
		if st.Pid <= 0 || st.State.ID != h.id {
			t.Errorf("agent got state %+v for the exec", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent never got the exec's listener fd")
	}
}
