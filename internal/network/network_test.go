package network

import (
	"testing"

	"github.com/containerd/errdefs"
)

// Network names are Docker's: dockerd 20.10 creates a network under any name
// that is not blank (docker-py's suite creates "test 01"), and refuses only
// blank ones.
func TestValidNameAsDocker(t *testing.T) {
	for _, name := range []string{"test 01", "a/b", "a:b", " lead", "_x", "-x", "x.y", "ünï", "a\tb", "container:x", "front"} {
		if err := validName(name); err != nil {
			t.Errorf("validName(%q) = %v; Docker takes it", name, err)
		}
	}
	for _, name := range []string{"", " ", "\t \n"} {
		if err := validName(name); !errdefs.IsInvalidArgument(err) {
			t.Errorf("validName(%q) = %v; want an invalid-argument error", name, err)
		}
	}
}
