package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestStoreSaveLoadList(t *testing.T) {
	s := Store{Root: t.TempDir()}
	for _, id := range []string{"b", "a"} {
		if err := os.Mkdir(s.dir(id), 0o700); err != nil {
			t.Fatal(err)
		}
		st := &State{ID: id, Bundle: "/b/" + id, Pid: os.Getpid(), Created: time.Now().UTC(), Spec: &specs.Spec{Version: "1.2.1"}}
		if err := s.save(st); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(s.Root, "not-a-container"), 0o700)
	ids, err := s.List()
	if err != nil || strings.Join(ids, ",") != "a,b" {
		t.Fatalf("List = %v, %v; want [a b]", ids, err)
	}
	st, err := s.Load("a")
	if err != nil || st.Bundle != "/b/a" || st.Schema != stateSchema {
		t.Fatalf("Load(a) = %+v, %v", st, err)
	}
	if _, err := s.Load("nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Load(nope) = %v, want ErrNotExist", err)
	}
	os.WriteFile(filepath.Join(s.dir("a"), "state.json"), []byte("{"), 0o600)
	if _, err := s.Load("a"); err == nil || !strings.Contains(err.Error(), "corrupt state") {
		t.Errorf("Load of a torn record = %v, want a corrupt state error", err)
	}
}

func TestAliveNoticesPidReuse(t *testing.T) {
	start, state, err := procStat(os.Getpid())
	if err != nil || state == 0 {
		t.Fatalf("procStat(self) = %d %c %v", start, state, err)
	}
	st := &State{Pid: os.Getpid(), PidStart: start}
	if !st.alive() {
		t.Error("our own process is not alive")
	}
	st.PidStart++
	if st.alive() {
		t.Error("a process with another start time counts as the container's init")
	}
	st.Pid = 0
	if st.alive() {
		t.Error("pid 0 is alive")
	}
}

func TestOCIStateOfAStoppedContainerHasNoPid(t *testing.T) {
	st := &State{ID: "x", Pid: 42, Spec: &specs.Spec{Annotations: map[string]string{"k": "v"}}}
	if o := st.ociState(StatusStopped); o.Pid != 0 || o.Annotations["k"] != "v" {
		t.Errorf("stopped state = %+v", o)
	}
	if o := st.ociState(StatusRunning); o.Pid != 42 {
		t.Errorf("running state pid = %d", o.Pid)
	}
}

func TestMergeResourcesKeepsWhatIsNotUpdated(t *testing.T) {
	lim, res, shares := int64(100), int64(50), uint64(512)
	cur := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim}, CPU: &specs.LinuxCPU{Shares: &shares}}
	out := mergeResources(cur, &specs.LinuxResources{Memory: &specs.LinuxMemory{Reservation: &res}, CPU: &specs.LinuxCPU{Cpus: "0"}})
	if *out.Memory.Limit != 100 || *out.Memory.Reservation != 50 || *out.CPU.Shares != 512 || out.CPU.Cpus != "0" {
		t.Errorf("merged = memory %+v cpu %+v", out.Memory, out.CPU)
	}
}
