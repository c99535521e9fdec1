package daemon

import (
	"context"
	"fmt"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"

	ctr "github.com/berth-engine/berth/internal/container"
)

// stateWaiters tells waiters when a container's state changes. Each container
// has a channel that is closed, and replaced, at every change; a waiter takes
// the current channel, looks at the state, and waits on the channel if it must.
type stateWaiters struct {
	mu    sync.Mutex
	ch    map[string]chan struct{}
	exits map[string]uint64 // how often each container has exited since berthd started
}

func newStateWaiters() *stateWaiters {
	return &stateWaiters{ch: map[string]chan struct{}{}, exits: map[string]uint64{}}
}

// watch returns the channel closed at container id's next change, and its exit
// count now.
func (w *stateWaiters) watch(id string) (<-chan struct{}, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch, ok := w.ch[id]
	if !ok {
		ch = make(chan struct{})
		w.ch[id] = ch
	}
	return ch, w.exits[id]
}

// changed wakes the waiters of container id; exited counts an exit, removed
// forgets the container (its waiters find it gone from the store).
func (w *stateWaiters) changed(id string, exited, removed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if exited {
		w.exits[id]++
	}
	if removed {
		delete(w.exits, id)
	}
	if ch, ok := w.ch[id]; ok {
		close(ch)
		delete(w.ch, id)
	}
}

// watchExit returns a channel closed at container id's next recorded exit.
func (w *stateWaiters) watchExit(id string) (<-chan struct{}, uint64) {
	ch, n := w.watch(id)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			<-ch
			var now uint64
			ch, now = w.watch(id)
			if now != n {
				return
			}
		}
	}()
	return done, n
}

// ContainerWait waits for the condition: not-running (the default), next-exit
// or removed, as docker wait and docker run use them.
func (d *Daemon) ContainerWait(ctx context.Context, name string, condition container.WaitCondition) (<-chan container.WaitResponse, error) {
	switch condition {
	case "", container.WaitConditionNotRunning, container.WaitConditionNextExit, container.WaitConditionRemoved:
	default:
		return nil, cerrdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid condition: %q", condition))
	}
	c, err := d.containers.Get(name)
	if err != nil {
		return nil, err
	}
	ch, exits0 := d.waiters.watch(c.ID)
	out := make(chan container.WaitResponse, 1)
	go func() {
		defer close(out)
		for {
			st := c.Snapshot().State
			_, exits := d.waiters.watch(c.ID)
			// Whatever the condition, a removed container waits no more.
			_, err := d.containers.Get(c.ID)
			done := err != nil
			switch condition {
			case "", container.WaitConditionNotRunning:
				// An exit since the wait began counts even if a restart policy
				// has already brought the container back (Docker's too).
				done = done || !st.Running() || exits > exits0
			case container.WaitConditionNextExit:
				done = done || exits > exits0
			}
			if done {
				r := waitResponse(st)
				if condition == container.WaitConditionRemoved {
					// As dockerd: the removal of a container that failed to start
					// (run --rm) carries no error; the start's answer reported it.
					r.Error = nil
				}
				out <- r
				return
			}
			select {
			case <-ch:
				ch, _ = d.waiters.watch(c.ID)
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func waitResponse(st ctr.State) container.WaitResponse {
	r := container.WaitResponse{StatusCode: int64(st.ExitCode)}
	if st.Error != "" {
		r.Error = &container.WaitExitError{Message: st.Error}
	}
	return r
}
