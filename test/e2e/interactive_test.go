package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/testutil"
)

// pty opens a pseudo-terminal pair of the given size; the test types on the
// master, the client gets the slave as its terminal.
func pty(t *testing.T, rows, cols uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// screen collects what the client writes to the terminal.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the screen shows want.
func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	if msg := eventually(15*time.Second, func() string {
		if strings.Contains(s.String(), want) {
			return ""
		}
		return "the terminal shows " + fmt.Sprintf("%q", s.String())
	}); msg != "" {
		t.Fatalf("waiting for %q: %s", want, msg)
	}
}

// TestRunInteractiveTerminal types into `run -it IMAGE sh` under a real
// terminal, with the docker CLI and with berth's: a prompt, a command's
// output, the terminal's size inside, and the shell's exit code.
func TestRunInteractiveTerminal(t *testing.T) {
	d := withImage(t)
	for _, client := range []struct {
		name string
		bin  string
		env  []string
	}{
		{"docker", dockerCLI, []string{"DOCKER_HOST=" + d.Host(), "DOCKER_CONFIG=" + d.DockerConfig}},
		{"berth", testutil.Binary(t, "berth"), []string{"BERTH_HOST=" + d.Host(), "DOCKER_CONFIG=" + d.DockerConfig}},
	} {
		t.Run(client.name, func(t *testing.T) {
			master, slave := pty(t, 33, 101)
			cmd := exec.Command(client.bin, "run", "-it", "--rm", "bbox", "sh")
			cmd.Env = append(os.Environ(), client.env...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
			var out screen
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := master.Read(buf)
					out.Write(buf[:n])
					if err != nil {
						return
					}
				}
			}()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			out.waitFor(t, "# ")
			master.Write([]byte("echo answer=$((6*7)); stty size\r"))
			out.waitFor(t, "answer=42")
			out.waitFor(t, "33 101")
			master.Write([]byte("exit 3\r"))
			select {
			case err := <-done:
				if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
					t.Errorf("%s run -it: %v, want exit status 3; terminal:\n%s", client.name, err, out.String())
				}
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("%s run -it did not end after exit 3; terminal:\n%s", client.name, out.String())
			}
		})
	}
}
