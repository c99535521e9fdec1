package volume

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"

	"github.com/berth-engine/berth/internal/mount"
)

// The local driver's options (docker volume create -o KEY=VALUE).
const (
	OptType   = "type"   // file system type to mount (tmpfs, none, nfs, ext4...)
	OptDevice = "device" // what to mount: a device, "tmpfs", a host directory for o=bind, ":/export" for NFS
	OptO      = "o"      // mount(8) options, comma-separated
	OptSize   = "size"   // disk quota: accepted when 0, refused otherwise (no quota support)
	OptUID    = "uid"    // berth: owner of the volume's root directory
	OptGID    = "gid"    // berth: group of the volume's root directory
	OptMode   = "mode"   // berth: permissions of the volume's root directory, octal
)

// optionKeys lists the options in the order they are checked, so a request
// with several mistakes always gets the same message.
var optionKeys = []string{OptType, OptDevice, OptO, OptSize, OptUID, OptGID, OptMode}

// required lists, per option, the options it needs beside it (Docker's rule).
var required = []struct{ opt, needs string }{
	{OptDevice, OptType},
	{OptType, OptDevice},
	{OptO, OptDevice},
	{OptO, OptType},
}

// config is what a volume's options mean.
type config struct {
	mountType string
	device    string
	mountOpts string
	uid, gid  int    // -1 when not given
	mode      uint32 // permission bits with setuid/setgid/sticky; valid when hasMode
	hasMode   bool
}

// parseOptions checks opts as Docker's local driver does (plus berth's uid,
// gid and mode) and returns their meaning. The errors carry Docker's text.
func parseOptions(opts map[string]string) (config, error) {
	c := config{uid: -1, gid: -1}
	for k := range opts {
		if !slices.Contains(optionKeys, k) {
			return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid option: %q", k))
		}
	}
	if v, ok := opts[OptSize]; ok {
		size, err := units.RAMInBytes(v)
		if err != nil {
			return c, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		if size > 0 {
			return c, errdefs.ErrInvalidArgument.WithMessage("quota size requested but no quota support")
		}
	}
	for _, r := range required {
		if _, ok := opts[r.opt]; !ok {
			continue
		}
		if _, ok := opts[r.needs]; !ok {
			return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("missing required option: %q", r.needs))
		}
	}
	c.mountType, c.device, c.mountOpts = opts[OptType], opts[OptDevice], opts[OptO]
	var err error
	if c.uid, err = parseID(opts, OptUID); err != nil {
		return c, err
	}
	if c.gid, err = parseID(opts, OptGID); err != nil {
		return c, err
	}
	if v, ok := opts[OptMode]; ok {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil || m > 0o7777 {
			return c, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid option %s=%q: not an octal file mode such as 0755", OptMode, v))
		}
		c.mode, c.hasMode = uint32(m), true
	}
	return c, nil
}

// parseID reads the uid or gid option key, -1 when absent.
func parseID(opts map[string]string, key string) (int, error) {
	v, ok := opts[key]
	if !ok {
		return -1, nil
	}
	// 2^32-1 is (uid_t)-1, which chown(2) reads as "leave unchanged".
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == math.MaxUint32 {
		return -1, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid option %s=%q: not a numeric id from 0 to %d", key, v, uint32(math.MaxUint32-1)))
	}
	return int(n), nil
}

// mounts reports whether the volume is a file system mounted on its _data
// directory while in use, rather than the directory itself.
func (c config) mounts() bool { return c.mountType != "" || c.device != "" }

// ownership reports whether the options set the root's owner or mode.
func (c config) ownership() bool { return c.uid >= 0 || c.gid >= 0 || c.hasMode }

// mount is the mount that shows the volume's file system.
func (c config) mount() mount.Mount {
	m := mount.Mount{Type: c.mountType, Source: c.device}
	for o := range strings.SplitSeq(c.mountOpts, ",") {
		if o != "" {
			m.Options = append(m.Options, o)
		}
	}
	return m
}
