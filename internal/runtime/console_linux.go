package runtime

import (
	"fmt"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupConsole makes a pty inside the container (so its slave lives in the container's
// devpts), hands the master to whoever listens on consoleFD as runc does (SCM_RIGHTS,
// the pty's name as the payload), and makes the slave our stdio and controlling
// terminal, sized as process.consoleSize asks. For init the slave is also bind-mounted
// on /dev/console.
func setupConsole(consoleFD int, size *specs.Box, isInit bool) error {
	if consoleFD < 0 {
		return fmt.Errorf("terminal requested but no console socket was given")
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("pty number: %w", err)
	}
	slavePath := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := unix.Open(slavePath, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", slavePath, err)
	}
	defer unix.Close(slave)
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("set console size: %w", err)
		}
	}
	rights := unix.UnixRights(master)
	if err := unix.Sendmsg(consoleFD, []byte(slavePath), rights, nil, 0); err != nil {
		return fmt.Errorf("send pty master to console socket: %w", err)
	}
	unix.Close(consoleFD)
	if isInit {
		if err := bindConsole(slavePath); err != nil {
			return err
		}
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(slave, fd, 0); err != nil {
			return fmt.Errorf("dup pty to fd %d: %w", fd, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}

// bindConsole bind-mounts the pty slave on /dev/console, creating the mount point.
func bindConsole(slavePath string) error {
	f, err := os.OpenFile("/dev/console", os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create /dev/console: %w", err)
	}
	f.Close()
	if err := unix.Mount(slavePath, "/dev/console", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s on /dev/console: %w", slavePath, err)
	}
	return nil
}
