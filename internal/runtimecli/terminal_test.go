package runtimecli_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// consoleSocket listens where runc's --console-socket protocol expects a client, and
// returns the pty master that the runtime sends.
func consoleSocket(t *testing.T) (path string, master func() *os.File) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan *os.File, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			got <- nil
			return
		}
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			got <- nil
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		if len(fds) != 1 {
			got <- nil
			return
		}
		got <- os.NewFile(uintptr(fds[0]), "pty-master")
	}()
	return path, func() *os.File {
		select {
		case f := <-got:
			if f == nil {
				t.Fatal("no pty master received on the console socket")
			}
			return f
		case <-time.After(10 * time.Second):
			t.Fatal("no pty master received on the console socket")
		}
		return nil
	}
}

func TestTerminalThroughConsoleSocket(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"/testinit", "tty"}
	})
	h.fails("console-socket", "create", "--bundle", h.bundle, h.id)
	sock, master := consoleSocket(t)
	h.ok("create", "--bundle", h.bundle, "--console-socket", sock, h.id)
	m := master()
	defer m.Close()
	h.ok("start", h.id)
	var out bytes.Buffer
	io.Copy(&out, m) // ends with EIO once the program has exited and closed the pty
	got := strings.TrimSpace(strings.ReplaceAll(out.String(), "\r", ""))
	if !strings.HasPrefix(got, "0=true 1=true 2=true name=/dev/pts/") {
		t.Errorf("tty inside the container: %q, want stdio on a pty", got)
	}
}

func TestExecWithTerminal(t *testing.T) {
	h := newHarness(t)
	h.createRunning()
	sock, master := consoleSocket(t)
	h.ok("exec", "--tty", "--console-socket", sock, "--detach", h.id, "/testinit", "tty")
	m := master()
	defer m.Close()
	var out bytes.Buffer
	io.Copy(&out, m)
	if got := strings.TrimSpace(strings.ReplaceAll(out.String(), "\r", "")); !strings.HasPrefix(got, "0=true 1=true 2=true") {
		t.Errorf("exec -t: %q, want stdio on a pty", got)
	}
}
