package oci

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// errNotDevice is returned by deviceFromPath for a path that is not a device
// node.
var errNotDevice = errors.New("not a device node")

// deviceFromPath describes the device node at path (not following a final
// symlink).
func deviceFromPath(path string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return specs.LinuxDevice{}, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFBLK:
		typ = "b"
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFIFO:
		typ = "p"
	default:
		return specs.LinuxDevice{}, errNotDevice
	}
	mode := fs.FileMode(st.Mode &^ unix.S_IFMT)
	uid, gid := st.Uid, st.Gid
	return specs.LinuxDevice{
		Path:     path,
		Type:     typ,
		Major:    int64(unix.Major(uint64(st.Rdev))),
		Minor:    int64(unix.Minor(uint64(st.Rdev))),
		FileMode: &mode,
		UID:      &uid,
		GID:      &gid,
	}, nil
}

// devicesFromPath returns the device at host (a symlink is followed), placed
// at ctr, and its allow rule; or, for a directory, every device node below it,
// placed at the same relative path below ctr.
func devicesFromPath(host, ctr, perms string) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	resolved := host
	if fi, err := os.Lstat(host); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if p, err := filepath.EvalSymlinks(host); err == nil {
			resolved = p
		}
	}
	allow := func(d specs.LinuxDevice) specs.LinuxDeviceCgroup {
		major, minor := d.Major, d.Minor
		return specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: &major, Minor: &minor, Access: perms}
	}
	d, err := deviceFromPath(resolved)
	if err == nil {
		d.Path = ctr
		return []specs.LinuxDevice{d}, []specs.LinuxDeviceCgroup{allow(d)}, nil
	}
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	if errors.Is(err, errNotDevice) {
		if fi, serr := os.Stat(resolved); serr == nil && fi.IsDir() {
			_ = filepath.WalkDir(resolved, func(p string, _ fs.DirEntry, _ error) error {
				child, cerr := deviceFromPath(p)
				if cerr != nil {
					return nil
				}
				child.Path = ctr + strings.TrimPrefix(p, resolved)
				devs = append(devs, child)
				rules = append(rules, allow(child))
				return nil
			})
		}
	}
	if len(devs) > 0 {
		return devs, rules, nil
	}
	return nil, nil, invalid("error gathering device information while adding custom device %q: %s", host, err)
}

// hostDevices returns every device node under dir (the host's /dev), for a
// privileged container; pseudo-terminals, shared memory, message queues and
// the console are the container's own.
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil
		}
		if e.IsDir() {
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				if p != dir {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if e.Name() == "console" {
			return nil
		}
		d, err := deviceFromPath(p)
		if err != nil {
			return nil // not a device, or gone
		}
		if d.Type == "p" {
			return nil
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list host devices: %w", err)
	}
	return out, nil
}

// deviceNumbers returns the major and minor numbers of the device at path
// (a blkio option's device).
func deviceNumbers(path string) (int64, int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, invalid("%v", &os.PathError{Op: "stat", Path: path, Err: err})
	}
	return int64(unix.Major(uint64(st.Rdev))), int64(unix.Minor(uint64(st.Rdev))), nil
}
