package shim_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/runtime"
	"github.com/berth-engine/berth/internal/runtime/shim"
	"github.com/berth-engine/berth/internal/testutil"
)

// launchIn launches b into g's shims.
func (b *box) launchIn(g *shim.Group) *shim.Client {
	b.t.Helper()
	return b.launchBy(g.Launch)
}

func newGroup(t *testing.T, capacity int) *shim.Group {
	return shim.NewGroup(filepath.Join(t.TempDir(), "shims"), capacity, 200*time.Millisecond)
}

func TestGroupServesSeveralContainersPerShim(t *testing.T) {
	g := newGroup(t, 2)
	var boxes []*box
	for i, word := range []string{"one", "two", "three"} {
		b := newBox(t, []string{"sh", "-c", "echo " + word + "; exit " + string(rune('1'+i))}, nil)
		b.launchIn(g)
		boxes = append(boxes, b)
	}
	if boxes[0].shim != boxes[1].shim {
		t.Errorf("the first two containers have shims %d and %d, want one shared", boxes[0].shim, boxes[1].shim)
	}
	if boxes[2].shim == boxes[0].shim {
		t.Errorf("the third container shares a full shim (capacity 2)")
	}
	for i, b := range boxes {
		b.start()
		if e := b.wait(); e.Code != i+1 {
			t.Errorf("container %d exited %d, want %d", i, e.Code, i+1)
		}
	}
	for i, b := range boxes {
		want := "stdout: " + []string{"one", "two", "three"}[i] + "\n"
		if got := b.readLog(); len(got) != 1 || got[0] != want {
			t.Errorf("log of container %d = %q, want %q", i, got, want)
		}
	}
	// One container gone, its neighbour still served.
	boxes[0].shutdown()
	if st, err := boxes[1].client.State(ctx(t)); err != nil || st.Status != shim.StatusExited {
		t.Errorf("the neighbour after a shutdown: %+v, %v", st, err)
	}
	boxes[1].shutdown()
	boxes[2].shutdown()
	// Each box's cleanup checks that its shim exits once idle.
}

func TestGroupLaunchCancelledLeavesNothing(t *testing.T) {
	g := newGroup(t, 4)
	first := newBox(t, []string{"sleep", "100"}, nil)
	first.launchIn(g)
	slow := newBox(t, []string{"true"}, func(s *specs.Spec, _ *shim.Opts) {
		// The creation outlasts the launch's context.
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sleep", Args: []string{"sleep", "1"}}}}
	})
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := g.Launch(c, slow.opts); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Launch with a hook outlasting the context: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the cancelled launch took %v", d)
	}
	slow.assertNoLeftovers()
	// The shim goes on serving its container and takes new ones.
	if st, err := first.client.State(ctx(t)); err != nil || st.Status != shim.StatusCreated {
		t.Errorf("the first container after the cancel: %+v, %v", st, err)
	}
	next := newBox(t, []string{"sh", "-c", "exit 7"}, nil)
	next.launchIn(g)
	if next.shim != first.shim {
		t.Errorf("a launch after the cancel went to shim %d, not %d", next.shim, first.shim)
	}
	next.start()
	if e := next.wait(); e.Code != 7 {
		t.Errorf("exit %d, want 7", e.Code)
	}
	next.shutdown()
	first.start()
	if err := runtime.New(first.opts.RuntimeRoot).Kill(first.opts.ID, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	first.wait()
	first.shutdown()
}

func TestGroupGivesHostPidContainersAShimOfTheirOwn(t *testing.T) {
	g := newGroup(t, 4)
	shared := newBox(t, []string{"sh", "-c", "exit 0"}, nil)
	shared.launchIn(g)
	hostPid := func(s *specs.Spec, o *shim.Opts) {
		var ns []specs.LinuxNamespace
		for _, n := range s.Linux.Namespaces {
			if n.Type != specs.PIDNamespace {
				ns = append(ns, n)
			}
		}
		s.Linux.Namespaces = ns
		o.HostPidNS = shim.SharesPidNS(s)
	}
	own := newBox(t, []string{"sh", "-c", "exit 3"}, hostPid)
	own.launchIn(g)
	if own.shim == shared.shim {
		t.Errorf("a container in the host's pid namespace shares shim %d", own.shim)
	}
	own.start()
	if e := own.wait(); e.Code != 3 {
		t.Errorf("exit %d, want 3", e.Code)
	}
	own.shutdown()

	// A caller that does not say so is refused by the shared shim, which undoes it.
	unsaid := newBox(t, []string{"true"}, func(s *specs.Spec, o *shim.Opts) {
		hostPid(s, o)
		o.HostPidNS = false
	})
	_, err := g.Launch(ctx(t), unsaid.opts)
	if err == nil || !strings.Contains(err.Error(), "needs a shim of its own") {
		t.Fatalf("launch of an unannounced host-pid container: %v", err)
	}
	unsaid.assertNoLeftovers()
	shared.start()
	shared.wait()
	shared.shutdown()
}

func TestGroupShimKilled(t *testing.T) {
	g := newGroup(t, 4)
	a := newBox(t, []string{"sleep", "100"}, nil)
	b := newBox(t, []string{"sleep", "100"}, nil)
	a.launchIn(g)
	b.launchIn(g)
	a.start()
	b.start()
	killAndWait(t, a.shim)
	for _, x := range []*box{a, b} {
		if _, err := shim.Connect(ctx(t), x.opts.StateDir); !errors.Is(err, shim.ErrShimGone) {
			t.Errorf("Connect after the shim was killed: %v, want ErrShimGone", err)
		}
		if e, err := shim.Reap(x.opts.StateDir, x.opts.RuntimeRoot, x.opts.ID); err != nil || e.Code != shim.UnknownExitCode {
			t.Errorf("Reap = %+v, %v", e, err)
		}
	}
	// The group starts another shim (the killed one left its socket behind).
	c := newBox(t, []string{"sh", "-c", "exit 4"}, nil)
	c.launchIn(g)
	if c.shim == a.shim {
		t.Fatalf("launched into the killed shim")
	}
	c.start()
	if e := c.wait(); e.Code != 4 {
		t.Errorf("exit %d, want 4", e.Code)
	}
	c.shutdown()
}

func TestGroupCloseEndsIdleShimsOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shims")
	g := shim.NewGroup(dir, 1, time.Hour)
	busy := newBox(t, []string{"sleep", "100"}, nil)
	busy.launchIn(g)
	done := newBox(t, []string{"true"}, nil)
	done.launchIn(g)
	if done.shim == busy.shim {
		t.Fatal("capacity 1, yet two containers share a shim")
	}
	done.start()
	done.wait()
	done.shutdown()
	g.Close()
	if !eventually(func() bool { return !alive(done.shim) }) {
		t.Errorf("the idle shim still runs after Close")
	}
	if st, err := busy.client.State(ctx(t)); err != nil || st.Status != shim.StatusCreated {
		t.Errorf("the busy shim's container after Close: %+v, %v", st, err)
	}
	if err := runtime.New(busy.opts.RuntimeRoot).Kill(busy.opts.ID, unix.SIGKILL, false); err != nil {
		t.Fatal(err)
	}
	busy.wait()
	busy.shutdown()
	g.Close() // the busy shim is idle now: its box's cleanup checks it exits
}

func TestGroupContainersSeeNothingOfEachOther(t *testing.T) {
	g := newGroup(t, 4)
	a := newBox(t, []string{"sleep", "100"}, nil)
	b := newBox(t, []string{"sleep", "100"}, nil)
	a.launchIn(g)
	b.launchIn(g)
	if a.shim != b.shim {
		t.Fatalf("shims %d and %d, want one", a.shim, b.shim)
	}
	a.start()
	b.start()
	// The second init was spawned while the shim held the first's pipes and sockets.
	for _, x := range []*box{a, b} {
		fds, err := os.ReadDir("/proc/" + strconv.Itoa(x.client.Pid()) + "/fd")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, fd := range fds {
			names = append(names, fd.Name())
		}
		if strings.Join(names, " ") != "0 1 2" {
			t.Errorf("container %s's init has descriptors %v, want 0 1 2", x.opts.ID, names)
		}
	}
	proc := testutil.ReadSpec(t, a.bundle).Process
	proc.Args = []string{"ls", "/proc/self/fd"}
	s, _, err := a.client.Exec(ctx(t), shim.ExecOpts{ID: "fds", Process: proc})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	stdcopy.StdCopy(&out, io.Discard, s)
	s.Close()
	if got := strings.Fields(out.String()); strings.Join(got, " ") != "0 1 2 3" {
		t.Errorf("an exec'd process has descriptors %v open, want 0 1 2 (and ls's own 3)", got)
	}
	for _, x := range []*box{a, b} {
		if err := runtime.New(x.opts.RuntimeRoot).Kill(x.opts.ID, unix.SIGKILL, false); err != nil {
			t.Fatal(err)
		}
		x.wait()
		x.shutdown()
	}
}
