package seccomp

import (
	"testing"
)

// BenchmarkCompileDockerDefault measures what every container start pays:
// compiling a Docker-like default profile for x86_64, x86 and x32.
func BenchmarkCompileDockerDefault(b *testing.B) {
	cfg := loadConfig(b, "testdata/docker-default.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compile(cfg, goldenNative, false); err != nil {
			b.Fatal(err)
		}
	}
}
