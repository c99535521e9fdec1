//go:build unix

package cli

import "golang.org/x/sys/unix"

// terminalWidth reports whether v is a file open on a terminal, and its
// width in columns (0 when the terminal does not say).
func terminalWidth(v any) (int, bool) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return 0, false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, false
	}
	return int(ws.Col), true
}

// isTerminal reports whether v is a file open on a terminal.
func isTerminal(v any) bool {
	_, ok := terminalWidth(v)
	return ok
}
