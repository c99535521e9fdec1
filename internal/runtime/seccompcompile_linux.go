package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-engine/berth/internal/runtime/seccomp"
)

// compileSeccomp starts compiling spec's seccomp profile, while the container-side
// process starts, and returns a function giving what that process is sent: the spec
// without the profile, and the compiled filter (nil without a profile). Decoding the
// profile took init more than a millisecond, and compiling it more again.
func compileSeccomp(spec *specs.Spec) func() (*specs.Spec, *seccomp.Filter, error) {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return func() (*specs.Spec, *seccomp.Filter, error) { return spec, nil, nil }
	}
	type result struct {
		f   *seccomp.Filter
		err error
	}
	done := make(chan result, 1)
	go func() {
		f, err := seccomp.Compile(spec.Linux.Seccomp)
		done <- result{f, err}
	}()
	return func() (*specs.Spec, *seccomp.Filter, error) {
		r := <-done
		if r.err != nil {
			return nil, nil, r.err
		}
		sent := *spec
		linux := *spec.Linux
		linux.Seccomp = nil
		sent.Linux = &linux
		return &sent, r.f, nil
	}
}
