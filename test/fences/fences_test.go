// Package fences checks the import rules of ../shared/DESIGN.md: arrows point down,
// and berth-runtime, which starts once per container, links nothing heavy.
package fences

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/berth-engine/berth/"

// imports returns, for every package of the module, its direct imports.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		m[f[0]] = f[1:]
	}
	return m
}

// deps returns every package pkg links, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestArrowsPointDown(t *testing.T) {
	// A package under the key may not import any package under the values.
	front := []string{"internal/api", "internal/cli", "internal/runtimecli"}
	below := append([]string{"internal/daemon"}, front...)
	forbidden := map[string][]string{
		"internal/runtime": append([]string{"internal/image", "internal/build", "internal/network",
			"internal/cluster", "internal/content", "internal/snapshot", "internal/distribution"}, below...),
		"internal/image":        below,
		"internal/content":      append([]string{"internal/image", "internal/snapshot", "internal/distribution"}, below...),
		"internal/snapshot":     append([]string{"internal/image", "internal/content", "internal/distribution"}, below...),
		"internal/archive":      append([]string{"internal/image", "internal/content", "internal/snapshot"}, below...),
		"internal/distribution": append([]string{"internal/image", "internal/content", "internal/snapshot"}, below...),
		"internal/mount":        append([]string{"internal/image", "internal/snapshot"}, below...),
	}
	for pkg, imps := range imports(t) {
		rel := strings.TrimPrefix(pkg, module)
		for under, bad := range forbidden {
			if rel != under && !strings.HasPrefix(rel, under+"/") {
				continue
			}
			for _, imp := range imps {
				for _, b := range bad {
					if imp == module+b || strings.HasPrefix(imp, module+b+"/") {
						t.Errorf("%s imports %s: %s must not depend on %s", rel, strings.TrimPrefix(imp, module), under, b)
					}
				}
			}
		}
		// Front ends are imported by cmd/ only.
		for _, imp := range imps {
			for _, front := range []string{"internal/api", "internal/cli", "internal/runtimecli"} {
				if (imp == module+front || strings.HasPrefix(imp, module+front+"/")) && !strings.HasPrefix(rel, "cmd/") &&
					!strings.HasPrefix(rel, front) {
					t.Errorf("%s imports %s: only cmd/ may import a front end", rel, front)
				}
			}
		}
	}
}

func TestRuntimeBinaryStaysLean(t *testing.T) {
	// Every package linked into berth-runtime runs its init at each container start.
	for _, d := range deps(t, "cmd/berth-runtime") {
		for _, heavy := range []string{"net", "regexp", "net/http", "github.com/spf13/cobra", "github.com/moby/moby", "google.golang.org/grpc", "github.com/sirupsen/logrus"} {
			if d == heavy || (heavy != "net" && strings.HasPrefix(d, heavy+"/")) {
				t.Errorf("berth-runtime links %s", d)
			}
		}
	}
}
