package seccomp

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenNative is the native architecture golden files are compiled for,
// so that they do not depend on the machine running the tests.
const goldenNative = specs.ArchX86_64

// compileFor compiles with annotations, as if on a native host.
func compileFor(cfg *specs.LinuxSeccomp, native specs.Arch) (*Filter, error) {
	return compile(cfg, native, true)
}

func loadConfig(t testing.TB, path string) *specs.LinuxSeccomp {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg specs.LinuxSeccomp
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &cfg
}

// disassemble renders a filter one instruction per line, decoding it with
// golang.org/x/net/bpf (an encoder independent of ours) and printing jump
// targets as absolute instruction numbers.
func disassemble(t testing.TB, f *Filter) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "# %d instructions, flags %#x, notify %v\n", len(f.Program), f.Flags, f.Notify)
	for i, in := range toBPF(t, f) {
		var s string
		switch v := in.(type) {
		case bpf.LoadAbsolute:
			s = fmt.Sprintf("ld [%d]", v.Off)
		case bpf.ALUOpConstant:
			if v.Op != bpf.ALUOpAnd {
				t.Fatalf("instruction %d: unexpected ALU op %v", i, v)
			}
			s = fmt.Sprintf("and #%#x", v.Val)
		case bpf.Jump:
			s = fmt.Sprintf("ja %04d", i+1+int(v.Skip))
		case bpf.JumpIf:
			s = fmt.Sprintf("%s #%#x, %04d, %04d", jumpName(t, v.Cond), v.Val, i+1+int(v.SkipTrue), i+1+int(v.SkipFalse))
		case bpf.RetConstant:
			s = fmt.Sprintf("ret #%#x", v.Val)
		default:
			t.Fatalf("instruction %d: unexpected %T %v", i, in, in)
		}
		if c := f.comments[i].String(); c != "" {
			fmt.Fprintf(&b, "%04d  %-36s ; %s\n", i, s, c)
		} else {
			fmt.Fprintf(&b, "%04d  %s\n", i, s)
		}
	}
	return b.String()
}

func jumpName(t testing.TB, c bpf.JumpTest) string {
	switch c {
	case bpf.JumpEqual:
		return "jeq"
	case bpf.JumpNotEqual:
		return "jne"
	case bpf.JumpGreaterThan:
		return "jgt"
	case bpf.JumpGreaterOrEqual:
		return "jge"
	case bpf.JumpLessThan:
		return "jlt"
	case bpf.JumpLessOrEqual:
		return "jle"
	}
	t.Fatalf("unexpected jump test %v", c)
	return ""
}

func toBPF(t testing.TB, f *Filter) []bpf.Instruction {
	t.Helper()
	raw := make([]bpf.RawInstruction, len(f.Program))
	for i, in := range f.Program {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	insts, ok := bpf.Disassemble(raw)
	if !ok {
		t.Fatalf("program has instructions x/net/bpf cannot decode")
	}
	return insts
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.json: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			f, err := compileFor(loadConfig(t, path), goldenNative)
			if err != nil {
				t.Fatal(err)
			}
			got := disassemble(t, f)
			golden := strings.TrimSuffix(path, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the compiled program (go test -update rewrites it):\n%s", golden, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first lines where want and got part.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, wl, gl)
		}
	}
	return "(no difference)"
}
