package oci

import (
	"slices"
	"testing"
)

func TestProbeHost(t *testing.T) {
	h := ProbeHost()
	if h.Kernel == (KernelVersion{}) || !h.Kernel.AtLeast(KernelVersion{3, 10}) {
		t.Errorf("kernel = %v", h.Kernel)
	}
	if h.LastCap < 36 {
		t.Errorf("last capability = %d, want at least CAP_BLOCK_SUSPEND (36)", h.LastCap)
	}
	cpus, err := parseCPUList(h.CPUs)
	if err != nil || !slices.Contains(cpus, 0) {
		t.Errorf("online CPUs %q: %v %v", h.CPUs, cpus, err)
	}
	if h.Hostname == "" {
		t.Error("no host name")
	}
	// The probed host must accept a default container.
	in := input(t, func(in *Input) { in.Host = h })
	if _, err := Spec(in); err != nil {
		t.Errorf("Spec on the probed host: %v", err)
	}
}
