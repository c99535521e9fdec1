package archive

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Compression is how a layer blob is compressed.
type Compression int

const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", int(c))
}

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// DetectCompression tells the compression of a stream from its first bytes
// (four are enough). Anything not gzip or zstd is Uncompressed.
func DetectCompression(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	case len(head) >= 4 && head[0]&0xf0 == 0x50 && head[1] == 0x2a && head[2] == 0x4d && head[3] == 0x18:
		return Zstd // a skippable frame (0x184D2A5?) opens the stream
	}
	return Uncompressed
}

// Decompress returns the decompressed bytes of r, whatever of gzip, zstd or
// nothing r is compressed with, and which it was. Gzip is inflated a block
// ahead of the reader (pgzip) and zstd blocks decoded concurrently, so
// decompression overlaps with whatever consumes the stream. Close releases the
// decoder; it does not close r. Checksum failures surface as read errors at the
// end of the stream.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, Uncompressed, fmt.Errorf("detect compression: %w", err)
	}
	c := DetectCompression(head)
	switch c {
	case Gzip:
		z, err := pgzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("gzip: %w", err)
		}
		return z, c, nil
	case Zstd:
		z, err := zstd.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("zstd: %w", err)
		}
		return z.IOReadCloser(), c, nil
	}
	return io.NopCloser(br), c, nil
}

// Compress returns a writer that compresses into w with c at level, a level
// of the format's own scale (gzip 1-9, zstd 1-22) or 0 for its default. Gzip
// is compressed in 1 MiB blocks on every CPU (pgzip) and zstd concurrently;
// both give the same bytes for the same input and level every time. Close
// flushes the stream; it does not close w.
func Compress(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case Uncompressed:
		return nopWriteCloser{w}, nil
	case Gzip:
		if level == 0 {
			level = pgzip.DefaultCompression
		}
		z, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, err
		}
		return z, nil
	case Zstd:
		l := zstd.SpeedDefault
		if level != 0 {
			l = zstd.EncoderLevelFromZstd(level)
		}
		z, err := zstd.NewWriter(w, zstd.WithEncoderLevel(l))
		if err != nil {
			return nil, err
		}
		return z, nil
	}
	return nil, fmt.Errorf("unknown compression %v", c)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
