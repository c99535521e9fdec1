package archive

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

// testPayload is compressible but not trivially: random words.
func testPayload(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"layer", "blob", "digest", "manifest", "tar", "gzip", "zstd", "\n"}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(byte(r.IntN(256)))
	}
	return b.Bytes()[:n]
}

func compress(t *testing.T, c Compression, level int, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := Compress(&buf, c, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCompressDecompressRoundTrip(t *testing.T) {
	data := testPayload(1<<20 + 300<<10) // two pgzip blocks
	for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
		for _, level := range []int{0, 1, 9} {
			z := compress(t, c, level, data)
			if c != Uncompressed && len(z) >= len(data) {
				t.Errorf("%v level %d: %d bytes from %d", c, level, len(z), len(data))
			}
			if got := DetectCompression(z); got != c {
				t.Errorf("DetectCompression of %v = %v", c, got)
			}
			rc, got, err := Decompress(bytes.NewReader(z))
			if err != nil || got != c {
				t.Fatalf("Decompress(%v) = %v, %v", c, got, err)
			}
			out, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("%v level %d: %d bytes back, %v", c, level, len(out), err)
			}
		}
	}
}

// Pushing the same layer twice must give the same blob digest.
func TestCompressIsDeterministic(t *testing.T) {
	data := testPayload(5 << 20)
	for _, c := range []Compression{Gzip, Zstd} {
		if !bytes.Equal(compress(t, c, 0, data), compress(t, c, 0, data)) {
			t.Errorf("%v: two compressions of the same bytes differ", c)
		}
	}
}

func TestDecompressDetectsCorruption(t *testing.T) {
	data := testPayload(1 << 20)
	for _, c := range []Compression{Gzip, Zstd} {
		z := compress(t, c, 0, data)
		for name, bad := range map[string][]byte{
			"truncated": z[:len(z)/2],
			"flipped":   append(append(append([]byte{}, z[:len(z)-10]...), z[len(z)-10]^0xff), z[len(z)-9:]...),
		} {
			rc, _, err := Decompress(bytes.NewReader(bad))
			if err == nil {
				_, err = io.ReadAll(rc)
				rc.Close()
			}
			if err == nil {
				t.Errorf("%v %s: read without error", c, name)
			}
		}
	}
}

func TestDetectCompression(t *testing.T) {
	for _, tc := range []struct {
		head []byte
		want Compression
	}{
		{[]byte{0x1f, 0x8b, 0x08, 0}, Gzip},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd},
		{[]byte{0x50, 0x2a, 0x4d, 0x18}, Zstd}, // skippable frame
		{[]byte("usr/"), Uncompressed},
		{[]byte{0x1f}, Uncompressed},
		{nil, Uncompressed},
	} {
		if got := DetectCompression(tc.head); got != tc.want {
			t.Errorf("DetectCompression(%x) = %v, want %v", tc.head, got, tc.want)
		}
	}
	rc, c, err := Decompress(bytes.NewReader(nil))
	if err != nil || c != Uncompressed {
		t.Fatalf("Decompress(empty) = %v, %v", c, err)
	}
	if b, err := io.ReadAll(rc); err != nil || len(b) != 0 {
		t.Fatalf("read of empty: %q, %v", b, err)
	}
}
