package native

import (
	"testing"

	"github.com/berth-engine/berth/internal/snapshot"
	"github.com/berth-engine/berth/internal/snapshot/testsuite"
)

func TestConformance(t *testing.T) {
	testsuite.Run(t, func(t *testing.T, root string) snapshot.Snapshotter {
		sn, err := New(root)
		if err != nil {
			t.Fatal(err)
		}
		return sn
	})
}
