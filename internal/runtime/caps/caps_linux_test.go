package caps

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-engine/berth/internal/testutil"
)

func TestNumbersMatchTheKernelHeaders(t *testing.T) {
	for c, want := range map[Cap]int{
		0: unix.CAP_CHOWN, 8: unix.CAP_SETPCAP, 21: unix.CAP_SYS_ADMIN, 29: unix.CAP_AUDIT_WRITE,
		37: unix.CAP_AUDIT_READ, 38: unix.CAP_PERFMON, 39: unix.CAP_BPF, 40: unix.CAP_CHECKPOINT_RESTORE,
	} {
		if int(c) != want {
			t.Errorf("%s is %d here, %d in the kernel headers", c, c, want)
		}
	}
}

func TestLastCapIsTheKernels(t *testing.T) {
	last := LastCap()
	if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(last), 0, 0, 0); err != nil {
		t.Errorf("kernel does not know LastCap() = %s: %v", last, err)
	}
	if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(last+1), 0, 0, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("kernel knows %d, beyond LastCap() = %d", last+1, last)
	}
}

func TestFromSpecNilIsNoCapabilities(t *testing.T) {
	s, w, err := FromSpec(nil)
	if err != nil || len(w) != 0 || *s != (Sets{}) {
		t.Errorf("FromSpec(nil) = %+v, %q, %v; want empty sets", s, w, err)
	}
}

// onThrowawayThread runs f on a locked OS thread that is never unlocked, so
// the Go runtime terminates the thread, and with it the credentials f changed,
// when f returns.
func onThrowawayThread(f func() error) error {
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		done <- f()
	}()
	return <-done
}

// capStatus parses the Cap* lines of a /proc status file.
func capStatus(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.HasPrefix(k, "Cap") {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}

func wantStatus(s Sets) map[string]string {
	h := func(x Set) string { return fmt.Sprintf("%016x", uint64(x)) }
	return map[string]string{"CapInh": h(s.Inheritable), "CapPrm": h(s.Permitted), "CapEff": h(s.Effective),
		"CapBnd": h(s.Bounding), "CapAmb": h(s.Ambient)}
}

func diffStatus(t *testing.T, where string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %s, want %s", where, k, got[k], v)
		}
	}
}

// threadsWithBounding counts the threads of this process, other than tid,
// whose bounding set is bnd.
func threadsWithBounding(tid int, bnd string) int {
	tasks, _ := os.ReadDir("/proc/self/task")
	n := 0
	for _, task := range tasks {
		if task.Name() == fmt.Sprint(tid) {
			continue
		}
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/status")
		if err == nil && capStatus(string(b))["CapBnd"] == bnd {
			n++
		}
	}
	return n
}

var testSpec = &specs.LinuxCapabilities{
	Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"},
	Permitted:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"},
	Effective:   []string{"CAP_KILL", "CAP_NET_BIND_SERVICE"},
	Inheritable: []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"},
	Ambient:     []string{"CAP_NET_BIND_SERVICE"},
}

// TestApplyOnThread drops a root thread to a few capabilities and checks the
// five sets the kernel reports for that thread, and that a dropped capability
// is really gone.
func TestApplyOnThread(t *testing.T) {
	testutil.RequireRoot(t, "dropping from the bounding set needs CAP_SETPCAP")
	sets, warnings, err := FromSpec(testSpec)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("FromSpec: %v %q", err, warnings)
	}
	file := filepath.Join(t.TempDir(), "owned-by-root")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	before := capStatus(string(b))["CapBnd"]
	var status string
	var chownErr error
	var untouched int
	err = onThrowawayThread(func() error {
		if err := sets.ApplyBounding(); err != nil {
			return err
		}
		if err := sets.Apply(); err != nil {
			return err
		}
		b, err := os.ReadFile("/proc/thread-self/status")
		status = string(b)
		chownErr = unix.Chown(file, 1000, 1000) // CAP_CHOWN is bounding only
		untouched = threadsWithBounding(unix.Gettid(), before)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	diffStatus(t, "thread", capStatus(status), wantStatus(*sets))
	if !errors.Is(chownErr, unix.EPERM) {
		t.Errorf("chown without CAP_CHOWN in effective: %v, want EPERM", chownErr)
	}

	if untouched == 0 {
		t.Errorf("no other thread kept the original bounding set %s", before)
	}
}

// TestSetuidTransition follows the runtime's path for a non-root user:
// bounding, keep caps, setresuid, Apply, execve; the program then has the
// ambient capabilities in its permitted and effective sets.
func TestSetuidTransition(t *testing.T) {
	testutil.RequireRoot(t, "setresuid")
	sets, _, err := FromSpec(testSpec)
	if err != nil {
		t.Fatal(err)
	}
	// A directory the unprivileged user can reach, holding testinit.
	dir, err := os.MkdirTemp("", "berth-test-caps-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	testinit := filepath.Join(dir, "testinit")
	src, err := os.ReadFile(testutil.Binary(t, "testinit"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(testinit, src, 0o755); err != nil {
		t.Fatal(err)
	}

	var capsOut, idOut []byte
	err = onThrowawayThread(func() error {
		if err := sets.ApplyBounding(); err != nil {
			return err
		}
		if err := KeepCaps(true); err != nil {
			return err
		}
		// Raw syscalls: Go's Setresuid would change every thread of the process.
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, 1000, 1000, 1000); e != 0 {
			return fmt.Errorf("setresgid: %w", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, 1000, 1000, 1000); e != 0 {
			return fmt.Errorf("setresuid: %w", e)
		}
		if err := KeepCaps(false); err != nil {
			return err
		}
		if err := sets.Apply(); err != nil {
			return err
		}
		// fork happens on this thread, so the child has its credentials.
		var err error
		if capsOut, err = exec.Command(testinit, "caps").Output(); err != nil {
			return fmt.Errorf("testinit caps: %w", err)
		}
		if idOut, err = exec.Command(testinit, "id").Output(); err != nil {
			return fmt.Errorf("testinit id: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(idOut), "uid=1000 gid=1000") {
		t.Errorf("testinit id = %q, want uid=1000 gid=1000", idOut)
	}
	got := map[string]string{}
	for _, f := range strings.Fields(string(capsOut)) {
		k, v, _ := strings.Cut(f, "=")
		got[k] = v
	}
	// After execve of a plain file by a non-root user, permitted and
	// effective are the ambient set; inheritable and bounding are kept.
	diffStatus(t, "after execve", got, wantStatus(Sets{
		Bounding:    sets.Bounding,
		Inheritable: sets.Inheritable,
		Permitted:   sets.Ambient,
		Effective:   sets.Ambient,
		Ambient:     sets.Ambient,
	}))
}
