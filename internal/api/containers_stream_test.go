package api

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// serveContainers runs a server with a fake container backend on a unix
// socket and returns the socket's path.
func serveContainers(t *testing.T) (*Server, *fakeContainers, string) {
	t.Helper()
	s, f := newContainerServer(t)
	sock := filepath.Join(t.TempDir(), "api.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Shutdown(context.Background())
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, f, sock
}

func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
}

// within fails the test if ch yields nothing for a long while (a hang, not a timing assumption).
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: nothing after 20s", what)
		panic("unreachable")
	}
}

// hijackRequest sends a raw HTTP request (plus extra bytes right behind it, as
// stdin) and reads the answer's head.
func hijackRequest(t *testing.T, sock, method, target, body, extra string, upgrade bool) (*net.UnixConn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	conn := c.(*net.UnixConn)
	t.Cleanup(func() { conn.Close() })
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: berth\r\n", method, target)
	if upgrade {
		req += "Connection: Upgrade\r\nUpgrade: tcp\r\n"
	}
	if body != "" {
		req += fmt.Sprintf("Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	if _, err := io.WriteString(conn, req+"\r\n"+body+extra); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return conn, br, resp
}

// readFrame reads one stdcopy frame: the stream number and the payload.
func readFrame(t *testing.T, r io.Reader) (byte, string) {
	t.Helper()
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("frame header: %v", err)
	}
	p := make([]byte, binary.BigEndian.Uint32(h[4:]))
	if _, err := io.ReadFull(r, p); err != nil {
		t.Fatalf("frame payload: %v", err)
	}
	return h[0], string(p)
}

func expectFrames(t *testing.T, r io.Reader, want ...string) {
	t.Helper()
	for _, w := range want {
		stream, p := readFrame(t, r)
		if got := fmt.Sprintf("%d %s", stream, p); got != w {
			t.Fatalf("frame %q, want %q", got, w)
		}
	}
}

func expectEOF(t *testing.T, r io.Reader) {
	t.Helper()
	if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
		t.Fatalf("after the stream: %q, %v", rest, err)
	}
}

// The stream's first bytes wait until the client has read the answer's head:
// a client that reads the head with one big read and then reads the socket
// itself (docker-py) must not find them in that first read.
func TestStreamWaitsForTheHeadToBeRead(t *testing.T) {
	defer func(w time.Duration) { headReadWait = w }(headReadWait)
	headReadWait = time.Minute // so that only the client's read can release the stream
	_, _, sock := serveContainers(t)
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The backend echoes "early" at once: it is there before the client reads.
	io.WriteString(c, "POST /v1.50/containers/web/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: berth\r\n"+
		"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\nearly\n")
	time.Sleep(100 * time.Millisecond) // let a server that does not wait write everything
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if head := string(buf[:n]); !strings.HasPrefix(head, "HTTP/1.1 101 ") || !strings.HasSuffix(head, "\r\n\r\n") {
		t.Fatalf("first read %q: want the head alone", head)
	}
	expectFrames(t, c, "1 out:early\n")
}

func TestAttachHijacksTheConnection(t *testing.T) {
	_, f, sock := serveContainers(t)
	// "early" travels in the same write as the request: it must reach the
	// backend as stdin, not be lost in net/http's buffer.
	conn, br, resp := hijackRequest(t, sock, "POST", "/v1.50/containers/web/attach?stream=1&stdin=1&stdout=1&stderr=1&detachKeys=ctrl-a",
		"", "early\n", true)
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" ||
		resp.Header.Get("Connection") != "Upgrade" || resp.Header.Get("Upgrade") != "tcp" || resp.Header.Get("Api-Version") != "1.50" {
		t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
	}
	if call := f.lastCall(); call != "attach web stream=true logs=false stdin=true stdout=true stderr=true keys=ctrl-a" {
		t.Errorf("call %q", call)
	}
	expectFrames(t, br, "1 out:early\n", "2 err:early\n")
	io.WriteString(conn, "hello\n")
	expectFrames(t, br, "1 out:hello\n", "2 err:hello\n")
	// The client's stdin ends; the output still comes, then the stream's end.
	conn.CloseWrite()
	expectFrames(t, br, "1 bye\n")
	expectEOF(t, br)
}

func TestAttachTTYAndOlderClients(t *testing.T) {
	_, _, sock := serveContainers(t)
	conn, br, resp := hijackRequest(t, sock, "POST", "/v1.50/containers/tty/attach?stream=1&stdin=1&stdout=1", "", "", true)
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Fatalf("tty answer %d %v", resp.StatusCode, resp.Header)
	}
	io.WriteString(conn, "x\n")
	conn.CloseWrite()
	if out, _ := io.ReadAll(br); string(out) != "out:x\nerr:x\nbye\n" {
		t.Fatalf("tty stream %q", out)
	}

	// Before 1.42 the multiplexed stream is called raw.
	conn, br, resp = hijackRequest(t, sock, "POST", "/v1.41/containers/web/attach?stream=1&stdin=1&stdout=1", "", "", true)
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Fatalf("1.41 answer %d %v", resp.StatusCode, resp.Header)
	}
	conn.CloseWrite()
	expectFrames(t, br, "1 bye\n")

	// A client that does not ask to upgrade gets a 200 and the stream as its body.
	conn, _, resp = hijackRequest(t, sock, "POST", "/v1.50/containers/web/attach?stream=1&stdin=1&stdout=1", "", "", false)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" || resp.Header.Get("Upgrade") != "" {
		t.Fatalf("no upgrade: %d %v", resp.StatusCode, resp.Header)
	}
	conn.CloseWrite()
	expectFrames(t, resp.Body, "1 bye\n")
}

// TestAttachClientHangupEndsTheStream: a backend that does not read stdin
// learns through its context that the client left.
func TestAttachClientHangupEndsTheStream(t *testing.T) {
	_, f, sock := serveContainers(t)
	conn, _, resp := hijackRequest(t, sock, "POST", "/v1.50/containers/web/attach?stream=1&stdout=1", "", "", true)
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	conn.Close()
	if err := within(t, f.ended, "the backend's context after the client hung up"); err != context.Canceled {
		t.Fatalf("context ended with %v", err)
	}
}

func TestAttachEndsAtShutdown(t *testing.T) {
	s, _, sock := serveContainers(t)
	_, br, resp := hijackRequest(t, sock, "POST", "/v1.50/containers/web/attach?stream=1&stdin=1&stdout=1", "", "", true)
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(br); done <- err }()
	if err := within(t, done, "the stream's end at shutdown"); err != nil {
		t.Fatalf("stream ended with %v", err)
	}
}

func TestExecStartStreams(t *testing.T) {
	_, f, sock := serveContainers(t)
	conn, br, resp := hijackRequest(t, sock, "POST", "/v1.50/exec/e1/start", `{"Tty":false,"ConsoleSize":[24,80]}`, "", true)
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
		t.Fatalf("answer %d %v", resp.StatusCode, resp.Header)
	}
	// No console without a TTY.
	if call := f.lastCall(); call != "exec-start e1 detach=false tty=false size=<nil>" {
		t.Errorf("call %q", call)
	}
	io.WriteString(conn, "a\nfail\n")
	// The process's error after the stream began is written into it, as stdout.
	expectFrames(t, br, "1 out:a\n", "2 err:a\n", "1 the process failed\r\n")
	expectEOF(t, br)

	conn, br, resp = hijackRequest(t, sock, "POST", "/v1.50/exec/e1/start", `{"Tty":true,"ConsoleSize":[24,80]}`, "", true)
	if resp.StatusCode != 101 || resp.Header.Get("Content-Type") != "application/vnd.docker.raw-stream" {
		t.Fatalf("tty answer %d %v", resp.StatusCode, resp.Header)
	}
	if call := f.lastCall(); call != "exec-start e1 detach=false tty=true size=&[24 80]" {
		t.Errorf("call %q", call)
	}
	conn.CloseWrite()
	if out, _ := io.ReadAll(br); string(out) != "bye\n" {
		t.Fatalf("tty exec %q", out)
	}
}

func TestWaitSendsHeadersBeforeTheResult(t *testing.T) {
	_, f, sock := serveContainers(t)
	resp, err := unixClient(sock).Post("http://berth/v1.50/containers/web/wait?condition=next-exit", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The answer's head is here although the container has not exited: the
	// backend's channel is still empty.
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || len(f.waitC) != 0 {
		t.Fatalf("wait: %d %v", resp.StatusCode, resp.Header)
	}
	if call := f.lastCall(); call != "wait web next-exit" {
		t.Errorf("call %q", call)
	}
	f.waitC <- container.WaitResponse{StatusCode: 3, Error: &container.WaitExitError{Message: "boom"}}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != `{"Error":{"Message":"boom"},"StatusCode":3}`+"\n" {
		t.Fatalf("wait body %q %v", body, err)
	}

	s, f := newContainerServer(t)
	f.waitC <- container.WaitResponse{StatusCode: 0}
	rec := send(t, s, "POST", "/v1.50/containers/web/wait", "", nil)
	if rec.Code != 200 || rec.Body.String() != `{"StatusCode":0}`+"\n" || f.lastCall() != "wait web not-running" {
		t.Fatalf("wait: %d %q", rec.Code, rec.Body)
	}
	// Before 1.30 there was no condition.
	f.waitC <- container.WaitResponse{StatusCode: 0}
	send(t, s, "POST", "/v1.29/containers/web/wait?condition=removed", "", nil)
	if call := f.lastCall(); call != "wait web not-running" {
		t.Fatalf("1.29 wait %q", call)
	}
}

func TestLogsStreamAsWritten(t *testing.T) {
	_, f, sock := serveContainers(t)
	client := unixClient(sock)
	resp, err := client.Get("http://berth/v1.50/containers/web/logs?follow=1&stdout=1&stderr=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.docker.multiplexed-stream" {
		t.Fatalf("logs: %d %v", resp.StatusCode, resp.Header)
	}
	// Each write reaches the client while the backend still runs.
	f.streamC <- "line 1\n"
	expectFrames(t, resp.Body, "1 line 1\n")
	f.streamC <- "line 2\n"
	expectFrames(t, resp.Body, "1 line 2\n")
	resp.Body.Close()
	if err := within(t, f.ended, "the logs' context after the client left"); err != context.Canceled {
		t.Fatalf("context ended with %v", err)
	}

	for _, c := range []struct{ target, contentType string }{
		{"/v1.50/containers/tty/logs?stdout=1", "application/vnd.docker.raw-stream"},
		{"/v1.41/containers/web/logs?stdout=1", "application/vnd.docker.raw-stream"},
	} {
		resp, err := client.Get("http://berth" + c.target)
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != c.contentType {
			t.Errorf("%s: Content-Type %q", c.target, ct)
		}
		resp.Body.Close()
		within(t, f.ended, "the logs' context after the client left")
	}
}

func TestLogsQuery(t *testing.T) {
	s, f := newContainerServer(t)
	close(f.streamC)
	for _, c := range []struct{ query, call string }{
		{"stdout=1", "logs web follow=false stdout=true stderr=false since=0 until=0 ts=false tail=-1 details=false"},
		{"stderr=1&follow=1&timestamps=1&details=1&tail=10&since=1700000000.5&until=1700000001",
			"logs web follow=true stdout=false stderr=true since=1700000000500000000 until=1700000001000000000 ts=true tail=10 details=true"},
		{"stdout=1&tail=all&until=0&since=0", "logs web follow=false stdout=true stderr=false since=0 until=0 ts=false tail=-1 details=false"},
		{"stdout=1&tail=0", "logs web follow=false stdout=true stderr=false since=0 until=0 ts=false tail=0 details=false"},
		{"stdout=1&tail=lots", "logs web follow=false stdout=true stderr=false since=0 until=0 ts=false tail=-1 details=false"},
	} {
		rec := send(t, s, "GET", "/v1.50/containers/web/logs?"+c.query, "", nil)
		if got := f.lastCall(); rec.Code != 200 || got != c.call {
			t.Errorf("%s:\n got %d %q\nwant %q", c.query, rec.Code, got, c.call)
		}
	}
}

func TestStats(t *testing.T) {
	s, f := newContainerServer(t)
	rec := send(t, s, "GET", "/v1.50/containers/web/stats?stream=false&one-shot=1", "", nil)
	var st container.StatsResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 || st.Name != "/web" ||
		rec.Header().Get("Content-Type") != "application/json" || f.lastCall() != "stats web stream=false oneshot=true" {
		t.Fatalf("stats: %d %q (%v)", rec.Code, rec.Body, err)
	}
	send(t, s, "GET", "/v1.40/containers/web/stats?stream=0&one-shot=1", "", nil)
	if call := f.lastCall(); call != "stats web stream=false oneshot=false" {
		t.Errorf("1.40 stats %q", call)
	}

	_, f, sock := serveContainers(t)
	go func() { f.streamC <- "s1" }() // the head goes out with the first sample
	resp, err := unixClient(sock).Get("http://berth/v1.50/containers/web/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	for _, want := range []string{"s1", "s2"} {
		if want == "s2" {
			f.streamC <- "s2"
		}
		line, err := lines.ReadString('\n')
		if err != nil || !strings.Contains(line, `"name":"`+want+`"`) {
			t.Fatalf("sample %q, %v; want %s", line, err, want)
		}
	}
	resp.Body.Close()
	if err := within(t, f.ended, "the stats' context after the client left"); err != context.Canceled {
		t.Fatalf("context ended with %v", err)
	}
}
