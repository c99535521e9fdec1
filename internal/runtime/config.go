package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/runtime/seccomp"
)

// LoadSpec reads and validates bundle/config.json.
func LoadSpec(bundle string) (*specs.Spec, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bundle %s: config.json: no such file", bundle)
	}
	if err != nil {
		return nil, err
	}
	var spec specs.Spec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("bundle %s: config.json is not valid JSON: %w", bundle, err)
	}
	if err := validate(&spec); err != nil {
		return nil, err
	}
	return &spec, nil
}

// rootfsPath resolves root.path against the bundle and checks that it is a directory.
func rootfsPath(bundle string, spec *specs.Spec) (string, error) {
	p := spec.Root.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(bundle, p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("rootfs %s does not exist", p)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("rootfs %s is not a directory", p)
	}
	return p, nil
}

// initConfig is what the parent sends a container-side process.
type initConfig struct {
	Spec        *specs.Spec    `json:"spec"`
	Process     *specs.Process `json:"process"` // the process to exec: spec.Process for init
	Bundle      string         `json:"bundle"`
	Rootfs      string         `json:"rootfs"`
	NoPivot     bool           `json:"noPivot,omitempty"`
	PreserveFDs int            `json:"preserveFds,omitempty"`
	StartFD     int            `json:"startFd"`   // listening start socket (init only)
	ConsoleFD   int            `json:"consoleFd"` // socket to send the pty master on, or -1
	UserNS      bool           `json:"userNs,omitempty"`
	JoinUserNS  bool           `json:"joinUserNs,omitempty"` // exec-init: the entry point joined it
	NewCgroupNS bool           `json:"newCgroupNs,omitempty"`
	NewTimeNS   bool           `json:"newTimeNs,omitempty"`
	State       []byte         `json:"state,omitempty"` // hook state for createContainer/startContainer
	// Seccomp is Spec's seccomp profile compiled, sent instead of the profile.
	Seccomp *seccomp.Filter `json:"seccomp,omitempty"`
}
