package seccomp

import (
	"encoding/json"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestFilterSurvivesItsWireForm(t *testing.T) {
	f, err := Compile(&specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Architectures: []specs.Arch{specs.ArchX86_64},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"read", "write", "exit_group"}, Action: specs.ActAllow},
			{Names: []string{"getpid"}, Action: specs.ActNotify},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var back Filter
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Program, f.Program) || back.Flags != f.Flags || back.Notify != f.Notify || !back.Notify {
		t.Errorf("decoded filter differs: %d vs %d instructions, flags %#x vs %#x, notify %t vs %t",
			len(back.Program), len(f.Program), back.Flags, f.Flags, back.Notify, f.Notify)
	}
	for _, bad := range []string{`{"program":""}`, `{"program":"AAAA"}`, `{"program":5}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s decoded without error", bad)
		}
	}
}
