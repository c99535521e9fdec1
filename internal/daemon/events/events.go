// Package events is the daemon's event broker: the parts of the daemon publish
// what happened ("image pull", "container start") and API clients subscribe to
// the stream, as `docker events` does.
//
// The broker keeps the last HistorySize events so that a subscriber can ask for
// what happened since a moment in the past, then receive the events published
// after it subscribed, in order, without a gap between the two:
//
//	past, sub := broker.Subscribe(since, filter)
//	defer sub.Close()
//	for _, m := range past { ... }
//	for m := range sub.C { ... } // ends when the subscriber falls behind or is closed
//
// Publish never blocks: a subscriber that lets SubscriberBuffer events pile up
// is dropped (its channel closed, Err reports ErrOverflow), so a stuck client
// cannot stall the daemon.
package events

import (
	"errors"
	"sync"
	"time"

	"github.com/moby/moby/api/types/events"
)

// HistorySize is how many past events the broker keeps, as dockerd does.
const HistorySize = 256

// SubscriberBuffer is how many events may wait for a subscriber before it is dropped.
const SubscriberBuffer = 1024

// ErrOverflow is the reason a subscription ended when its reader fell behind.
var ErrOverflow = errors.New("event subscriber fell behind and was dropped")

// Broker records events and fans them out to subscribers. The zero value is not
// usable; make one with NewBroker.
type Broker struct {
	mu      sync.Mutex
	history []events.Message // oldest first, at most HistorySize
	subs    map[*Subscription]struct{}
	now     func() time.Time
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{subs: map[*Subscription]struct{}{}, now: time.Now}
}

// Publish records an event of the given type and action about actor, stamped
// with the current time and the local scope, and delivers it to every
// subscriber whose filter matches. It returns the message as recorded.
func (b *Broker) Publish(typ events.Type, action events.Action, actor events.Actor) events.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.now()
	m := events.Message{
		Type:     typ,
		Action:   action,
		Actor:    actor,
		Scope:    "local",
		Time:     t.Unix(),
		TimeNano: t.UnixNano(),
	}
	if len(b.history) == HistorySize {
		copy(b.history, b.history[1:])
		b.history = b.history[:HistorySize-1]
	}
	b.history = append(b.history, m)
	for s := range b.subs {
		if !s.filter.Match(m) {
			continue
		}
		select {
		case s.ch <- m:
		default:
			s.err = ErrOverflow
			b.dropLocked(s)
		}
	}
	return m
}

// Subscription is one subscriber's stream of events.
type Subscription struct {
	// C delivers the events published after Subscribe that match the filter. It is
	// closed by Close, or when the reader fell behind (then Err returns ErrOverflow).
	C <-chan events.Message

	b      *Broker
	ch     chan events.Message
	filter Filter
	err    error // set under b.mu before ch is closed
}

// Subscribe returns the recorded events at or after since that match f, oldest
// first (none when since is zero), and a subscription to the matching events
// published from now on. The caller must Close the subscription.
func (b *Broker) Subscribe(since time.Time, f Filter) ([]events.Message, *Subscription) {
	ch := make(chan events.Message, SubscriberBuffer)
	s := &Subscription{C: ch, b: b, ch: ch, filter: f}
	b.mu.Lock()
	defer b.mu.Unlock()
	var past []events.Message
	if !since.IsZero() {
		from := since.UnixNano()
		for _, m := range b.history {
			if m.TimeNano >= from && f.Match(m) {
				past = append(past, m)
			}
		}
	}
	b.subs[s] = struct{}{}
	return past, s
}

// Subscribers returns how many subscriptions are open.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Close ends the subscription and closes C. It may be called more than once.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.dropLocked(s)
}

// Err returns ErrOverflow when the subscription was dropped for falling behind,
// nil otherwise. It is meaningful once C is closed.
func (s *Subscription) Err() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.err
}

func (b *Broker) dropLocked(s *Subscription) {
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}
