package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A seccomp filter with SCMP_ACT_NOTIFY yields a listener fd in the container's last
// process before execve, after pivot_root, where the host's listenerPath is out of
// reach. The process sends the fd back over the connection it already has to a host-side
// runtime command (start, or the exec parent), which passes it on to the listener.

// sendFD sends fd over the unix socket sock with a one-line tag.
func sendFD(sock *os.File, fd int, tag string) error {
	return unix.Sendmsg(int(sock.Fd()), []byte(tag+"\n"), unix.UnixRights(fd), nil, 0)
}

// readReply reads what a container-side process sends until it closes the connection
// (close-on-exec: it runs). It returns the text it sent (an error message, or empty),
// and passes any seccomp notify fd to the spec's listener.
func readReply(conn *os.File, spec *specs.Spec, state specs.State, pid int) (string, error) {
	var text strings.Builder
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := unix.Recvmsg(int(conn.Fd()), buf, oob, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return "", err
		}
		if oobn > 0 {
			fds, err := parseRights(oob[:oobn])
			if err != nil {
				return "", err
			}
			for _, fd := range fds {
				err = forwardSeccompFD(spec.Linux.Seccomp, fd, state, pid)
				unix.Close(fd)
				if err != nil {
					return "", err
				}
			}
			continue // the tag that came with the fd is not part of the reply
		}
		if n == 0 {
			return strings.TrimSpace(text.String()), nil
		}
		text.Write(buf[:n])
	}
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range msgs {
		f, err := unix.ParseUnixRights(&msgs[i])
		if err != nil {
			return nil, err
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

// forwardSeccompFD sends the listener fd and the container process state to the
// seccomp agent at listenerPath, as runtime-spec describes.
func forwardSeccompFD(sc *specs.LinuxSeccomp, fd int, state specs.State, pid int) error {
	if sc == nil || sc.ListenerPath == "" {
		return errors.New("seccomp notify fd received but linux.seccomp.listenerPath is not set")
	}
	msg, err := json.Marshal(specs.ContainerProcessState{
		Version:  specs.Version,
		Fds:      []string{specs.SeccompFdName},
		Pid:      pid,
		Metadata: sc.ListenerMetadata,
		State:    state,
	})
	if err != nil {
		return err
	}
	sock, err := dialUnix(sc.ListenerPath)
	if err != nil {
		return fmt.Errorf("seccomp listener %s: %w", sc.ListenerPath, err)
	}
	defer sock.Close()
	if err := unix.Sendmsg(int(sock.Fd()), msg, unix.UnixRights(fd), nil, 0); err != nil {
		return fmt.Errorf("seccomp listener %s: %w", sc.ListenerPath, err)
	}
	return nil
}
