package logs

import (
	"errors"
	"time"

	"github.com/containerd/errdefs"
)

// The streams a message comes from, named as Docker's API and json-file name them.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// MaxLineSize is the most content one entry holds, as Docker's 16 KiB copier buffer:
// a longer line is stored as several entries, all but the last partial.
const MaxLineSize = 16 << 10

// Message is one log entry.
//
// Line holds the bytes the program wrote. A complete line ends in "\n"; a Line
// without it is partial: the next message of the same stream continues it (a line
// longer than MaxLineSize, or the last bytes before the program stopped writing).
// This is json-file's own convention, and what `docker logs` prints.
type Message struct {
	Stream string    // Stdout or Stderr
	Line   []byte    // the content, "\n"-terminated unless partial
	Time   time.Time // when the shim read it; UTC when read back
	// Attrs are the extra attributes (log-opts labels, env, tag) recorded with the
	// message; `docker logs --details` prints them. Read only: messages of one
	// file may share the map.
	Attrs map[string]string
}

// Partial reports whether the message's line continues in the next message.
func (m *Message) Partial() bool {
	return len(m.Line) == 0 || m.Line[len(m.Line)-1] != '\n'
}

// ErrReadNotSupported is returned for a driver whose logs cannot be read back
// (none); its text is Docker's. It is an errdefs.ErrNotImplemented.
var ErrReadNotSupported = errdefs.ErrNotImplemented.WithMessage("configured logging driver does not support reading")

// errCorrupt marks bytes that are not a valid entry of the file's format.
var errCorrupt = errors.New("corrupt log entry")
