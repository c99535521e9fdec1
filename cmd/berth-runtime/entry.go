package main

import "github.com/berth-engine/berth/internal/runtime"

// What the entry point (entry_amd64.s) did before the Go runtime started: 0 or a
// negated errno, or notTried. Initialised statically, so the entry point's stores are
// not overwritten by package initialisation.
var (
	usernsResult  int64 = notTried
	unshareResult int64 = notTried
	forkResult    int64 = notTried
)

const notTried = 1

func entryResults() runtime.EntryResults {
	return runtime.EntryResults{UserNS: usernsResult, Unshare: unshareResult, Fork: forkResult}
}
