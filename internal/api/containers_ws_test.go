package api

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// dialWebsocket opens a websocket to path on the API socket.
func dialWebsocket(t *testing.T, sock, path string) (*websocket.Conn, error) {
	t.Helper()
	cfg, err := websocket.NewConfig("ws://localhost"+path, "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetDeadline(time.Now().Add(10 * time.Second))
	return ws, nil
}

// receive reads one data frame and its type (text or binary).
func receive(t *testing.T, ws *websocket.Conn) (string, byte) {
	t.Helper()
	for {
		fr, err := ws.NewFrameReader()
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		frame, err := ws.HandleFrame(fr) // nil for a control frame it answered
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if frame == nil {
			continue
		}
		b, err := io.ReadAll(frame)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		return string(b), frame.PayloadType()
	}
}

func TestAttachWebsocketUnmultiplexed(t *testing.T) {
	_, f, sock := serveContainers(t)
	ws, err := dialWebsocket(t, sock, "/v1.50/containers/web/attach/ws?stream=1&stdin=1&stdout=1&stderr=1")
	if err != nil {
		t.Fatal(err)
	}
	if err := websocket.Message.Send(ws, []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	// Without a TTY the backend writes stdcopy frames; the websocket carries their
	// payloads only, in binary messages.
	for _, want := range []string{"out:hello\n", "err:hello\n"} {
		if got, kind := receive(t, ws); got != want || kind != websocket.BinaryFrame {
			t.Errorf("message %q (frame type %d), want %q in a binary frame", got, kind, want)
		}
	}
	if call := f.lastCall(); call != "attach web stream=true logs=false stdin=true stdout=true stderr=true keys=" {
		t.Errorf("call %q", call)
	}
}

func TestAttachWebsocketOldClientsGetText(t *testing.T) {
	_, _, sock := serveContainers(t)
	ws, err := dialWebsocket(t, sock, "/v1.27/containers/tty/attach/ws?stream=1&stdin=1&stdout=1")
	if err != nil {
		t.Fatal(err)
	}
	websocket.Message.Send(ws, "x\n")
	if got, kind := receive(t, ws); got != "out:x\n" || kind != websocket.TextFrame {
		t.Errorf("message %q (frame type %d), want the TTY's output in a text frame", got, kind)
	}
}

func TestAttachWebsocketRefusals(t *testing.T) {
	_, _, sock := serveContainers(t)
	// An unknown container is an ordinary answer, before any handshake.
	if _, err := dialWebsocket(t, sock, "/v1.50/containers/nosuch/attach/ws?stream=1&stdout=1"); err == nil {
		t.Fatal("a websocket to a missing container was accepted")
	}
	client := &http.Client{Transport: &http.Transport{Dial: func(string, string) (net.Conn, error) { return net.Dial("unix", sock) }}}
	resp, err := client.Get("http://localhost/v1.50/containers/nosuch/attach/ws?stream=1&stdout=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing container: %d, want 404", resp.StatusCode)
	}
	// A plain GET to a container that exists is not a handshake: refused, no stream.
	resp, err = client.Get("http://localhost/v1.50/containers/web/attach/ws?stream=1&stdout=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a GET without the websocket handshake: %d, want 400", resp.StatusCode)
	}
}

func TestUnframerPassesPayloadsAcrossSplitWrites(t *testing.T) {
	var out bytes.Buffer
	u := &unframer{w: &out}
	stream := append(frameHeader(1, 5), "hello"...)
	stream = append(stream, frameHeader(2, 3)...)
	stream = append(stream, "abc"...)
	stream = append(stream, frameHeader(1, 0)...)
	for _, n := range []int{3, 7, 1, 2, 100} { // pieces cutting headers and payloads
		if len(stream) == 0 {
			break
		}
		k := min(n, len(stream))
		if w, err := u.Write(stream[:k]); w != k || err != nil {
			t.Fatalf("Write = %d, %v", w, err)
		}
		stream = stream[k:]
	}
	if out.String() != "helloabc" {
		t.Errorf("payloads %q, want %q", out.String(), "helloabc")
	}
}
