package image

import (
	"context"
	"testing"
	"time"
)

// TestLastTagTime checks docker inspect's Metadata.LastTagTime as Docker keeps
// it: a pull leaves it zero, a tag sets it, and pulling the image again does
// not take it back.
func TestLastTagTime(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) { testLastTagTime(t, driver) })
}

func testLastTagTime(t *testing.T, driver string) {
	ctx := context.Background()
	reg := startRegistry(t)
	reg.push(t, "test/a", "v1", buildImage(t, amd64, []entry{{"a", "1"}}))
	e := newEnv(t, driver, newClient(t, reg.host))
	ref := reg.host + "/test/a:v1"
	pulled, err := e.svc.Pull(ctx, ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !pulled.LastTagTime.IsZero() {
		t.Errorf("after a pull: LastTagTime %v, want zero", pulled.LastTagTime)
	}
	before := time.Now()
	if err := e.svc.Tag(ctx, ref, "local/a:tagged"); err != nil {
		t.Fatal(err)
	}
	tagged, err := e.svc.Get(ctx, "local/a:tagged")
	if err != nil {
		t.Fatal(err)
	}
	if tagged.LastTagTime.Before(before) || tagged.LastTagTime.After(time.Now()) {
		t.Errorf("after a tag at %v: LastTagTime %v", before, tagged.LastTagTime)
	}
	again, err := e.svc.Pull(ctx, ref, PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.LastTagTime.Equal(tagged.LastTagTime) {
		t.Errorf("pulled again: LastTagTime %v, want the tag's %v", again.LastTagTime, tagged.LastTagTime)
	}
}
