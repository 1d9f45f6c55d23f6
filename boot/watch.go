package boot

import (
	"context"
	"errors"
	"sync"
)

// Live updates. Every change the Service makes goes through its Store; the
// Service wraps its Store in a watchedStore, so that each recorded event is
// handed to the subscriptions that want it, and each changed node is noted
// in a short change log that caches (the dashboard's node list) read to stay
// fresh without reading every node again.

// SubscriptionBuffer is how many events a subscription holds for its reader.
// A reader that lets this many pile up is dropped (see Subscription).
const SubscriptionBuffer = 64

// changeLogSize is how many node changes the change log remembers.
const changeLogSize = 4096

// A Subscription receives the events recorded for one machine, or for every
// machine, from the moment it was made. Publishing never waits for a
// reader: a subscription whose buffer is full when an event arrives is
// dropped, its channel closed and Dropped true, so a slow or stuck reader
// costs the Service nothing. The reader must call Close when done; no
// goroutine runs on its behalf.
type Subscription struct {
	hub *hub
	mac string // canonical MAC, or "" for every machine
	c   chan MACEvent
	// dropped and closed are guarded by hub.mu.
	dropped, closed bool
}

// Events returns the channel of recorded events. It is closed by Close, and
// when the subscription is dropped for falling behind.
func (sub *Subscription) Events() <-chan MACEvent { return sub.c }

// Dropped reports whether the subscription ended because its reader fell
// behind by more than SubscriptionBuffer events. Its reader has missed
// events and should read the state afresh.
func (sub *Subscription) Dropped() bool {
	sub.hub.mu.Lock()
	defer sub.hub.mu.Unlock()
	return sub.dropped
}

// Close ends the subscription and closes its channel. It may be called more
// than once, and after the subscription was dropped.
func (sub *Subscription) Close() {
	sub.hub.mu.Lock()
	defer sub.hub.mu.Unlock()
	sub.hub.remove(sub)
}

// Watch subscribes to the events recorded from now on for mac, or for every
// machine when mac is nil. The caller must Close the subscription.
func (s *Service) Watch(mac MAC) *Subscription {
	sub := &Subscription{hub: &s.hub, c: make(chan MACEvent, SubscriptionBuffer)}
	if mac != nil {
		sub.mac = mac.String()
	}
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if s.hub.subs == nil {
		s.hub.subs = map[*Subscription]struct{}{}
	}
	s.hub.subs[sub] = struct{}{}
	return sub
}

// Watching returns the number of open subscriptions.
func (s *Service) Watching() int {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return len(s.hub.subs)
}

// ChangeMark returns a mark for the change log. A cache takes a mark, then
// reads the nodes; ChangesSince(mark) later tells which nodes changed after
// the mark, so a change made while the cache read is never missed.
func (s *Service) ChangeMark() uint64 {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.hub.seq
}

// ChangesSince returns the MACs of the nodes changed (enrolled, updated,
// removed, or given a timeline event) after mark, each at most once, and a
// new mark. ok is false when more changes were made since mark than the log
// remembers: the caller must read every node again.
func (s *Service) ChangesSince(mark uint64) (changed []MAC, next uint64, ok bool) {
	h := &s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if mark > h.seq || h.seq-mark > changeLogSize {
		return nil, h.seq, false
	}
	seen := make(map[[6]byte]bool, h.seq-mark)
	for i := mark; i < h.seq; i++ {
		m := h.log[i%changeLogSize]
		if !seen[m] {
			seen[m] = true
			changed = append(changed, MAC(append([]byte(nil), m[:]...)))
		}
	}
	return changed, h.seq, true
}

// hub is the Service's subscriptions and change log. Its zero value is ready.
type hub struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
	seq  uint64
	log  [changeLogSize][6]byte
}

// remove ends sub; h.mu must be held.
func (h *hub) remove(sub *Subscription) {
	if sub.closed {
		return
	}
	sub.closed = true
	delete(h.subs, sub)
	close(sub.c)
}

// changed notes that mac's node changed and, when ev is not nil, hands ev to
// the subscriptions that want it.
func (h *hub) changed(mac MAC, ev *Event) {
	if len(mac) != 6 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log[h.seq%changeLogSize] = [6]byte(mac)
	h.seq++
	if ev == nil || len(h.subs) == 0 {
		return
	}
	key := mac.String()
	rec := MACEvent{MAC: append(MAC(nil), mac...), Event: *ev}
	for sub := range h.subs {
		if sub.mac != "" && sub.mac != key {
			continue
		}
		select {
		case sub.c <- rec:
		default:
			sub.dropped = true
			h.remove(sub)
		}
	}
}

// A ChangeFeed is a store shared by several bootd instances that passes
// each instance's changes to the others (RADOS: watch/notify), so that a
// dashboard on one shows, live, a boot that another served.
type ChangeFeed interface {
	// Announce tells the other instances that mac's node changed, and of ev
	// (a timeline event as stored) when not nil. It never waits: an
	// announcement the feed cannot take is dropped; the change itself is
	// in the store.
	Announce(mac MAC, ev *Event)
	// Follow calls fn for each change another instance announced, until
	// ctx ends, and missed whenever announcements may have been lost (its
	// watch broke and was made again). Neither may block.
	Follow(ctx context.Context, fn func(mac MAC, ev *Event), missed func())
}

// FollowChanges hands the changes other instances announce to this
// Service's subscriptions and change log, until ctx ends; it returns at
// once when the store is not shared (no ChangeFeed).
func (s *Service) FollowChanges(ctx context.Context) {
	f, ok := s.store.(watchedStore)
	if !ok || f.feed == nil {
		return
	}
	f.feed.Follow(ctx, s.hub.changed, s.hub.resync)
}

// resync tells every reader that changes may have been missed: caches
// read every node again (ChangesSince says not ok), and subscriptions end
// as dropped, so their readers read the state afresh.
func (h *hub) resync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq += changeLogSize + 1
	for sub := range h.subs {
		sub.dropped = true
		h.remove(sub)
	}
}

// watchedStore is the Service's Store, reporting each change to its hub
// after the change is committed, and announcing it to the other instances
// when the store is shared.
type watchedStore struct {
	Store
	hub  *hub
	feed ChangeFeed // nil: a store of one instance
}

// committed notes a change made here.
func (w watchedStore) committed(mac MAC, ev *Event) {
	w.hub.changed(mac, ev)
	if w.feed != nil && len(mac) == 6 {
		w.feed.Announce(mac, ev)
	}
}

func (w watchedStore) Update(ctx context.Context, mac MAC, fn func(cur *Node) (*Node, error)) (*Node, error) {
	n, err := w.Store.Update(ctx, mac, fn)
	if err == nil {
		w.committed(mac, nil)
	}
	return n, err
}

func (w watchedStore) Delete(ctx context.Context, mac MAC, check func(cur *Node) error) error {
	err := w.Store.Delete(ctx, mac, check)
	if err == nil {
		w.committed(mac, nil)
	}
	return err
}

func (w watchedStore) AppendEvent(ctx context.Context, mac MAC, ev Event, p TimelinePolicy) (Event, error) {
	ev, err := w.Store.AppendEvent(ctx, mac, ev, p)
	if err == nil {
		w.committed(mac, &ev)
	}
	return ev, err
}

// errNoBatch: the store under the watch cannot append a batch at once.
var errNoBatch = errors.New("the store has no batch append")

func (w watchedStore) AppendEvents(ctx context.Context, evs []MACEvent, p TimelinePolicy) ([]Event, error) {
	b, ok := w.Store.(EventBatcher)
	if !ok {
		return nil, errNoBatch
	}
	stored, err := b.AppendEvents(ctx, evs, p)
	if err != nil {
		return nil, err
	}
	for i := range stored {
		w.committed(evs[i].MAC, &stored[i])
	}
	return stored, nil
}

// ScanNodes passes NodeScanner through to the store under the watch.
func (w watchedStore) ScanNodes(ctx context.Context, fn func(*Node) bool) error {
	return scanNodes(ctx, w.Store, fn)
}
