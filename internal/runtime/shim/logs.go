package shim

import (
	"errors"

	"github.com/berth-engine/berth/internal/logs"
)

// LogConfig names a container's log, as internal/logs opens it: its driver (as
// --log-driver names it: json-file, local, none), its file and its --log-opt
// options, and the attributes recorded with every message (berthd computes them with
// logs/logattrs, which the shim does not link).
type LogConfig struct {
	Driver string            `json:"driver,omitempty"` // "" is none
	Path   string            `json:"path,omitempty"`
	Opts   map[string]string `json:"opts,omitempty"`
	Attrs  map[string]string `json:"attrs,omitempty"`
}

// NewLogWriter opens the log writer of a container from its config; (nil, nil) means
// the output is not kept. It is logs.OpenWriter unless replaced (before Main runs).
var NewLogWriter = func(c LogConfig) (logs.Writer, error) {
	if c.Driver == "" || c.Driver == logs.None {
		return nil, nil
	}
	return logs.OpenWriter(logs.Config{Driver: c.Driver, Path: c.Path, Opts: c.Opts}, c.Attrs)
}

// procLog is where a process's output is logged: one line cutter per stream (each
// used only by that stream's reader), feeding one writer.
type procLog struct {
	w     logs.Writer
	lines [2]*logs.LineWriter // stdout, stderr
	err   error               // the first failure: later writes stop trying
}

func newProcLog(w logs.Writer) *procLog {
	if w == nil {
		return nil
	}
	return &procLog{w: w, lines: [2]*logs.LineWriter{logs.NewLineWriter(w, logs.Stdout), logs.NewLineWriter(w, logs.Stderr)}}
}

// write logs one read of stream (streamStdout or streamStderr). The line cutter
// times the bytes itself, when it gets them.
func (l *procLog) write(stream int, p []byte) {
	if l.err == nil {
		_, l.err = l.lines[stream-1].Write(p)
	}
}

// close logs unfinished lines and closes the writer, once both streams have ended.
func (l *procLog) close() error {
	errs := []error{l.err}
	for _, lw := range l.lines {
		errs = append(errs, lw.Close())
	}
	errs = append(errs, l.w.Close())
	return errors.Join(errs...)
}
