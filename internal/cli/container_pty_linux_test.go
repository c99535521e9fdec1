package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal pair: the test plays the user on master;
// berth gets slave as its stdin, stdout and stderr.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open slave: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func setWinsize(t *testing.T, f *os.File, rows, cols uint16) {
	t.Helper()
	if err := unix.IoctlSetWinsize(int(f.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
}

func canonical(t *testing.T, f *os.File) bool {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return tio.Lflag&unix.ICANON != 0
}

// terminalReader collects what berth writes to the terminal.
type terminalReader struct {
	ch  chan byte
	buf bytes.Buffer
}

func readTerminal(master *os.File) *terminalReader {
	tr := &terminalReader{ch: make(chan byte, 4096)}
	go func() {
		b := make([]byte, 256)
		for {
			n, err := master.Read(b)
			for _, c := range b[:n] {
				tr.ch <- c
			}
			if err != nil {
				close(tr.ch)
				return
			}
		}
	}()
	return tr
}

// until reads until the terminal has shown s, and returns all it showed.
func (tr *terminalReader) until(t *testing.T, s string) string {
	t.Helper()
	for !strings.Contains(tr.buf.String(), s) {
		c, ok := <-tr.ch
		if !ok {
			t.Fatalf("the terminal closed; it showed %q, not %q", tr.buf.String(), s)
		}
		tr.buf.WriteByte(c)
	}
	return tr.buf.String()
}

func TestRunInteractiveTerminal(t *testing.T) {
	master, slave := openPTY(t)
	setWinsize(t, slave, 24, 80)
	d := newFakeDaemon(t)
	// The container echoes what it reads, prefixed, until it reads "q".
	fc := d.addContainer(t, &fakeContainer{id: ctrID, tty: true, exit: 7, program: func(stdin io.Reader, stdout, _ io.Writer) {
		b := make([]byte, 64)
		for {
			n, err := stdin.Read(b)
			if n > 0 {
				fmt.Fprintf(stdout, "got:%s;", b[:n])
				if bytes.Contains(b[:n], []byte("q")) {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}})
	resizes := make(chan string, 8)
	d.mux.HandleFunc("POST /containers/"+ctrID+"/resize", func(w http.ResponseWriter, r *http.Request) {
		resizes <- r.URL.Query().Encode()
		w.WriteHeader(http.StatusOK)
	})
	exit := make(chan int, 1)
	go func() {
		exit <- Run(context.Background(), []string{"-H", d.Host(), "run", "-it", "busybox", "sh"},
			Env{Stdin: slave, Stdout: slave, Stderr: slave, Getenv: func(k string) string { return map[string]string{EnvConfigDir: t.TempDir()}[k] }})
	}()
	term := readTerminal(master)

	if got := <-resizes; got != "h=24&w=80" {
		t.Errorf("first resize %q, want the terminal's size", got)
	}
	// Keys go through one by one and are not echoed by the terminal: it is
	// in raw mode (a cooked terminal would hold "hi" until a newline and
	// show it itself).
	if canonical(t, slave) {
		t.Errorf("the terminal is still in canonical mode")
	}
	io.WriteString(master, "hi")
	if out := term.until(t, "got:"); !strings.HasPrefix(out, "got:") {
		t.Errorf("the terminal showed %q before the container's answer (echo is on)", out)
	}
	term.until(t, ";")

	setWinsize(t, slave, 30, 100)
	syscall.Kill(os.Getpid(), syscall.SIGWINCH)
	if got := <-resizes; got != "h=30&w=100" {
		t.Errorf("resize after SIGWINCH %q", got)
	}

	io.WriteString(master, "q")
	term.until(t, "got:q;")
	if code := <-exit; code != 7 {
		t.Errorf("exit %d, want the container's 7; terminal: %q", code, term.buf.String())
	}
	if !canonical(t, slave) {
		t.Errorf("the terminal was not restored")
	}
	b := fc.create.body(t)
	if got := jsonOf(field(b, "HostConfig", "ConsoleSize")); got != "[24,80]" {
		t.Errorf("ConsoleSize %s", got)
	}
	if field(b, "Tty") != true || field(b, "OpenStdin") != true || field(b, "AttachStdin") != true {
		t.Errorf("create %s", jsonOf(b))
	}
	if q := fc.attach.query(t).Encode(); q != "stderr=1&stdin=1&stdout=1&stream=1" {
		t.Errorf("attach query %s", q)
	}
}

func TestRunDetachKeys(t *testing.T) {
	master, slave := openPTY(t)
	d := newFakeDaemon(t)
	received := make(chan string, 1)
	d.addContainer(t, &fakeContainer{id: ctrID, tty: true, program: func(stdin io.Reader, stdout, _ io.Writer) {
		io.WriteString(stdout, "ready;")
		b, _ := io.ReadAll(stdin)
		received <- string(b)
	}})
	exit := make(chan int, 1)
	go func() {
		exit <- Run(context.Background(), []string{"-H", d.Host(), "run", "-it", "--detach-keys", "ctrl-a,x", "busybox", "sh"},
			Env{Stdin: slave, Stdout: slave, Stderr: slave, Getenv: func(k string) string { return map[string]string{EnvConfigDir: t.TempDir()}[k] }})
	}()
	term := readTerminal(master)
	term.until(t, "ready;")
	// ctrl-a alone is passed on once the next key is not x; ctrl-a x detaches.
	io.WriteString(master, "a\x01b\x01x")
	if code := <-exit; code != 0 {
		t.Errorf("detach: exit %d; terminal %q", code, term.buf.String())
	}
	if got := <-received; got != "a\x01b" {
		t.Errorf("the container read %q, want the keys before the sequence", got)
	}
	if !canonical(t, slave) {
		t.Errorf("the terminal was not restored")
	}
}
