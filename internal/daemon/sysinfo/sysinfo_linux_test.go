package sysinfo

import "testing"

func TestReadHostOnThisMachine(t *testing.T) {
	h := ReadHost()
	if h.KernelVersion == "" || h.Architecture == "" || h.OperatingSystem == "" || h.NCPU < 1 || h.MemTotal <= 0 {
		t.Fatalf("incomplete host description: %+v", h)
	}
	if c := ReadCgroups(); c.Version != "1" && c.Version != "2" {
		t.Fatalf("cgroup version %q", c.Version)
	}
}
