package shim

import (
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Names of the files the shim keeps in its state directory.
const (
	sockName = "shim.sock"
	pidName  = "shim.pid"
	exitName = "exit.json"
)

// exitSchema is bumped whenever exit.json changes incompatibly.
const exitSchema = 1

// Exit is how a container ended.
type Exit struct {
	Pid int `json:"pid"`
	// Code is the exit status, or 128+signal when a signal killed init.
	Code      int       `json:"exitCode"`
	ExitedAt  time.Time `json:"exitedAt"`
	OOMKilled bool      `json:"oomKilled"`
}

// Statuses reported by State and ExecState.
const (
	StatusCreated = "created"
	StatusRunning = "running"
	StatusExited  = "exited"
)

// State is what the shim knows of its container (or of one exec).
type State struct {
	Pid    int    `json:"pid"`
	Status string `json:"status"`
	Exit   *Exit  `json:"exit,omitempty"` // once Status is exited
}

// AttachOpts say which streams an attach carries.
type AttachOpts struct {
	Stdin, Stdout, Stderr bool
	// DetachKeys, when the client sends them on stdin, end the attach without closing
	// the container's stdin (Docker's ctrl-p ctrl-q is {0x10, 0x11}). Empty: none.
	DetachKeys []byte
}

// ExecOpts describe a process to run in the container.
type ExecOpts struct {
	ID       string         // unique among this container's execs
	Process  *specs.Process // as in config.json; Terminal is set from the field below
	Terminal bool           // give it a pty (the stream is then raw, unless Framing says otherwise)
	Stdin    bool           // give it a stdin fed from the stream
	// Framing is the stream's: the zero value frames the output unless the process
	// has a terminal. Docker frames an exec's stream as the start request asks,
	// whatever the process got at its creation, so the two may differ.
	Framing Framing
	// NoStderr leaves the process's stderr out of the stream (Docker gives a raw exec
	// stream its stdout only). A terminal has no stderr of its own.
	NoStderr bool
	// DetachKeys, when the client sends them on stdin, end the stream and leave the
	// process running, its stdin open (Docker's ctrl-p ctrl-q is {0x10, 0x11}). Empty:
	// none.
	DetachKeys []byte
}

// Framing is how a stream carries a process's output.
type Framing string

const (
	// FramingAuto is raw with a terminal, stdcopy frames without.
	FramingAuto Framing = ""
	// FramingRaw is the output's bytes as they come, stdout and stderr mixed.
	FramingRaw Framing = "raw"
	// FramingMultiplexed is stdcopy frames; a terminal's output is stdout.
	FramingMultiplexed Framing = "multiplexed"
)

// framed reports whether the stream of a process (with a terminal or not) is framed.
func (f Framing) framed(terminal bool) (bool, error) {
	switch f {
	case FramingAuto:
		return !terminal, nil
	case FramingRaw:
		return false, nil
	case FramingMultiplexed:
		return true, nil
	}
	return false, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("unknown framing %q", string(f)))
}

// Op names.
const (
	opStart      = "start"
	opAttach     = "attach"
	opResize     = "resize"
	opWait       = "wait"
	opState      = "state"
	opExec       = "exec"
	opExecResize = "exec-resize"
	opExecState  = "exec-state"
	opExecWait   = "exec-wait"
	opShutdown   = "shutdown"
)

// request is one request line.
type request struct {
	Op string `json:"op"`
	// attach
	Stdin      bool   `json:"stdin,omitempty"`
	Stdout     bool   `json:"stdout,omitempty"`
	Stderr     bool   `json:"stderr,omitempty"`
	DetachKeys []byte `json:"detachKeys,omitempty"` // and exec
	// resize, exec-resize
	Height uint16 `json:"height,omitempty"`
	Width  uint16 `json:"width,omitempty"`
	// exec, exec-resize, exec-state, exec-wait (and resize, as an alternative to exec-resize)
	Exec     string         `json:"exec,omitempty"`
	Process  *specs.Process `json:"process,omitempty"`
	Terminal bool           `json:"terminal,omitempty"`
	Framing  Framing        `json:"framing,omitempty"`
	NoStderr bool           `json:"noStderr,omitempty"`
}

// reply is one reply line.
type reply struct {
	Error  string `json:"error,omitempty"`
	Class  string `json:"class,omitempty"`
	Pid    int    `json:"pid,omitempty"`
	Status string `json:"status,omitempty"`
	Exit   *Exit  `json:"exit,omitempty"`
}

// Error classes on the wire, so that the API can answer 404 or 409 as Docker does.
const (
	classNotFound = "not-found"
	classConflict = "conflict"
	classExists   = "already-exists"
	classInvalid  = "invalid"
	// classUnavailable: a shim of a group has no room for another container, or is
	// closing; Group.Launch starts another.
	classUnavailable = "unavailable"
)

// replyError turns an error into a reply, keeping its errdefs class.
func replyError(err error) reply {
	r := reply{Error: err.Error()}
	switch {
	case errdefs.IsNotFound(err):
		r.Class = classNotFound
	case errdefs.IsConflict(err):
		r.Class = classConflict
	case errdefs.IsAlreadyExists(err):
		r.Class = classExists
	case errdefs.IsInvalidArgument(err):
		r.Class = classInvalid
	}
	return r
}

// err turns a reply back into an error of the same class and text.
func (r reply) err() error {
	if r.Error == "" {
		return nil
	}
	switch r.Class {
	case classNotFound:
		return errdefs.ErrNotFound.WithMessage(r.Error)
	case classConflict:
		return errdefs.ErrConflict.WithMessage(r.Error)
	case classExists:
		return errdefs.ErrAlreadyExists.WithMessage(r.Error)
	case classInvalid:
		return errdefs.ErrInvalidArgument.WithMessage(r.Error)
	case classUnavailable:
		return fmt.Errorf("%s: %w", r.Error, errShimUnavailable)
	}
	return errors.New(r.Error)
}

// ErrShimGone is wrapped by the client's errors when the shim cannot be reached (its
// socket is missing or refuses connections, or it died before answering). The
// container's exit may still be recorded: see ReadExit, then Reap.
var ErrShimGone = errors.New("shim is gone")

// errShimUnavailable: a shim of a group takes no more containers (Group.Launch then
// tries another).
var errShimUnavailable = errors.New("shim unavailable")

// ErrNoExit is returned by ReadExit when no exit has been recorded.
var ErrNoExit = errors.New("no exit recorded")
