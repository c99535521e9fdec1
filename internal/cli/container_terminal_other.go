//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package cli

import (
	"errors"
	"os"
)

// makeRaw cannot change a terminal's mode here.
func makeRaw(any) (func(), error) {
	return nil, errors.New("raw terminal mode is not supported on this system")
}

func terminalSize(any) (uint, uint, bool) { return 0, 0, false }

// notifyResize never reports a change where there is no SIGWINCH.
func notifyResize() (<-chan os.Signal, func()) { return nil, func() {} }
