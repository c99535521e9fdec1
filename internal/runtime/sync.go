package runtime

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Message kinds exchanged between the parent and a container-side process.
const (
	msgPid     = "pid"     // child -> parent: its host pid, when the parent cannot know it
	msgConfig  = "config"  // parent -> child: what to set up
	msgGo      = "go"      // parent -> child: cgroup joined, continue
	msgMounted = "mounted" // child -> parent: mounts done, run createRuntime hooks
	msgHooked  = "hooked"  // parent -> child: hooks done, continue
	msgReady   = "ready"   // child -> parent: about to block on exec.fifo (or to exec)
	msgError   = "error"   // child -> parent: setup failed; Error says why
)

// syncMsg is one line on the sync socket.
type syncMsg struct {
	Type   string          `json:"type"`
	Error  string          `json:"error,omitempty"`
	Config json.RawMessage `json:"config,omitempty"`
	Pid    int             `json:"pid,omitempty"`
}

// syncPipe frames syncMsgs as JSON lines over one stream.
type syncPipe struct {
	r *bufio.Reader
	w io.Writer
	// file is the underlying socket on the container side, which also carries a
	// seccomp notify fd back to the parent.
	file *os.File
}

func newSyncPipe(rw io.ReadWriter) *syncPipe {
	return &syncPipe{r: bufio.NewReader(rw), w: rw}
}

func (p *syncPipe) send(m syncMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = p.w.Write(append(b, '\n'))
	return err
}

// recv reads the next message. An error message from the other side is returned as an
// error, so callers only handle the message kinds they expect.
func (p *syncPipe) recv() (syncMsg, error) {
	line, err := p.r.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return syncMsg{}, io.ErrUnexpectedEOF
		}
		return syncMsg{}, err
	}
	var m syncMsg
	if err := json.Unmarshal(line, &m); err != nil {
		return syncMsg{}, fmt.Errorf("sync: bad message: %w", err)
	}
	if m.Type == msgError {
		return m, errors.New(m.Error)
	}
	return m, nil
}

// expect reads the next message and checks its kind.
func (p *syncPipe) expect(kind string) (syncMsg, error) {
	m, err := p.recv()
	if err != nil {
		return m, err
	}
	if m.Type != kind {
		return m, fmt.Errorf("sync: expected %q, got %q", kind, m.Type)
	}
	return m, nil
}
