package link

import (
	"fmt"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// inNetNS runs fn on an OS thread that is inside the network namespace ns, in a
// goroutine of its own. Sockets fn opens belong to ns for their whole life, wherever
// they are used later. The thread goes back to the caller's namespace afterwards; if it
// cannot, it stays locked and the runtime ends it with the goroutine, so no goroutine is
// ever scheduled on a thread left in ns. fn must not start goroutines that expect to
// be in ns.
func inNetNS(ns *os.File, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Not deferred: unlocking is only right once the thread is home again.
		home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own network namespace: %w", err)
			return
		}
		defer home.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace %s: %w", ns.Name(), err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("return from network namespace %s: %w (thread discarded)", ns.Name(), err)
			return // still locked: the thread exits with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// handleIn opens a netlink handle whose socket lives in the network namespace ns.
func handleIn(ns *os.File) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := inNetNS(ns, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlink socket in %s: %w", ns.Name(), err)
	}
	return h, nil
}
