package oci

import (
	"slices"
	"strings"
	"testing"
)

// TestBoundingSetLimitsPrivileged checks that a daemon whose own bounding set
// lacks a capability (a sandbox without CAP_SYS_RESOURCE) neither grants it to
// --privileged nor accepts --cap-add of it: capset would refuse it at start.
func TestBoundingSetLimitsPrivileged(t *testing.T) {
	const sysResource = 24
	h := Host{Bounding: (1<<41 - 1) &^ (1 << sysResource)}
	got, err := capabilities(nil, nil, true, h)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(got, "CAP_SYS_RESOURCE") || len(got) != 40 || !slices.Contains(got, "CAP_SYS_ADMIN") {
		t.Errorf("--privileged without CAP_SYS_RESOURCE in the bounding set: %v", got)
	}
	_, err = capabilities([]string{"SYS_RESOURCE"}, nil, false, h)
	if err == nil || !strings.Contains(err.Error(), "not available in the current environment") {
		t.Errorf("--cap-add SYS_RESOURCE: %v", err)
	}
}
