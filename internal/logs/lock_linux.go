package logs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Writer and readers coordinate through open-file-description (OFD) locks on two
// bytes far past the end of the current log file; they work across processes, are
// released when the writer's file is closed or its process dies, and never touch
// the data.
//
//	liveByte    the writer holds a write lock on it for as long as it writes the
//	            file: a follower whose file is unlocked and still current knows the
//	            writer is gone for good and stops.
//	commitByte  (local driver) the writer holds a write lock while a write(2) is in
//	            flight; a reader takes a read lock to learn a size that ends on an
//	            entry boundary (a write spanning pages can be seen half done).
const (
	liveByte   int64 = 1 << 62
	commitByte int64 = 1<<62 + 1
)

func ofdLock(f syscall.Conn, cmd int, typ int16, at int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: at, Len: 1}
	var lerr error
	if err := rc.Control(func(fd uintptr) {
		for {
			lerr = unix.FcntlFlock(fd, cmd, &lk)
			if lerr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if cmd == unix.F_OFD_GETLK && lerr == nil && lk.Type != unix.F_UNLCK {
		return unix.EAGAIN
	}
	return lerr
}

// lockLive marks f as written by this process. It fails if another writer holds it.
func lockLive(f *os.File) error {
	err := ofdLock(f, unix.F_OFD_SETLK, unix.F_WRLCK, liveByte)
	if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("log file %s has another writer", f.Name())
	}
	if err != nil {
		return fmt.Errorf("lock log file %s: %w", f.Name(), err)
	}
	return nil
}

// lockCommit and unlockCommit bracket a write(2) of the local driver.
func lockCommit(f *os.File) error {
	return ofdLock(f, unix.F_OFD_SETLKW, unix.F_WRLCK, commitByte)
}

func unlockCommit(f *os.File) error {
	return ofdLock(f, unix.F_OFD_SETLK, unix.F_UNLCK, commitByte)
}

// writerAlive reports whether a writer holds f's live lock.
func writerAlive(f syscall.Conn) bool {
	return errors.Is(ofdLock(f, unix.F_OFD_GETLK, unix.F_RDLCK, liveByte), unix.EAGAIN)
}

// committedSize returns f's size at a moment no write is in flight.
func committedSize(ctx context.Context, f file) (int64, error) {
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		err := ofdLock(f, unix.F_OFD_SETLK, unix.F_RDLCK, commitByte)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			return 0, fmt.Errorf("lock log file: %w", err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
	}
	fi, err := f.Stat()
	uerr := ofdLock(f, unix.F_OFD_SETLK, unix.F_UNLCK, commitByte)
	if err != nil {
		return 0, err
	}
	if uerr != nil {
		return 0, fmt.Errorf("unlock log file: %w", uerr)
	}
	return fi.Size(), nil
}

// fileID identifies a file across renames.
type fileID struct{ dev, ino uint64 }

func idOf(fi os.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	return fileID{uint64(st.Dev), st.Ino}
}
