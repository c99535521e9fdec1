package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/testutil"
)

// TestExecStreams checks what an exec's stream carries, on the wire as docker-py
// reads it and through the docker CLI, as dockerd 20.10 sends it: framed as the
// start request says whatever the exec was created with, a start error as stdout,
// and the detach keys ending the stream.
func TestExecStreams(t *testing.T) {
	d := withImage(t)
	d.mustDocker("run", "-d", "-i", "--name", "box", "bbox", "cat")
	const outErr = `"Cmd":["sh","-c","echo out; echo err >&2"],"AttachStdout":true,"AttachStderr":true`

	t.Run("a terminal's output started without one comes as stdout frames", func(t *testing.T) {
		id := d.execCreate(t, "box", `{`+outErr+`,"Tty":true}`)
		_, br := d.execStart(t, id, `{"Tty":false}`)
		var out strings.Builder
		for {
			stream, p, err := testutil.ReadFrame(br)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("after %q: %v", out.String(), err)
			}
			if stream != 1 {
				t.Fatalf("a frame of stream %d (%q), want stdout only", stream, p)
			}
			out.Write(p)
		}
		if out.String() != "out\r\nerr\r\n" {
			t.Errorf("the terminal's output: %q, want \"out\\r\\nerr\\r\\n\"", out.String())
		}
	})

	t.Run("a process without a terminal started with one streams its stdout raw", func(t *testing.T) {
		id := d.execCreate(t, "box", `{`+outErr+`,"Tty":false}`)
		_, br := d.execStart(t, id, `{"Tty":true}`)
		if out, err := io.ReadAll(br); err != nil || string(out) != "out\n" {
			t.Errorf("the stream: %q, %v; want \"out\\n\" (stderr is not sent)", out, err)
		}
	})

	t.Run("a start error is written as stdout", func(t *testing.T) {
		out, errOut, code := d.docker("exec", "box", "/nosuch")
		if !strings.Contains(out, "/nosuch") || errOut != "" || code != 126 {
			t.Errorf("docker exec box /nosuch: exit %d, stdout %q, stderr %q; want exit 126 (dockerd 20.10's) and the error on stdout", code, out, errOut)
		}
	})

	for _, tc := range []struct {
		name, keysField string
		keys            string
	}{
		{"the default detach keys end the stream and leave the process running", ``, "\x10\x11"},
		{"the exec's own detach keys end the stream and leave the process running", `,"DetachKeys":"ctrl-p"`, "\x10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := d.execCreate(t, "box", `{"Cmd":["cat"],"Tty":true,"AttachStdin":true,"AttachStdout":true`+tc.keysField+`}`)
			conn, br := d.execStart(t, id, `{"Tty":true}`)
			conn.Write([]byte("hi\r"))
			var seen []byte
			buf := make([]byte, 256)
			for strings.Count(string(seen), "hi\r\n") < 2 { // the terminal's echo, then cat's
				n, err := br.Read(buf)
				if err != nil {
					t.Fatalf("before detaching the stream gave %q, then: %v", seen, err)
				}
				seen = append(seen, buf[:n]...)
			}
			conn.Write([]byte(tc.keys))
			if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
				t.Fatalf("after the detach keys the stream gave %q, %v; want its end", rest, err)
			}
			st := d.execInspect(t, id)
			if !st.Running || st.Pid == 0 || st.ExitCode != nil {
				t.Fatalf("after detaching, exec inspect says %+v; want it running", st)
			}
			if err := syscall.Kill(st.Pid, 0); err != nil {
				t.Fatalf("the process %d after detaching: %v", st.Pid, err)
			}
			// Its exit is recorded when it comes.
			syscall.Kill(st.Pid, syscall.SIGKILL)
			if msg := eventually(15*time.Second, func() string {
				if st = d.execInspect(t, id); st.Running || st.ExitCode == nil || *st.ExitCode != 137 {
					return fmt.Sprintf("exec inspect says %+v", st)
				}
				return ""
			}); msg != "" {
				t.Errorf("after killing the detached process: %s; want it exited 137", msg)
			}
		})
	}
}

// execCreate creates an exec in ctr from a JSON body and returns its id.
func (d *daemon) execCreate(t *testing.T, ctr, body string) string {
	t.Helper()
	resp, err := d.client().Post("http://berth/v1.41/containers/"+ctr+"/exec", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusCreated || r.ID == "" {
		t.Fatalf("exec create %s: status %d, %+v, %v", body, resp.StatusCode, r, err)
	}
	return r.ID
}

// execState is what the tests read of exec inspect.
type execState struct {
	Running  bool
	ExitCode *int
	Pid      int
}

func (d *daemon) execInspect(t *testing.T, id string) execState {
	t.Helper()
	resp, err := d.client().Get("http://berth/v1.41/exec/" + id + "/json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st execState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("exec inspect %s: status %d, %v", id, resp.StatusCode, err)
	}
	return st
}

// execStart starts an exec as docker-py does (asking to upgrade the connection)
// and returns the connection and a reader of the stream after the answer's head.
// The stream must end within a while, or reads fail.
func (d *daemon) execStart(t *testing.T, id, body string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("unix", d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST /v1.41/exec/%s/start HTTP/1.1\r\nHost: berth\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", id, len(body), body)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("exec start %s: %v", body, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("exec start %s: status %d %s", body, resp.StatusCode, b)
	}
	return conn, br
}
