// Package contenttest is the conformance suite for content stores: every
// implementation of the content interfaces (the on-disk Store, and any wrapper
// or remote store added later) runs TestSuite and must pass it unchanged.
package contenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/berth-engine/berth/internal/content"
	"github.com/containerd/errdefs"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Store is what the suite exercises: all four content interfaces.
type Store interface {
	content.Provider
	content.Ingester
	content.Manager
	content.IngestManager
}

// TestSuite runs the conformance tests; newStore returns an empty store that
// the test may use alone.
func TestSuite(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, Store)
	}{
		{"WriteCommitRead", testWriteCommitRead},
		{"DigestKnownOnlyAtCommit", testDigestAtCommit},
		{"SHA512", testSHA512},
		{"WrongDigest", testWrongDigest},
		{"WrongSize", testWrongSize},
		{"WriteBeyondExpectedSize", testWriteBeyondSize},
		{"AlreadyExists", testAlreadyExists},
		{"ResumeAfterClose", testResume},
		{"OtherExpectationRestarts", testOtherExpectation},
		{"Truncate", testTruncate},
		{"RefLocked", testRefLocked},
		{"SameDigestConcurrentRefs", testSameDigestConcurrent},
		{"Delete", testDelete},
		{"Walk", testWalk},
		{"ListIngestsAndAbort", testListAbort},
		{"InvalidInput", testInvalid},
		{"WriteBlobResumes", testWriteBlob},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func desc(b []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

func blob(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func open(t *testing.T, s Store, ref string, d ocispec.Descriptor) content.Writer {
	t.Helper()
	w, err := s.Writer(context.Background(), ref, d)
	if err != nil {
		t.Fatalf("Writer(%q): %v", ref, err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func write(t *testing.T, w content.Writer, b []byte) {
	t.Helper()
	if n, err := w.Write(b); err != nil || n != len(b) {
		t.Fatalf("Write: %d, %v", n, err)
	}
}

func mustCommit(t *testing.T, s Store, ref string, b []byte) ocispec.Descriptor {
	t.Helper()
	d := desc(b)
	w := open(t, s, ref, d)
	write(t, w, b)
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return d
}

// assertStored checks that dgst reads back as want through every read path.
func assertStored(t *testing.T, s Store, dgst digest.Digest, want []byte) {
	t.Helper()
	ctx := context.Background()
	info, err := s.Info(ctx, dgst)
	if err != nil {
		t.Fatalf("Info(%s): %v", dgst, err)
	}
	if info.Digest != dgst || info.Size != int64(len(want)) || info.CreatedAt.IsZero() {
		t.Fatalf("Info = %+v, want digest %s size %d and a creation time", info, dgst, len(want))
	}
	got, err := content.ReadBlob(ctx, s, dgst)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadBlob: %d bytes, %v; want %d bytes", len(got), err, len(want))
	}
	ra, err := s.ReaderAt(ctx, dgst)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	if ra.Size() != int64(len(want)) {
		t.Fatalf("ReaderAt.Size = %d, want %d", ra.Size(), len(want))
	}
	if len(want) > 3 {
		part := make([]byte, 3)
		if _, err := ra.ReadAt(part, int64(len(want)-3)); err != nil && err != io.EOF || !bytes.Equal(part, want[len(want)-3:]) {
			t.Fatalf("ReadAt(tail) = %x, %v", part, err)
		}
	}
	rc, err := s.Reader(ctx, dgst)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	all, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(all, want) {
		t.Fatalf("Reader: %d bytes, %v", len(all), err)
	}
}

func assertAbsent(t *testing.T, s Store, dgst digest.Digest) {
	t.Helper()
	if _, err := s.Info(context.Background(), dgst); !errdefs.IsNotFound(err) {
		t.Fatalf("Info(%s) = %v, want not found", dgst, err)
	}
}

func assertNoIngests(t *testing.T, s Store) {
	t.Helper()
	st, err := s.ListIngests(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 0 {
		t.Fatalf("ingests left behind: %+v", st)
	}
}

func testWriteCommitRead(t *testing.T, s Store) {
	b := blob(100_000, 1)
	d := desc(b)
	w := open(t, s, "layer", d)
	write(t, w, b[:40_000])
	if w.Offset() != 40_000 || w.Digest() != digest.FromBytes(b[:40_000]) {
		t.Fatalf("after a partial write: offset %d digest %s", w.Offset(), w.Digest())
	}
	write(t, w, b[40_000:])
	assertAbsent(t, s, d.Digest) // nothing visible before Commit
	if err := w.Commit(context.Background(), d.Size, d.Digest); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertStored(t, s, d.Digest, b)
	assertNoIngests(t, s)
	if _, err := w.Write([]byte("x")); err == nil {
		t.Fatal("Write after Commit succeeded")
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close after Commit: %v", err)
	}
}

func testDigestAtCommit(t *testing.T, s Store) {
	b := []byte(`{"architecture":"amd64"}`)
	w := open(t, s, "config", ocispec.Descriptor{})
	write(t, w, b)
	if err := w.Commit(context.Background(), int64(len(b)), digest.FromBytes(b)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertStored(t, s, digest.FromBytes(b), b)

	// No expectation at all: the blob is stored under what was written.
	c := []byte("unknown until written")
	w = open(t, s, "import", ocispec.Descriptor{})
	write(t, w, c)
	got := w.Digest()
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertStored(t, s, got, c)
}

func testSHA512(t *testing.T, s Store) {
	b := blob(5000, 3)
	d := ocispec.Descriptor{Digest: digest.SHA512.FromBytes(b), Size: int64(len(b))}
	w := open(t, s, "sha512", d)
	write(t, w, b)
	if w.Digest() != d.Digest {
		t.Fatalf("Digest = %s, want %s", w.Digest(), d.Digest)
	}
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertStored(t, s, d.Digest, b)

	// Written with sha256 in mind, verified against a sha512 at commit.
	c := blob(300, 9)
	w = open(t, s, "late-sha512", ocispec.Descriptor{})
	write(t, w, c)
	wrong := digest.SHA512.FromBytes([]byte("other"))
	if err := w.Commit(context.Background(), 0, wrong); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Commit with a wrong sha512 = %v, want failed precondition", err)
	}
	w = open(t, s, "late-sha512", ocispec.Descriptor{})
	write(t, w, c)
	if err := w.Commit(context.Background(), 0, digest.SHA512.FromBytes(c)); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertStored(t, s, digest.SHA512.FromBytes(c), c)
}

func testWrongDigest(t *testing.T, s Store) {
	b := blob(2048, 5)
	claimed := desc([]byte("what the registry promised"))
	claimed.Size = int64(len(b))
	w := open(t, s, "tampered", claimed)
	write(t, w, b)
	err := w.Commit(context.Background(), 0, "")
	if !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Commit = %v, want failed precondition", err)
	}
	actual := digest.FromBytes(b)
	if msg := err.Error(); !strings.Contains(msg, claimed.Digest.String()) || !strings.Contains(msg, actual.String()) {
		t.Fatalf("error %q does not name expected %s and actual %s", msg, claimed.Digest, actual)
	}
	assertAbsent(t, s, claimed.Digest)
	assertAbsent(t, s, actual)
	assertNoIngests(t, s)
}

func testWrongSize(t *testing.T, s Store) {
	b := blob(1000, 6)
	d := desc(b)
	d.Size = 1001
	w := open(t, s, "short", d)
	write(t, w, b)
	err := w.Commit(context.Background(), 0, "")
	if !errdefs.IsFailedPrecondition(err) || !strings.Contains(err.Error(), "1001") || !strings.Contains(err.Error(), "1000") {
		t.Fatalf("Commit = %v, want failed precondition naming 1001 and 1000", err)
	}
	assertAbsent(t, s, d.Digest)
	assertNoIngests(t, s)

	// The size given to Commit counts too.
	w = open(t, s, "short2", ocispec.Descriptor{})
	write(t, w, b)
	if err := w.Commit(context.Background(), 999, ""); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Commit(999) = %v, want failed precondition", err)
	}
	assertNoIngests(t, s)
}

func testWriteBeyondSize(t *testing.T, s Store) {
	b := blob(100, 7)
	w := open(t, s, "endless", desc(b))
	write(t, w, b[:60])
	if _, err := w.Write(b[:60]); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("Write past the expected size = %v, want failed precondition", err)
	}
	if w.Offset() != 60 {
		t.Fatalf("Offset after a refused write = %d, want 60", w.Offset())
	}
	write(t, w, b[60:])
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func testAlreadyExists(t *testing.T, s Store) {
	b := blob(10, 8)
	d := mustCommit(t, s, "first", b)
	if _, err := s.Writer(context.Background(), "second", d); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("Writer for a stored blob = %v, want already exists", err)
	}
	// Without the digest up front, the commit finds out.
	w := open(t, s, "third", ocispec.Descriptor{})
	write(t, w, b)
	if err := w.Commit(context.Background(), 0, ""); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("Commit of a stored blob = %v, want already exists", err)
	}
	assertStored(t, s, d.Digest, b)
	assertNoIngests(t, s)
}

func testResume(t *testing.T, s Store) {
	b := blob(50_000, 10)
	d := desc(b)
	w := open(t, s, "pull-1", d)
	write(t, w, b[:12_345])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = open(t, s, "pull-1", d)
	if w.Offset() != 12_345 || w.Digest() != digest.FromBytes(b[:12_345]) {
		t.Fatalf("resumed at offset %d digest %s, want 12345 and the prefix's digest", w.Offset(), w.Digest())
	}
	write(t, w, b[12_345:])
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertStored(t, s, d.Digest, b)
}

func testOtherExpectation(t *testing.T, s Store) {
	a, b := blob(100, 11), blob(100, 12)
	w := open(t, s, "ref", desc(a))
	write(t, w, a[:50])
	w.Close()
	w = open(t, s, "ref", desc(b))
	if w.Offset() != 0 {
		t.Fatalf("a Writer expecting another blob resumed at %d, want 0", w.Offset())
	}
	write(t, w, b)
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertStored(t, s, desc(b).Digest, b)
}

func testTruncate(t *testing.T, s Store) {
	b := blob(1000, 13)
	w := open(t, s, "ref", desc(b))
	write(t, w, b[:500])
	write(t, w, []byte("garbage"))
	if err := w.Truncate(500); err != nil {
		t.Fatal(err)
	}
	if w.Offset() != 500 || w.Digest() != digest.FromBytes(b[:500]) {
		t.Fatalf("after Truncate(500): offset %d digest %s", w.Offset(), w.Digest())
	}
	if err := w.Truncate(501); err == nil {
		t.Fatal("Truncate past the end succeeded")
	}
	write(t, w, b[500:])
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	assertStored(t, s, desc(b).Digest, b)
}

func testRefLocked(t *testing.T, s Store) {
	b := blob(10, 14)
	w := open(t, s, "busy", desc(b))
	_, err := s.Writer(context.Background(), "busy", desc(b))
	if !errdefs.IsUnavailable(err) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Writer on a held ref = %v, want unavailable (ref locked)", err)
	}
	if err := s.Abort(context.Background(), "busy"); !errdefs.IsUnavailable(err) {
		t.Fatalf("Abort of a held ref = %v, want unavailable", err)
	}
	w.Close()
	w = open(t, s, "busy", desc(b))
	write(t, w, b)
	if err := w.Commit(context.Background(), 0, ""); err != nil {
		t.Fatal(err)
	}
}

func testSameDigestConcurrent(t *testing.T, s Store) {
	b := blob(1<<20, 15)
	d := desc(b)
	const n = 4
	var ws []content.Writer
	for i := range n {
		ws = append(ws, open(t, s, fmt.Sprintf("pull-%d", i), d))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			for off := 0; off < len(b); off += 64 << 10 {
				if _, err := w.Write(b[off : off+64<<10]); err != nil {
					errs[i] = err
					return
				}
			}
			errs[i] = w.Commit(context.Background(), 0, "")
		})
	}
	wg.Wait()
	var ok int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errdefs.IsAlreadyExists(err):
		default:
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d commits succeeded, want exactly 1 (the rest: already exists)", ok)
	}
	assertStored(t, s, d.Digest, b)
	assertNoIngests(t, s)
}

func testDelete(t *testing.T, s Store) {
	ctx := context.Background()
	b := blob(300, 16)
	d := mustCommit(t, s, "x", b)
	if err := s.Delete(ctx, d.Digest); err != nil {
		t.Fatal(err)
	}
	assertAbsent(t, s, d.Digest)
	if err := s.Delete(ctx, d.Digest); !errdefs.IsNotFound(err) {
		t.Fatalf("second Delete = %v, want not found", err)
	}
	if _, err := s.ReaderAt(ctx, d.Digest); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), d.Digest.String()) {
		t.Fatalf("ReaderAt of a deleted blob = %v, want not found naming the digest", err)
	}
	// Deleted blobs can be written again.
	mustCommit(t, s, "x", b)
	assertStored(t, s, d.Digest, b)
}

func testWalk(t *testing.T, s Store) {
	ctx := context.Background()
	var want []string
	for i := range 5 {
		want = append(want, mustCommit(t, s, fmt.Sprint(i), blob(10+i, byte(i))).Digest.String())
	}
	c := blob(77, 1)
	w := open(t, s, "sha512", ocispec.Descriptor{Digest: digest.SHA512.FromBytes(c)})
	write(t, w, c)
	if err := w.Commit(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	want = append(want, digest.SHA512.FromBytes(c).String())
	open(t, s, "in-progress", ocispec.Descriptor{}) // ingests are not blobs

	var got []string
	sizes := map[string]int64{}
	if err := s.Walk(ctx, func(i content.Info) error {
		got = append(got, i.Digest.String())
		sizes[i.Digest.String()] = i.Size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("Walk saw %v, want %v", got, want)
	}
	if sizes[want[0]] == 0 {
		t.Fatalf("Walk reported no sizes: %v", sizes)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.Walk(ctx, func(content.Info) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Walk with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

func testListAbort(t *testing.T, s Store) {
	ctx := context.Background()
	b := blob(500, 17)
	d := desc(b)
	w := open(t, s, "pull-layer", d)
	write(t, w, b[:123])
	w.Close()
	st, err := s.ListIngests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Ref != "pull-layer" || st[0].Offset != 123 || st[0].Total != 500 ||
		st[0].Expected != d.Digest || st[0].StartedAt.IsZero() || st[0].UpdatedAt.Before(st[0].StartedAt.Add(-1e9)) {
		t.Fatalf("ListIngests = %+v", st)
	}
	if err := s.Abort(ctx, "pull-layer"); err != nil {
		t.Fatal(err)
	}
	assertNoIngests(t, s)
	if err := s.Abort(ctx, "pull-layer"); !errdefs.IsNotFound(err) {
		t.Fatalf("second Abort = %v, want not found", err)
	}
	w = open(t, s, "pull-layer", d)
	if w.Offset() != 0 {
		t.Fatalf("Writer after Abort resumed at %d", w.Offset())
	}
}

func testInvalid(t *testing.T, s Store) {
	ctx := context.Background()
	for _, dgst := range []digest.Digest{"sha256:../../../etc/passwd", "sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", ""} {
		if _, err := s.Info(ctx, dgst); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Info(%q) = %v, want invalid argument", dgst, err)
		}
		if _, err := s.ReaderAt(ctx, dgst); !errdefs.IsInvalidArgument(err) {
			t.Errorf("ReaderAt(%q) = %v, want invalid argument", dgst, err)
		}
		if err := s.Delete(ctx, dgst); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Delete(%q) = %v, want invalid argument", dgst, err)
		}
	}
	if _, err := s.Writer(ctx, "", ocispec.Descriptor{}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Writer with an empty ref = %v, want invalid argument", err)
	}
	if _, err := s.Writer(ctx, "x", ocispec.Descriptor{Digest: "sha256:zz"}); !errdefs.IsInvalidArgument(err) {
		t.Errorf("Writer with a bad digest = %v, want invalid argument", err)
	}
	if _, err := s.Info(ctx, digest.FromString("never written")); !errdefs.IsNotFound(err) {
		t.Errorf("Info of a missing blob = %v, want not found", err)
	}
}

func testWriteBlob(t *testing.T, s Store) {
	ctx := context.Background()
	b := blob(4000, 18)
	d := desc(b)
	w := open(t, s, "blob", d)
	write(t, w, b[:1000])
	w.Close()
	// A reader that fails if asked for the first 1000 bytes again.
	r := &countingReader{r: bytes.NewReader(b)}
	if err := content.WriteBlob(ctx, s, "blob", r, d); err != nil {
		t.Fatal(err)
	}
	if r.read != 3000 {
		t.Fatalf("WriteBlob read %d bytes, want the 3000 after the resumed offset", r.read)
	}
	assertStored(t, s, d.Digest, b)
	if err := content.WriteBlob(ctx, s, "blob", bytes.NewReader(b), d); err != nil {
		t.Fatalf("WriteBlob of a stored blob: %v", err)
	}
	bad := desc([]byte("other"))
	bad.Size = int64(len(b))
	if err := content.WriteBlob(ctx, s, "bad", bytes.NewReader(blob(4000, 19)), bad); !errdefs.IsFailedPrecondition(err) {
		t.Fatalf("WriteBlob of wrong bytes = %v, want failed precondition", err)
	}
	assertNoIngests(t, s)
}

type countingReader struct {
	r    *bytes.Reader
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func (c *countingReader) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }
