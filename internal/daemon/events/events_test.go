package events

import (
	"errors"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
)

// clock returns a broker whose clock advances one second per event, from t0.
func clockedBroker(t0 time.Time) *Broker {
	b := NewBroker()
	next := t0
	b.now = func() time.Time { t := next; next = next.Add(time.Second); return t }
	return b
}

func image(name string) events.Actor {
	return events.Actor{ID: "sha256:0123456789abcdef", Attributes: map[string]string{"name": name}}
}

func TestSubscribeReplaysSinceThenLive(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := clockedBroker(t0)
	b.Publish(events.ImageEventType, events.ActionPull, image("a:latest"))   // t0
	b.Publish(events.ImageEventType, events.ActionTag, image("b:latest"))    // t0+1
	b.Publish(events.ImageEventType, events.ActionDelete, image("c:latest")) // t0+2

	past, sub := b.Subscribe(t0.Add(time.Second), nil)
	defer sub.Close()
	if len(past) != 2 || past[0].Action != events.ActionTag || past[1].Action != events.ActionDelete {
		t.Fatalf("past = %+v, want tag then delete", past)
	}
	if past[0].Scope != "local" || past[0].Time != 1001 || past[0].TimeNano != 1001e9 {
		t.Errorf("message not stamped: %+v", past[0])
	}
	b.Publish(events.ImageEventType, events.ActionPush, image("d:latest"))
	select {
	case m := <-sub.C:
		if m.Action != events.ActionPush {
			t.Fatalf("live event = %+v", m)
		}
	default:
		t.Fatal("live event not delivered")
	}
}

func TestSubscribeWithoutSinceGetsNoHistory(t *testing.T) {
	b := NewBroker()
	b.Publish(events.ImageEventType, events.ActionPull, image("a"))
	past, sub := b.Subscribe(time.Time{}, nil)
	defer sub.Close()
	if len(past) != 0 {
		t.Fatalf("past = %+v", past)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := clockedBroker(t0)
	for range HistorySize + 10 {
		b.Publish(events.ImageEventType, events.ActionPull, image("a"))
	}
	past, sub := b.Subscribe(t0, nil)
	sub.Close()
	if len(past) != HistorySize || past[0].Time != 1010 {
		t.Fatalf("kept %d events from t=%d, want %d from 1010", len(past), past[0].Time, HistorySize)
	}
}

func TestSlowSubscriberIsDropped(t *testing.T) {
	b := NewBroker()
	_, slow := b.Subscribe(time.Time{}, nil)
	_, other := b.Subscribe(time.Time{}, Filter{"type": {"container"}})
	defer other.Close()
	for range SubscriberBuffer + 1 {
		b.Publish(events.ImageEventType, events.ActionPull, image("a"))
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != SubscriberBuffer || !errors.Is(slow.Err(), ErrOverflow) {
		t.Fatalf("slow subscriber got %d events, err %v", n, slow.Err())
	}
	if b.Subscribers() != 1 {
		t.Fatalf("Subscribers() = %d, want 1 (the filtered one never fell behind)", b.Subscribers())
	}
	slow.Close() // closing a dropped subscription is harmless
}

func TestCloseEndsChannel(t *testing.T) {
	b := NewBroker()
	_, sub := b.Subscribe(time.Time{}, nil)
	sub.Close()
	sub.Close()
	if _, ok := <-sub.C; ok {
		t.Fatal("channel still open")
	}
	if sub.Err() != nil || b.Subscribers() != 0 {
		t.Fatalf("err %v, subscribers %d", sub.Err(), b.Subscribers())
	}
}

func TestFilterMatch(t *testing.T) {
	pull := events.Message{Type: events.ImageEventType, Action: events.ActionPull, Scope: "local",
		Actor: events.Actor{ID: "busybox:1.36", Attributes: map[string]string{"name": "busybox:1.36"}}}
	start := events.Message{Type: events.ContainerEventType, Action: events.ActionStart, Scope: "local",
		Actor: events.Actor{ID: "4f2c9a", Attributes: map[string]string{"name": "web", "image": "nginx:latest", "tier": "front"}}}
	exec := events.Message{Type: events.ContainerEventType, Action: "exec_create: sh -c true", Scope: "local",
		Actor: events.Actor{ID: "4f2c9a"}}
	for _, c := range []struct {
		f    Filter
		m    events.Message
		want bool
	}{
		{nil, pull, true},
		{Filter{"type": {"image"}}, pull, true},
		{Filter{"type": {"container", "volume"}}, pull, false},
		{Filter{"event": {"pull", "push"}}, pull, true},
		{Filter{"event": {"exec_create"}}, exec, true},
		{Filter{"event": {"exec_create: sh -c true"}}, exec, true},
		{Filter{"event": {"start"}}, exec, false},
		{Filter{"scope": {"swarm"}}, pull, false},
		{Filter{"image": {"busybox"}}, pull, true},
		{Filter{"image": {"busybox:1.36"}}, pull, true},
		{Filter{"image": {"busy"}}, pull, false},
		{Filter{"image": {"nginx"}}, start, true},
		{Filter{"container": {"4f2"}}, start, true},
		{Filter{"container": {"we"}}, start, true},
		{Filter{"container": {"db"}}, start, false},
		{Filter{"container": {"db", "web"}}, start, true},
		{Filter{"label": {"tier"}}, start, true},
		{Filter{"label": {"tier=front"}}, start, true},
		{Filter{"label": {"tier=front", "zone"}}, start, false},
		{Filter{"type": {"container"}, "event": {"start"}, "container": {"web"}}, start, true},
		{Filter{"type": {"container"}, "event": {"stop"}}, start, false},
	} {
		if got := c.f.Match(c.m); got != c.want {
			t.Errorf("%v matching %s %s: got %v", c.f, c.m.Type, c.m.Action, got)
		}
	}
}

func TestStripTag(t *testing.T) {
	for in, want := range map[string]string{
		"busybox:1.36":           "busybox",
		"host:5000/busybox":      "host:5000/busybox",
		"host:5000/busybox:v1":   "host:5000/busybox",
		"sha256:0123":            "sha256:0123",
		"busybox@sha256:0123abc": "busybox@sha256:0123abc",
	} {
		if got := stripTag(in); got != want {
			t.Errorf("stripTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFilterValidate(t *testing.T) {
	if err := (Filter{"type": {"image"}, "label": {"a"}, "container": {"x"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	err := Filter{"colour": {"red"}}.Validate()
	if !errdefs.IsInvalidArgument(err) || err.Error() != "invalid filter 'colour'" {
		t.Fatalf("got %v", err)
	}
}
