package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-engine/berth/internal/daemon/config"
)

// ListenUnix listens on a unix socket at path, mode 0660, owned by this user and
// group (a name or number; "" means config.DefaultSocketGroup when that group exists,
// else this process's group, root's for a daemon). A socket file left at path
// by a daemon that died is replaced; a file that is not a socket, or a socket
// some process still answers on, is an error.
//
// The socket is bound under a umask of 0117 so that it never exists with a
// wider mode. The umask belongs to the whole process: call ListenUnix during
// start-up, before other goroutines create files.
func ListenUnix(path, group string) (net.Listener, error) {
	gid, err := socketGroup(group)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("listen on unix://%s: %w", path, err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	old := syscall.Umask(0o117)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on unix://%s: %w", path, err)
	}
	if err := os.Chown(path, os.Geteuid(), gid); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket unix://%s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket unix://%s: %w", path, err)
	}
	return l, nil
}

// socketGroup resolves the sockets' group to a gid.
func socketGroup(group string) (int, error) {
	if group == "" {
		if g, err := user.LookupGroup(config.DefaultSocketGroup); err == nil {
			return strconv.Atoi(g.Gid)
		}
		return os.Getegid(), nil
	}
	if gid, err := strconv.Atoi(group); err == nil {
		return gid, nil
	}
	g, err := user.LookupGroup(group)
	if err != nil {
		return 0, fmt.Errorf("socket group %q: %w", group, err)
	}
	return strconv.Atoi(g.Gid)
}

// removeStaleSocket removes the socket at path when no process accepts
// connections on it any more.
func removeStaleSocket(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("cannot listen on unix://%s: the path exists and is not a socket", path)
	}
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("cannot listen on unix://%s: another daemon is listening there", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot listen on unix://%s: checking the old socket: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}
