package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/atomicfile"
)

// stateSchema is bumped whenever State changes incompatibly.
const stateSchema = 1

// Status values, as runtime-spec names them.
const (
	StatusCreating = "creating"
	StatusCreated  = "created"
	StatusRunning  = "running"
	StatusPaused   = "paused"
	StatusStopped  = "stopped"
)

// ErrNotExist and ErrExist are the error classes for a missing or duplicate container.
var (
	ErrNotExist = errors.New("container does not exist")
	ErrExist    = errors.New("container with given ID already exists")
)

// State is a container's record on disk.
type State struct {
	Schema      int               `json:"schema"`
	ID          string            `json:"id"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"` // init's start time, to detect pid reuse
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	CgroupPaths map[string]string `json:"cgroupPaths,omitempty"`
	Spec        *specs.Spec       `json:"spec"`
}

// Store keeps container records under one root directory.
type Store struct{ Root string }

// CheckID rejects ids that could escape the root or confuse other tools: runc's rule,
// letters, digits and _ + - . only.
func CheckID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	valid := len(id) <= 1024 && id != "." && id != ".."
	for i := 0; i < len(id) && valid; i++ {
		c := id[i]
		valid = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '+' || c == '-' || c == '.'
	}
	if !valid {
		return fmt.Errorf("invalid container id %q: use letters, digits and _ + - . only", id)
	}
	return nil
}

func (s Store) dir(id string) string { return filepath.Join(s.Root, id) }

// startSockName is the socket init listens on until start; it exists only while the
// container is "created".
const startSockName = "start.sock"

func (s Store) startSock(id string) string { return filepath.Join(s.dir(id), startSockName) }

// Load reads the record of id.
func (s Store) Load(id string) (*State, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.dir(id), "state.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("container %q: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("container %q: corrupt state: %w", id, err)
	}
	if st.Schema != stateSchema {
		return nil, fmt.Errorf("container %q: state schema %d, this runtime reads %d", id, st.Schema, stateSchema)
	}
	return &st, nil
}

// save writes the record atomically.
func (s Store) save(st *State) error {
	st.Schema = stateSchema
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// Volatile: a container does not outlive a reboot, so neither need its record.
	return atomicfile.WriteVolatile(filepath.Join(s.dir(st.ID), "state.json"), b, 0o600)
}

// List returns the ids of every container with a record, sorted.
func (s Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			if _, err := os.Stat(filepath.Join(s.Root, e.Name(), "state.json")); err == nil {
				ids = append(ids, e.Name())
			}
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// alive reports whether st's init still runs (same pid and same start time).
func (st *State) alive() bool {
	if st.Pid <= 0 {
		return false
	}
	start, state, err := procStat(st.Pid)
	if err != nil || start != st.PidStart {
		return false
	}
	return state != 'Z' && state != 'X'
}

// procStat returns a process's start time (clock ticks since boot) and state letter.
func procStat(pid int) (uint64, byte, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, 0, err
	}
	return start, f[0][0], nil
}

// OCIState is the state as runtime-spec and runc print it.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

// ociState renders st with the given status; a stopped container reports pid 0.
func (st *State) ociState(status string) OCIState {
	o := OCIState{
		OCIVersion: specs.Version,
		ID:         st.ID,
		Pid:        st.Pid,
		Status:     status,
		Bundle:     st.Bundle,
		Rootfs:     st.Rootfs,
		Created:    st.Created,
		Owner:      st.Owner,
	}
	if st.Spec != nil {
		o.Annotations = st.Spec.Annotations
	}
	if status == StatusStopped {
		o.Pid = 0
	}
	return o
}

// ociSpecState is the state in runtime-spec's own schema (for hooks and seccomp agents).
func (st *State) ociSpecState(status string) specs.State {
	o := st.ociState(status)
	if status == StatusStopped {
		o.Pid = st.Pid // poststop hooks still want to know which process it was
	}
	return specs.State{
		Version:     o.OCIVersion,
		ID:          o.ID,
		Status:      specs.ContainerState(o.Status),
		Pid:         o.Pid,
		Bundle:      o.Bundle,
		Annotations: o.Annotations,
	}
}

// hookState is the state given to hooks on stdin.
func (st *State) hookState(status string) []byte {
	b, _ := json.Marshal(st.ociSpecState(status))
	return b
}
