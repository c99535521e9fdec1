//go:build !unix

package cli

import (
	"os"
	"os/signal"
)

func notifyAllSignals() (chan os.Signal, func()) {
	ch := make(chan os.Signal, 128)
	signal.Notify(ch, os.Interrupt)
	return ch, func() { signal.Stop(ch) }
}

func forwardedSignalName(s os.Signal) string {
	if s == os.Interrupt {
		return "INT"
	}
	return ""
}
