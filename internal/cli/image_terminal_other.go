//go:build !unix

package cli

// terminalWidth reports no terminal where berth cannot ask (progress is then
// printed as plain lines).
func terminalWidth(any) (int, bool) { return 0, false }

func isTerminal(any) bool { return false }
