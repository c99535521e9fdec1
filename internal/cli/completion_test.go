package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-engine/berth/internal/testutil"
)

//go:generate go test -run TestCompletionScriptsCurrent -update-completion .

var updateCompletion = flag.Bool("update-completion", false, "rewrite contrib/completion from the command tree")

// completionFiles are the scripts shipped in contrib/completion, by shell.
var completionFiles = map[string]string{"bash": "berth.bash", "zsh": "_berth"}

// TestCompletionScriptsCurrent checks that the scripts in contrib/completion
// are what `berth completion` prints today (`go generate ./internal/cli`
// rewrites them).
func TestCompletionScriptsCurrent(t *testing.T) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for shell, name := range completionFiles {
		r := run(t, nil, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, "berth") {
			t.Fatalf("berth completion %s: exit %d %q", shell, r.code, r.stderr)
		}
		path := filepath.Join(root, "contrib", "completion", name)
		if *updateCompletion {
			if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		have, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go generate ./internal/cli writes it)", err)
		}
		if !bytes.Equal(have, []byte(r.stdout)) {
			t.Errorf("%s is stale: run go generate ./internal/cli", path)
		}
	}
}

func TestCompletionCandidates(t *testing.T) {
	// What the scripts ask the binary: verbs, then a verb's flags.
	r := run(t, nil, "__complete", "sys")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "system\t") {
		t.Errorf("__complete sys: exit %d %q", r.code, r.stdout)
	}
	r = run(t, nil, "__complete", "system", "df", "--")
	for _, f := range []string{"--verbose", "--format"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("__complete system df --: lacks %s:\n%s", f, r.stdout)
		}
	}
	// The global options go before the command, as docker's do.
	if strings.Contains(r.stdout, "--host") {
		t.Errorf("__complete system df --: offers the global --host after the command:\n%s", r.stdout)
	}
	if r := run(t, nil, "__complete", "--"); !strings.Contains(r.stdout, "--host") {
		t.Errorf("__complete --: lacks --host:\n%s", r.stdout)
	}
	if r := run(t, nil, "completion", "fish"); r.code != 1 || !strings.Contains(r.stderr, `invalid argument "fish"`) {
		t.Errorf("completion fish: exit %d %q", r.code, r.stderr)
	}
}
