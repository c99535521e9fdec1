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

// openPTY returns a new pty pair, as a terminal a user would run berth-runtime in.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile("/dev/pts/"+itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func TestRunInATerminalRelaysIt(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.Args = []string{"/testinit", "tty"}
	})
	master, slave := openPTY(t)
	unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120})
	cmd := h.command("run", "--bundle", h.bundle, h.id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 1024)
		for !strings.Contains(b.String(), "name=") {
			n, err := master.Read(buf)
			if err != nil {
				break
			}
			b.Write(buf[:n])
		}
		out <- b.String()
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run -t: %v", err)
	}
	select {
	case got := <-out:
		if !strings.Contains(got, "0=true 1=true 2=true name=/dev/pts/0") {
			t.Errorf("through the relayed terminal: %q, want the container's own pty", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing came through the terminal")
	}
}

func TestNoPivot(t *testing.T) {
	h := newHarness(t)
	h.edit(func(s *specs.Spec) { s.Process.Args = []string{"/testinit", "ls", "/"} })
	r := h.runtime("run", "--no-pivot", "--bundle", h.bundle, h.id)
	if r.code != 0 || !strings.Contains(r.stdout, "testinit") {
		t.Errorf("run --no-pivot: exit %d, / holds %q", r.code, r.stdout)
	}
}
