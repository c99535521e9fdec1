package e2e

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// TestAttachOverWebsocket attaches to a running container through GET
// /containers/{id}/attach/ws, as web consoles do: what the client sends is the
// program's stdin, and its stdout and stderr come back, unmultiplexed.
func TestAttachOverWebsocket(t *testing.T) {
	d := withImage(t)
	id := strings.TrimSpace(d.mustDocker("run", "-d", "-i", "bbox", "sh", "-c", "read x; echo got $x; echo oops >&2"))
	cfg, err := websocket.NewConfig("ws://localhost/v1.50/containers/"+id+"/attach/ws?stream=1&stdin=1&stdout=1&stderr=1", "http://localhost")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("unix", d.Socket)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(cfg, conn)
	if err != nil {
		t.Fatalf("websocket handshake: %v", err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := ws.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	// The output, until the container ends and the server closes the websocket.
	got, _ := io.ReadAll(ws)
	if !strings.Contains(string(got), "got hello\n") || !strings.Contains(string(got), "oops\n") {
		t.Errorf("over the websocket: %q, want got hello and oops", got)
	}
	if strings.ContainsRune(string(got), 0) {
		t.Errorf("the output carries stdcopy headers: %q", got)
	}
	if code := strings.TrimSpace(d.mustDocker("wait", id)); code != "0" {
		t.Errorf("exit code %s", code)
	}
}
