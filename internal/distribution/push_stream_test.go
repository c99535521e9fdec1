package distribution

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// streamOnce pushes content as a stream and checks that the registry then serves
// exactly those bytes under the digest PushBlobStream reports.
func streamOnce(t *testing.T, r *Repository, content []byte) {
	t.Helper()
	ctx := context.Background()
	// A reader that gives no length away, as a compressor's pipe does.
	desc, err := r.PushBlobStream(ctx, io.MultiReader(bytes.NewReader(content)))
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.FromBytes(content); desc.Digest != want || desc.Size != int64(len(content)) {
		t.Fatalf("PushBlobStream = %s %d bytes, want %s %d", desc.Digest, desc.Size, want, len(content))
	}
	got, err := fetchAll(ctx, r, ocispec.Descriptor{Digest: desc.Digest, Size: desc.Size})
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("fetching the streamed blob back: %d bytes, %v", len(got), err)
	}
}

func TestPushBlobStream(t *testing.T) {
	rec := &recorder{}
	srv := startRegistry(t, rec.wrap)
	c := newTestClient(t, Config{}, hostOf(srv))
	r := openRepo(t, c, hostOf(srv)+"/stream")
	streamOnce(t, r, randomBytes(3<<20, newSeed()))
	if n := rec.count("PATCH", "/blobs/uploads/"); n != 1 {
		t.Errorf("%d PATCHes, want the whole stream in one", n)
	}
}

func TestPushBlobStreamDockerRegistry(t *testing.T) {
	addr := dockerRegistry(t, nil, nil, "")
	r := openRepo(t, newTestClient(t, Config{}, addr), addr+"/berth/stream")
	streamOnce(t, r, randomBytes(3<<20, newSeed()))
	streamOnce(t, r, nil) // an empty blob is a blob too
}

// TestPushBlobStreamIsNotRetried checks that a failed stream is reported, not
// sent again from a reader that has already been consumed.
func TestPushBlobStreamIsNotRetried(t *testing.T) {
	patches := 0
	srv := startRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.Method == http.MethodPatch {
				patches++
				io.Copy(io.Discard, req.Body)
				http.Error(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`, http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, req)
		})
	})
	r := openRepo(t, newTestClient(t, Config{}, hostOf(srv)), hostOf(srv)+"/stream")
	_, err := r.PushBlobStream(context.Background(), strings.NewReader("layer bytes"))
	if err == nil {
		t.Fatal("a stream the registry refused was reported as pushed")
	}
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		t.Errorf("error %v, want the registry's 503", err)
	}
	if patches != 1 {
		t.Errorf("%d PATCHes, want 1: a stream cannot be sent twice", patches)
	}
}
