package mount

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/osthread"
)

// useNewAPI chooses the new mount API for overlayfs when the kernel has it.
// Tests turn it off to exercise the mount(2) fallback.
var useNewAPI = true

// errNoNewAPI says the kernel lacks what overlayNewAPI needs, so the caller
// should use mount(2) instead.
var errNoNewAPI = errors.New("new mount API unavailable for overlay")

func mountOverlay(source, target string, o options) error {
	if source == "" {
		source = "overlay"
	}
	if useNewAPI {
		err := overlayNewAPI(source, target, o)
		if !errors.Is(err, errNoNewAPI) {
			return err
		}
	}
	return overlayLegacy(source, target, o)
}

// overlayNewAPI mounts overlayfs with fsopen/fsconfig/fsmount/move_mount,
// giving each lower layer its own "lowerdir+" parameter (Linux 6.8), so the
// number of layers is limited only by overlayfs itself (500).
func overlayNewAPI(source, target string, o options) error {
	attrs, sbFlags, ok := o.newAPIFlags()
	if !ok {
		return errNoNewAPI
	}
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		if err == unix.ENOSYS || err == unix.EPERM {
			return errNoNewAPI
		}
		return fmt.Errorf("fsopen overlay: %w", err)
	}
	defer unix.Close(fd)

	fail := func(what string, err error) error {
		if msg := fsLog(fd); msg != "" {
			return fmt.Errorf("%s: %w (kernel: %s)", what, err, msg)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := unix.FsconfigSetString(fd, "source", source); err != nil {
		return fail("fsconfig source", err)
	}
	first := true
	for _, opt := range o.data {
		key, val, hasVal := strings.Cut(opt, "=")
		switch {
		case key == "lowerdir" && hasVal:
			for _, dir := range splitLowerdir(val) {
				err := unix.FsconfigSetString(fd, "lowerdir+", unescapeLowerdir(dir))
				if err == unix.EINVAL && first {
					_ = fsLog(fd)
					return errNoNewAPI // a kernel before 6.8: no "lowerdir+"
				}
				if err != nil {
					return fail("fsconfig lowerdir+ "+dir, err)
				}
				first = false
			}
		case hasVal:
			if err := unix.FsconfigSetString(fd, key, val); err != nil {
				return fail("fsconfig "+opt, err)
			}
		default:
			if err := unix.FsconfigSetFlag(fd, key); err != nil {
				return fail("fsconfig "+opt, err)
			}
		}
	}
	for _, f := range sbFlags {
		if err := unix.FsconfigSetFlag(fd, f); err != nil {
			return fail("fsconfig "+f, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fail("create overlay", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, int(attrs))
	if err != nil {
		return fail("fsmount", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount to %s: %w", target, err)
	}
	return nil
}

// fsLog drains the messages the kernel left in a filesystem context.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	return strings.Join(msgs, "; ")
}

// overlayLegacy mounts overlayfs with mount(2). When the options overflow the
// page mount(2) copies, the layer paths are made relative to their common
// parent directory and the mount runs with that directory as working
// directory.
func overlayLegacy(source, target string, o options) error {
	data := strings.Join(o.data, ",")
	if len(data) < unix.Getpagesize() {
		return mountData("overlay", source, target, o.flags, data)
	}
	dir, rel := relativeOverlayData(o.data)
	if dir == "" {
		return mountData("overlay", source, target, o.flags, data) // reports the length
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	short := strings.Join(rel, ",")
	return inDir(unescapeLowerdir(dir), func() error {
		if err := mountData("overlay", source, abs, o.flags, short); err != nil {
			return fmt.Errorf("with layer paths relative to %s: %w", dir, err)
		}
		return nil
	})
}

// relativeOverlayData rewrites the directory options of data relative to the
// deepest directory containing all of them, and returns that directory; dir
// is empty when there is nothing to gain.
func relativeOverlayData(data []string) (dir string, rel []string) {
	var paths []string
	for _, opt := range data {
		key, val, ok := strings.Cut(opt, "=")
		if !ok {
			continue
		}
		switch key {
		case "lowerdir":
			paths = append(paths, splitLowerdir(val)...)
		case "upperdir", "workdir":
			paths = append(paths, val)
		}
	}
	dir = commonDir(paths)
	if dir == "" || dir == "/" {
		return "", nil
	}
	strip := func(p string) string { return strings.TrimPrefix(p, dir+"/") }
	for _, opt := range data {
		key, val, ok := strings.Cut(opt, "=")
		switch {
		case ok && key == "lowerdir":
			parts := splitLowerdir(val)
			for i := range parts {
				parts[i] = strip(parts[i])
			}
			opt = key + "=" + strings.Join(parts, ":")
		case ok && (key == "upperdir" || key == "workdir"):
			opt = key + "=" + strip(val)
		}
		rel = append(rel, opt)
	}
	return dir, rel
}

// commonDir returns the deepest directory that is a proper ancestor of every
// one of paths, all absolute; "" if they are not all absolute.
func commonDir(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	var common []string
	for i, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return ""
		}
		parts := strings.Split(strings.Trim(filepath.Clean(p), "/"), "/")
		parts = parts[:len(parts)-1] // a proper ancestor: never the path itself
		if i == 0 {
			common = parts
			continue
		}
		n := 0
		for n < len(common) && n < len(parts) && common[n] == parts[n] {
			n++
		}
		common = common[:n]
	}
	return "/" + strings.Join(common, "/")
}

// inDir runs fn on a fresh OS thread whose working directory is dir and
// whose mount namespace is the calling thread's, so the process's own
// working directory never changes. The thread is discarded afterwards.
func inDir(dir string, fn func() error) error {
	runtime.LockOSThread()
	ns, err := unix.Open("/proc/thread-self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("open mount namespace: %w", err)
	}
	defer unix.Close(ns)
	// A discarded thread: its filesystem context is its own from here on.
	osthread.Discarded(func() {
		if err = unix.Unshare(unix.CLONE_FS); err != nil {
			err = fmt.Errorf("unshare CLONE_FS: %w", err)
			return
		}
		if err = unix.Setns(ns, unix.CLONE_NEWNS); err != nil {
			err = fmt.Errorf("join the caller's mount namespace: %w", err)
			return
		}
		if err = unix.Chdir(dir); err != nil {
			err = fmt.Errorf("chdir %s: %w", dir, err)
			return
		}
		err = fn()
	})
	return err
}
