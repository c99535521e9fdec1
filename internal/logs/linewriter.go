package logs

import (
	"bytes"
	"time"
)

// LineWriter turns one stream's bytes (a container's stdout or stderr, as the shim
// reads them from the pipe) into messages, as Docker's log copier does:
//
//   - each "\n"-terminated line is one message, timed when it was read;
//   - bytes without a newline wait for the rest of their line, but once
//     MaxLineSize of them are waiting they go out as a partial message; the rest
//     of the line follows in more messages, all with the first one's time;
//   - Close sends what is still waiting as a final line, with a "\n" added (as
//     Docker marks the last piece of a partial line, which json-file ends with "\n").
//
// All messages cut from one Write go to the Writer in one LogBatch when it has
// that ability. A LineWriter is for one goroutine; give each stream its own.
type LineWriter struct {
	w      Writer
	stream string
	now    func() time.Time
	pend   []byte    // the start of an unfinished line
	partT  time.Time // time of the current line's first partial message
	inPart bool      // a partial message of the current line was sent
	msgs   []Message
}

// NewLineWriter returns a LineWriter sending stream's messages (Stdout or Stderr) to w.
func NewLineWriter(w Writer, stream string) *LineWriter {
	return &LineWriter{w: w, stream: stream, now: time.Now}
}

// Write cuts p into messages and stores them; it reports len(p) unless the Writer failed.
func (l *LineWriter) Write(p []byte) (int, error) {
	t := l.now().UTC()
	n := len(p)
	l.msgs = l.msgs[:0]
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i >= 0 && len(l.pend)+i <= MaxLineSize {
			l.add(l.join(p[:i+1]), false, t)
			p = p[i+1:]
			continue
		}
		room := MaxLineSize - len(l.pend)
		if i < 0 && len(p) < room {
			l.pend = append(l.pend, p...)
			break
		}
		// The line outgrows MaxLineSize: send MaxLineSize bytes of it as partial.
		l.add(l.join(p[:room]), true, t)
		p = p[room:]
	}
	return n, l.flush()
}

// join returns the pending bytes followed by b; b itself when nothing is pending.
// (b aliases the caller's buffer, which is fine until flush returns.)
func (l *LineWriter) join(b []byte) []byte {
	if len(l.pend) == 0 {
		return b
	}
	line := make([]byte, 0, len(l.pend)+len(b))
	line = append(append(line, l.pend...), b...)
	l.pend = l.pend[:0]
	return line
}

func (l *LineWriter) add(line []byte, partial bool, t time.Time) {
	if l.inPart {
		t = l.partT
	} else if partial {
		l.partT = t
	}
	l.inPart = partial
	l.msgs = append(l.msgs, Message{Stream: l.stream, Line: line, Time: t})
}

func (l *LineWriter) flush() error {
	if len(l.msgs) == 0 {
		return nil
	}
	msgs := l.msgs
	l.msgs = l.msgs[:0]
	if bw, ok := l.w.(BatchWriter); ok {
		return bw.LogBatch(msgs)
	}
	for _, m := range msgs {
		if err := l.w.Log(m); err != nil {
			return err
		}
	}
	return nil
}

// Close sends an unfinished line, ended with "\n". It does not close the Writer.
func (l *LineWriter) Close() error {
	l.msgs = l.msgs[:0]
	if len(l.pend) > 0 {
		line := append(l.join(nil), '\n')
		l.add(line, false, l.now().UTC())
	}
	l.pend = nil
	return l.flush()
}
