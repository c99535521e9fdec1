package volume

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/containerd/errdefs"
)

const (
	// DriverLocal is the name of the one volume driver, Docker's default.
	DriverLocal = "local"
	// ScopeLocal is the scope of every local volume: this machine.
	ScopeLocal = "local"
	// LabelAnonymous marks a volume created without a name (docker run -v
	// /data, or docker volume create with no name). Prune removes only these
	// unless asked for all.
	LabelAnonymous = "com.docker.volume.anonymous"
)

// restrictedNameChars is how Docker describes a valid name in its messages.
const restrictedNameChars = `[a-zA-Z0-9][a-zA-Z0-9_.-]`

// metadataFile is the database's name in the root, which no volume may take.
const metadataFile = "metadata.db"

// validateName returns Docker's error for a name the local driver refuses: it
// must match [a-zA-Z0-9][a-zA-Z0-9_.-]+, as the volume's directory is named
// after it.
func validateName(name string) error {
	if len(name) == 1 {
		return errdefs.ErrInvalidArgument.WithMessage("volume name is too short, names should be at least two alphanumeric characters")
	}
	valid := len(name) > 1 && isAlnum(name[0])
	for i := 1; valid && i < len(name); i++ {
		c := name[i]
		valid = isAlnum(c) || c == '_' || c == '.' || c == '-'
	}
	if !valid {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%q includes invalid characters for a local volume name, only %q are allowed. If you intended to pass a host directory, use absolute path", name, restrictedNameChars))
	}
	if len(name) > 255 {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("volume name is too long (%d bytes), names may have at most 255", len(name)))
	}
	if name == metadataFile {
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("%q is reserved: it is the name of the volume store's database", name))
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// randomName returns a name for an anonymous volume: 64 hex digits, as
// Docker's, never all decimal in its first 12 (which a short ID would be
// confused with a number).
func randomName() string {
	b := make([]byte, 32)
	for {
		if _, err := rand.Read(b); err != nil {
			panic("crypto/rand: " + err.Error()) // never fails on Linux
		}
		s := hex.EncodeToString(b)
		for _, c := range s[:12] {
			if c > '9' {
				return s
			}
		}
	}
}
