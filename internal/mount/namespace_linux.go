package mount

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/osthread"
)

// InPrivateNamespace runs fn on an OS thread of its own in a new mount
// namespace that neither sends nor receives mount events. fn's mounts are
// invisible to the rest of the system and vanish with the thread, even if the
// process is killed half-way (osthread.Discarded). fn must mount and use the
// mounts on its own goroutine.
func InPrivateNamespace(fn func() error) error {
	return inNewNamespace(unix.MS_PRIVATE, fn)
}

// InSlaveNamespace is InPrivateNamespace for a namespace that still receives
// the caller's namespace's mount events: an unmount made there meanwhile
// reaches it, so it never keeps a file system busy that the caller removed.
func InSlaveNamespace(fn func() error) error {
	return inNewNamespace(unix.MS_SLAVE, fn)
}

func inNewNamespace(propagation uintptr, fn func() error) error {
	var err error
	osthread.Discarded(func() {
		if err = unix.Unshare(unix.CLONE_NEWNS); err != nil {
			err = fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err = unix.Mount("", "/", "", unix.MS_REC|propagation, ""); err != nil {
			err = fmt.Errorf("set mount propagation: %w", err)
			return
		}
		err = fn()
	})
	return err
}
