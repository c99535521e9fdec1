// Package testutil holds what tests in several packages need to exercise the
// runtime for real: skipping without root, unique resource names, the berth
// binaries built once per test process, and a runnable bundle whose rootfs is
// busybox plus /testinit (see test/testinit) so no image is needed.
//
// A typical privileged runtime test:
//
//	testutil.RequireRoot(t, "creates namespaces")
//	bundle := testutil.Bundle(t)
//	spec := testutil.ReadSpec(t, bundle)
//	spec.Process.Args = []string{"/testinit", "id"}
//	testutil.WriteSpec(t, bundle, spec)
//	runtime := testutil.Binary(t, "berth-runtime")
//	id := testutil.UniqueID("exec")
//	// run: runtime run --bundle bundle id
//
// Binaries come from $BERTH_BIN_DIR when it holds them (make test sets it),
// and are otherwise built with `go build` into a temporary directory private to
// the test process, removed by a later test process once this one has exited.
package testutil
