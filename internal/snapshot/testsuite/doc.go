// Package testsuite is the conformance suite every snapshotter passes: one
// function, Run, called from each implementation's tests with a constructor.
//
//	func TestConformance(t *testing.T) {
//		testsuite.Run(t, func(t *testing.T, root string) snapshot.Snapshotter {
//			sn, err := overlay.New(root)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return sn
//		})
//	}
//
// The cases about the model (keys, parents, kinds, labels, errors, Walk,
// removal, reopening, concurrency, crash leftovers) run as any user. The
// cases about contents mount what the snapshotter returns, as a user of it
// would, and need root: they skip with a message otherwise. Each runs on a
// thread in a private mount namespace (see package mounttest) and checks that
// nothing is left mounted under its directories when it ends.
//
// The crash case assumes the directory layout of package storage
// (<root>/snapshots/<id>) and skips for a snapshotter without it.
package testsuite
