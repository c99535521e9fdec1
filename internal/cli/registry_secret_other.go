//go:build !linux

package cli

import (
	"bufio"
	"io"
)

// promptSecret asks for a line of input (echoed: berth turns echo off on
// Linux only).
func promptSecret(_ io.Reader, r *bufio.Reader, out io.Writer, question string) (string, error) {
	return prompt(r, out, question)
}
