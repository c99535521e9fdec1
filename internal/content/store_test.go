package content_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berth-engine/berth/internal/content"
	"github.com/berth-engine/berth/internal/content/contenttest"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// crashEnv makes the test binary act as a process that dies mid-write.
const crashEnv = "BERTH_CONTENT_TEST_CRASH_ROOT"

func TestMain(m *testing.M) {
	if root := os.Getenv(crashEnv); root != "" {
		os.Exit(crashMidWrite(root))
	}
	os.Exit(m.Run())
}

// crashBlob is what the crashing process writes half of.
var crashBlob = bytes.Repeat([]byte("0123456789abcdef"), 64<<10)

func crashDesc() ocispec.Descriptor {
	return ocispec.Descriptor{Digest: digest.FromBytes(crashBlob), Size: int64(len(crashBlob))}
}

func crashMidWrite(root string) int {
	s, err := content.Open(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w, err := s.Writer(context.Background(), "crash", crashDesc())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := w.Write(crashBlob[:len(crashBlob)/2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0 // exit holding the writer: no Close, no Commit
}

func newStore(t *testing.T) *content.Store {
	s, err := content.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreConformance(t *testing.T) {
	contenttest.TestSuite(t, func(t *testing.T) contenttest.Store { return newStore(t) })
}

func TestResumeAfterCrash(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashEnv+"="+root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("crashing writer: %v\n%s", err, out)
	}
	s, err := content.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := s.ListIngests(ctx)
	half := int64(len(crashBlob) / 2)
	if err != nil || len(st) != 1 || st[0].Ref != "crash" || st[0].Offset != half {
		t.Fatalf("ingests after the crash = %+v, %v; want crash at %d", st, err, half)
	}
	w, err := s.Writer(ctx, "crash", crashDesc())
	if err != nil {
		t.Fatalf("Writer after the crash (the dead process's lock must be gone): %v", err)
	}
	defer w.Close()
	if w.Offset() != half {
		t.Fatalf("resumed at %d, want %d", w.Offset(), half)
	}
	if _, err := w.Write(crashBlob[half:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx, 0, ""); err != nil {
		t.Fatalf("Commit after resuming: %v", err)
	}
	got, err := content.ReadBlob(ctx, s, crashDesc().Digest)
	if err != nil || !bytes.Equal(got, crashBlob) {
		t.Fatalf("blob after resuming: %d bytes, %v", len(got), err)
	}
}

// entries lists the paths under dir, relative to it.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLayoutOnDisk(t *testing.T) {
	root := t.TempDir()
	s, err := content.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := []byte("hello blob")
	d := ocispec.Descriptor{Digest: digest.FromBytes(b), Size: int64(len(b))}

	w, err := s.Writer(ctx, "pull", d)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b[:5])
	ingest := filepath.Join(root, "ingest", digest.FromString("pull").Encoded())
	if got := entries(t, ingest); len(got) != 2 || got[0] != "data" || got[1] != "ref.json" {
		t.Fatalf("ingest directory holds %v, want data and ref.json", got)
	}
	w.Write(b[5:])
	if err := w.Commit(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "blobs", "sha256", d.Digest.Encoded())
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o444 || !st.Mode().IsRegular() {
		t.Fatalf("blob mode %v, want -r--r--r--", st.Mode())
	}
	if got := entries(t, filepath.Join(root, "ingest")); len(got) != 0 {
		t.Fatalf("ingest holds %v after a commit", got)
	}

	// Failures leave nothing behind on disk either.
	for i, commit := range []func(content.Writer) error{
		func(w content.Writer) error { return w.Commit(ctx, 0, digest.FromString("no")) },
		func(w content.Writer) error { return w.Commit(ctx, 3, "") },
		func(w content.Writer) error { return w.Commit(ctx, 0, "") }, // already exists
	} {
		w, err := s.Writer(ctx, fmt.Sprint("fail-", i), ocispec.Descriptor{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		if err := commit(w); err == nil {
			t.Fatalf("commit %d succeeded", i)
		}
		w.Close()
	}
	if got := entries(t, filepath.Join(root, "ingest")); len(got) != 0 {
		t.Fatalf("ingest holds %v after failed commits", got)
	}
	if got := entries(t, filepath.Join(root, "blobs")); len(got) != 2 {
		t.Fatalf("blobs holds %v, want sha256 and the one blob", got)
	}
}

func TestTwoStoresOneDirectory(t *testing.T) {
	root := t.TempDir()
	a, _ := content.Open(root)
	b, _ := content.Open(root)
	ctx := context.Background()
	w, err := a.Writer(ctx, "ref", ocispec.Descriptor{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := b.Writer(ctx, "ref", ocispec.Descriptor{}); !errdefs.IsUnavailable(err) {
		t.Fatalf("Writer through a second Store on a held ref = %v, want unavailable", err)
	}
}

func TestPrune(t *testing.T) {
	root := t.TempDir()
	s, err := content.Open(root, content.WithIngestExpiry(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	commit := func(b []byte) digest.Digest {
		if err := content.WriteBlob(ctx, s, string(b), bytes.NewReader(b), ocispec.Descriptor{}); err != nil {
			t.Fatal(err)
		}
		return digest.FromBytes(b)
	}
	kept := commit([]byte("kept blob"))
	gone1 := commit(bytes.Repeat([]byte("a"), 1000))
	gone2 := commit(bytes.Repeat([]byte("b"), 500))

	ingest := func(ref string, n int, age time.Duration) content.Writer {
		w, err := s.Writer(ctx, ref, ocispec.Descriptor{})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(make([]byte, n))
		old := time.Now().Add(-age)
		dir := filepath.Join(root, "ingest", digest.FromString(ref).Encoded())
		for _, f := range []string{"data", "ref.json"} {
			if err := os.Chtimes(filepath.Join(dir, f), old, old); err != nil {
				t.Fatal(err)
			}
		}
		return w
	}
	ingest("stale", 300, 2*time.Hour).Close()
	staleRecord, err := os.ReadFile(filepath.Join(root, "ingest", digest.FromString("stale").Encoded(), "ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	ingest("fresh", 200, time.Minute).Close()
	held := ingest("held-stale", 100, 2*time.Hour) // a Writer still holds it
	defer held.Close()

	freed, err := s.Prune(ctx, func(d digest.Digest) bool { return d == kept })
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	st, _ := s.ListIngests(ctx)
	for _, i := range st {
		refs = append(refs, i.Ref)
	}
	if len(refs) != 2 || !slices.Contains(refs, "fresh") || !slices.Contains(refs, "held-stale") {
		t.Fatalf("ingests after Prune: %v, want fresh and held-stale", refs)
	}
	if want := int64(1000 + 500 + 300 + len(staleRecord)); freed != want {
		t.Fatalf("Prune freed %d bytes, want %d (two blobs, the stale ingest's data and record)", freed, want)
	}
	for _, d := range []digest.Digest{gone1, gone2} {
		if _, err := s.Info(ctx, d); !errdefs.IsNotFound(err) {
			t.Fatalf("pruned blob %s: %v", d, err)
		}
	}
	if _, err := s.Info(ctx, kept); err != nil {
		t.Fatalf("kept blob: %v", err)
	}
}
