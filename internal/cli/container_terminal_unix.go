//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package cli

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// makeRaw puts the terminal v (a file open on a terminal) in raw mode, as
// docker does for -t with stdin attached: no echo, no line editing, no
// signals from ^C, no output processing. It returns the function that
// restores the previous mode.
func makeRaw(v any) (restore func(), err error) {
	f, ok := v.(interface{ Fd() uintptr })
	if !ok {
		return func() {}, nil
	}
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, err
	}
	raw := *old
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &raw); err != nil {
		return nil, err
	}
	return func() { unix.IoctlSetTermios(fd, ioctlSetTermios, old) }, nil
}

// terminalSize is the height and width of the terminal v, or ok false.
func terminalSize(v any) (height, width uint, ok bool) {
	f, isFile := v.(interface{ Fd() uintptr })
	if !isFile {
		return 0, 0, false
	}
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0, false
	}
	return uint(ws.Row), uint(ws.Col), true
}

// notifyResize delivers a value on the channel each time the terminal's
// window changes size (SIGWINCH) until stop is called.
func notifyResize() (c <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	return ch, func() { signal.Stop(ch) }
}
