package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"testing"
)

// benchLayer is a layer shaped like a distribution's: many small files in
// a few hundred directories.
func benchLayer(b *testing.B) []byte {
	uid, gid := me()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := testPayload(12 << 10)
	for d := range 200 {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("usr/share/d%03d/", d), Mode: 0o755, Uid: uid, Gid: gid, ModTime: baseTime})
		for f := range 25 {
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("usr/share/d%03d/f%02d", d, f), Mode: 0o644,
				Uid: uid, Gid: gid, ModTime: baseTime, Size: int64(len(body))})
			tw.Write(body)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkApply(b *testing.B) {
	layer := benchLayer(b)
	for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
		var z bytes.Buffer
		w, _ := Compress(&z, c, 0)
		w.Write(layer)
		w.Close()
		b.Run(c.String(), func(b *testing.B) {
			b.SetBytes(int64(len(layer)))
			for b.Loop() {
				rc, _, err := Decompress(bytes.NewReader(z.Bytes()))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Apply(context.Background(), b.TempDir(), rc, ApplyOptions{}); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

func BenchmarkTar(b *testing.B) {
	dir := b.TempDir()
	layer := benchLayer(b)
	if _, err := Apply(context.Background(), dir, bytes.NewReader(layer), ApplyOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(layer)))
	for b.Loop() {
		var buf bytes.Buffer
		buf.Grow(len(layer))
		if err := Tar(context.Background(), dir, &buf); err != nil {
			b.Fatal(err)
		}
	}
}
