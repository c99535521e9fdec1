package imagearchive_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"

	"github.com/berth-engine/berth/internal/archive"
	"github.com/berth-engine/berth/internal/image/imagearchive"
)

// BenchmarkRead loads a Docker-format archive of one 64 MiB layer of random
// bytes into a content store: the cost of `load` before unpacking.
func BenchmarkRead(b *testing.B) {
	cs := newStore(b)
	payload := make([]byte, 64<<20)
	rand.NewChaCha8([32]byte{}).Read(payload)
	m := makeImage(b, cs, "bench", layer{layerTar(b, map[string]string{"blob": string(payload)}), archive.Uncompressed})
	var buf bytes.Buffer
	if err := imagearchive.WriteDocker(context.Background(), &buf, cs, []imagearchive.Named{{Names: []string{"bench"}, Target: m}}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		_, sink := newSink(b)
		if _, err := imagearchive.Read(context.Background(), bytes.NewReader(buf.Bytes()), sink); err != nil {
			b.Fatal(err)
		}
	}
}
