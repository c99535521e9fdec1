package overlay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/mount"
	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/storage"
)

// Name is the storage driver name berth reports for this snapshotter.
const Name = "overlay2"

// New opens the overlay snapshotter at root (created if needed). Check
// Supported(root) first: New does not mount anything.
func New(root string) (snapshot.Snapshotter, error) {
	s, err := storage.New(root, &driver{options: mountOptions()})
	if err != nil {
		return nil, fmt.Errorf("overlay snapshotter: %w", err)
	}
	return s, nil
}

type driver struct {
	options []string // given to every overlay mount, before the directories
}

func (d *driver) Create(ctx context.Context, s storage.Snapshot) error {
	if err := os.Mkdir(s.FS(), 0o755); err != nil {
		return err
	}
	if s.Kind == snapshot.KindActive && len(s.Parents) > 0 {
		return os.Mkdir(filepath.Join(s.Dir, "work"), 0o700)
	}
	return nil
}

func (d *driver) Mounts(s storage.Snapshot) []mount.Mount {
	view := s.Kind == snapshot.KindView
	switch {
	case len(s.Parents) == 0 && view:
		return []mount.Mount{bind(s.FS(), "ro")}
	case len(s.Parents) == 0:
		return []mount.Mount{bind(s.FS(), "rw")}
	case len(s.Parents) == 1 && view:
		return []mount.Mount{bind(filepath.Join(s.Parents[0], "fs"), "ro")}
	}
	lower := make([]string, len(s.Parents))
	for i, p := range s.Parents {
		lower[i] = filepath.Join(p, "fs")
	}
	opts := append([]string{}, d.options...)
	opts = append(opts, "lowerdir="+strings.Join(lower, ":"))
	if !view {
		opts = append(opts, "upperdir="+s.FS(), "workdir="+filepath.Join(s.Dir, "work"))
	}
	return []mount.Mount{{Type: "overlay", Source: "overlay", Options: opts}}
}

func bind(dir, mode string) mount.Mount {
	return mount.Mount{Type: "bind", Source: dir, Options: []string{"rbind", mode}}
}

// mountOptions are the overlay options every mount takes; see the package
// documentation.
func mountOptions() []string {
	opts := []string{"index=off"}
	if moduleParam("redirect_dir") {
		opts = append(opts, "redirect_dir=off")
	}
	if moduleParam("metacopy") {
		opts = append(opts, "metacopy=off")
	}
	if inUserNamespace() {
		opts = append(opts, "userxattr")
	}
	return opts
}

// moduleParam reports whether the overlay module enables feature by default.
func moduleParam(feature string) bool {
	b, err := os.ReadFile("/sys/module/overlay/parameters/" + feature)
	if err != nil {
		return false
	}
	v := strings.TrimSpace(string(b))
	return v == "Y" || v == "on" || v == "1"
}

// inUserNamespace reports whether the process runs in a user namespace other
// than the initial one, whose uid map is the identity on all 2^32-1 ids.
func inUserNamespace() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return !(len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295")
}

// Supported reports whether overlay snapshots work under root (created if
// needed), by doing what the snapshotter does in a scratch directory: mount
// an overlay of two layers with the snapshotter's options, delete a lower
// file through it and find the whiteout in the upper layer. It needs the
// privilege to mount; without it the answer is an error too.
func Supported(root string) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("overlay check: %w", err)
	}
	tmp, err := os.MkdirTemp(root, "overlay-check-")
	if err != nil {
		return fmt.Errorf("overlay check: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := check(tmp); err != nil {
		return fmt.Errorf("overlay is not usable on %s: %w", root, err)
	}
	return nil
}

func check(tmp string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(tmp, &st); err == nil && st.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return errors.New("the directory is itself on overlayfs")
	}
	dirs := map[string]string{}
	for _, name := range []string{"l1", "l2", "up", "work", "merged"} {
		dirs[name] = filepath.Join(tmp, name)
		if err := os.Mkdir(dirs[name], 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dirs["l1"], "f"), nil, 0o644); err != nil {
		return err
	}
	opts := append(mountOptions(),
		"lowerdir="+dirs["l2"]+":"+dirs["l1"], "upperdir="+dirs["up"], "workdir="+dirs["work"])
	if err := mount.All([]mount.Mount{{Type: "overlay", Source: "overlay", Options: opts}}, dirs["merged"]); err != nil {
		return err
	}
	defer mount.UnmountAll(dirs["merged"], unix.MNT_DETACH)
	if err := os.Remove(filepath.Join(dirs["merged"], "f")); err != nil {
		return fmt.Errorf("delete through the overlay: %w", err)
	}
	var wst unix.Stat_t
	if err := unix.Lstat(filepath.Join(dirs["up"], "f"), &wst); err != nil {
		return fmt.Errorf("no whiteout after a delete: %w", err)
	}
	if wst.Mode&unix.S_IFMT != unix.S_IFCHR || wst.Rdev != 0 {
		return fmt.Errorf("whiteout is mode %o rdev %d, not a 0/0 character device", wst.Mode, wst.Rdev)
	}
	return nil
}
