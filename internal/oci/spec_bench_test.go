package oci

import (
	"testing"

	"github.com/moby/moby/api/types/container"
)

// BenchmarkSpec measures the spec of `run IMAGE sh`, built on every start.
func BenchmarkSpec(b *testing.B) {
	in := Input{ID: testID, Config: &container.Config{Cmd: []string{"sh"}}, HostConfig: &container.HostConfig{}, Rootfs: b.TempDir(), Host: testHost}
	for b.Loop() {
		if _, err := Spec(in); err != nil {
			b.Fatal(err)
		}
	}
}
