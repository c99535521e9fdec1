package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Cgroup files are read and written whole, one write(2) per value, as the kernel expects.
// Files are never created: on cgroupfs a missing file means a missing controller or
// feature, and a test's fake tree must provide each file it expects written.

// writeFile writes value to dir/name; an error names both. Plain syscalls: os.File
// would register each cgroupfs file (which supports poll) with the Go poller, tripling
// the syscalls on the container start path.
func writeFile(dir, name, value string) error {
	p := filepath.Join(dir, name)
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	if err == nil {
		_, err = unix.Write(fd, []byte(value))
		unix.Close(fd)
	}
	if err != nil {
		return fmt.Errorf("cgroup: write %q to %s: %w", value, p, err)
	}
	return nil
}

// readFile reads a whole cgroup file with plain syscalls (see writeFile).
func readFile(p string) ([]byte, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: p, Err: err}
		}
		if n == 0 {
			return out, nil
		}
		out = append(out, buf[:n]...)
	}
}

// unwrapPath drops os's "open /path:" prefix, since the caller names the path itself.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// readString reads dir/name without its trailing newline.
func readString(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	data, err := readFile(p)
	if err != nil {
		return "", fmt.Errorf("cgroup: read %s: %w", p, unwrapPath(err))
	}
	return strings.TrimSpace(string(data)), nil
}

// readUint reads a file holding one number; "max" reads as math.MaxUint64.
func readUint(dir, name string) (uint64, error) {
	s, err := readString(dir, name)
	if err != nil {
		return 0, err
	}
	return parseUint(s, filepath.Join(dir, name))
}

func parseUint(s, file string) (uint64, error) {
	if s == "max" {
		return math.MaxUint64, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		// A few v1 files say -1 for "none".
		if i, ierr := strconv.ParseInt(s, 10, 64); ierr == nil && i < 0 {
			return math.MaxUint64, nil
		}
		return 0, fmt.Errorf("cgroup: %s: unexpected value %q", file, s)
	}
	return v, nil
}

// readKeyed reads a "key value" per line file (memory.stat, cpu.stat, memory.events).
func readKeyed(dir, name string) (map[string]uint64, error) {
	p := filepath.Join(dir, name)
	data, err := readFile(p)
	if err != nil {
		return nil, fmt.Errorf("cgroup: read %s: %w", p, unwrapPath(err))
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// ignoreMissing turns "no such file" into success with the zero value, for counters
// that only some kernels or controllers provide.
func ignoreMissing[T any](v T, err error) (T, error) {
	if errors.Is(err, fs.ErrNotExist) {
		var zero T
		return zero, nil
	}
	return v, err
}
