package native

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestCopyTreeStopsWhenCancelled(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := copyTree(ctx, src, filepath.Join(t.TempDir(), "dst"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("copyTree with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestCopyTreeRefusesExistingDestination(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	if err := copyTree(t.Context(), src, dst); !errors.Is(err, os.ErrExist) {
		t.Errorf("copyTree onto an existing directory: %v, want it to exist already", err)
	}
}
