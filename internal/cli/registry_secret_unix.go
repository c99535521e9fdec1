//go:build linux

package cli

import (
	"bufio"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// promptSecret asks for a line of input without echoing it when in is a
// terminal.
func promptSecret(in io.Reader, r *bufio.Reader, out io.Writer, question string) (string, error) {
	if f, ok := in.(interface{ Fd() uintptr }); ok {
		fd := int(f.Fd())
		if old, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			quiet := *old
			quiet.Lflag &^= unix.ECHO
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err == nil {
				defer func() {
					unix.IoctlSetTermios(fd, unix.TCSETS, old)
					fmt.Fprintln(out)
				}()
			}
		}
	}
	return prompt(r, out, question)
}
