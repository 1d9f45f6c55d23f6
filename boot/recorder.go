package boot

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"
)

// Timeline events are written by one writer at a time, in batches: every
// event waiting when a batch starts goes into one store transaction (one
// fsync). Record waits for its batch; RecordFetch does not, so a protocol
// server answers its client without waiting for the disk. Events of one node
// are written in the order they were recorded, whichever of the two was used.

// A MACEvent is an event of a machine's timeline: one to append
// (EventBatcher), or one recorded (Subscription).
type MACEvent struct {
	MAC   MAC
	Event Event
}

// EventBatcher is a Store that can append many events in one transaction.
// AppendEvents returns the events as stored, in order; on error nothing of
// the batch is stored. A Store without it gets one AppendEvent per event.
type EventBatcher interface {
	AppendEvents(ctx context.Context, evs []MACEvent, p TimelinePolicy) ([]Event, error)
}

// Limits of the queue of events recorded with RecordFetch.
const (
	// soonPerNode is how many RecordFetch events of one node may wait for a
	// batch; more are dropped and counted. Repeats are folded first.
	soonPerNode = 32
	// paceMax caps the pause between two batches (see drain).
	paceMax = time.Second
)

// queued is an event waiting for its batch.
type queued struct {
	mac  MAC
	ev   Event
	done chan result // nil for RecordFetch
}

type result struct {
	ev  Event
	err error
}

// recorder is the queue of timeline events and its writer's state.
type recorder struct {
	mu      sync.Mutex
	queue   []*queued
	newest  map[string]*queued // per node: its newest queued event
	soon    map[string]int     // per node: its queued RecordFetch events
	running bool               // a writer is draining the queue
	idle    *sync.Cond         // signalled when the writer stops
	dropped int64              // RecordFetch events dropped (soonPerNode)
}

// init readies the recorder; NewService calls it.
func (r *recorder) init() {
	r.newest, r.soon = map[string]*queued{}, map[string]int{}
	r.idle = sync.NewCond(&r.mu)
}

// RecordFetch queues a finished fetch for mac's timeline, as an event of
// stage from source, and returns at once; the event is written with the
// next batch, in order with the node's other events. It is for the protocol
// servers, which must not wait for the disk. A repeat of the node's newest
// queued event (also a fetch, of the same stage and source, and the same
// but for its duration: see Fetch.repeatedBy) is folded into it and counted in
// its Fetch.Repeats, so a client fetching one file in a loop costs one event
// per batch, while a probe the client aborted and the whole fetch after it
// stay two events. An unknown stage or node is logged. When bootd's DHCP
// reports leases (Config.Leases), only fetches from an address of the node's
// current boot are recorded: a stranger's fetch of a node's files does not
// write its timeline.
func (s *Service) RecordFetch(mac MAC, stage Stage, source netip.Addr, f Fetch) {
	if s.leases {
		// Only the node's own boot writes its timeline: a fetch from an
		// address bootd did not see this MAC take is counted, not recorded.
		if !source.IsValid() || !s.bound(mac, source.Unmap()) {
			s.trust.FetchesUnbound.Add(1)
			return
		}
	}
	f.Repeats = 0 // the recorder counts them
	ev := Event{Stage: stage, Fetch: &f}
	if source.IsValid() {
		ev.Source = source.String()
	}
	ev, err := s.stamp(ev)
	if err != nil {
		s.log.Warn("boot event not recorded", "mac", mac.String(), "err", err)
		return
	}
	s.enqueue(&queued{mac: mac, ev: ev})
}

// stamp checks ev's stage, sets its time to now when it has none, and
// names this instance as its recorder.
func (s *Service) stamp(ev Event) (Event, error) {
	if !ValidStage(ev.Stage) {
		return ev, invalid("unknown stage %q", ev.Stage)
	}
	if ev.Time.IsZero() {
		ev.Time = s.now()
	}
	ev.Instance = s.instance
	return ev, nil
}

// sameFetch reports whether b repeats a (see RecordFetch).
func sameFetch(a, b Event) bool {
	return a.Stage == b.Stage && a.Source == b.Source && a.Fetch.repeatedBy(b.Fetch)
}

// Record adds an event to mac's timeline, moves the node's state along, and
// returns once the event is stored. A zero ev.Time means now.
func (s *Service) Record(ctx context.Context, mac MAC, ev Event) (Event, error) {
	ev, err := s.stamp(ev)
	if err != nil {
		return Event{}, err
	}
	if err := ctx.Err(); err != nil {
		return Event{}, err
	}
	q := &queued{mac: mac, ev: ev, done: make(chan result, 1)}
	s.enqueue(q)
	select {
	case r := <-q.done:
		return r.ev, r.err
	case <-ctx.Done():
		return Event{}, ctx.Err() // it may still be written
	}
}

// Flush returns once every event recorded before it is written, or when ctx
// ends. bootd calls it on shutdown, before closing the store.
func (s *Service) Flush(ctx context.Context) error {
	r := &s.rec
	stop := context.AfterFunc(ctx, func() {
		r.mu.Lock()
		r.idle.Broadcast()
		r.mu.Unlock()
	})
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.running && ctx.Err() == nil {
		r.idle.Wait()
	}
	if r.running {
		return ctx.Err()
	}
	return nil
}

// DroppedEvents returns how many RecordFetch events were dropped because
// their node had too many waiting.
func (s *Service) DroppedEvents() int64 {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return s.rec.dropped
}

func (s *Service) enqueue(q *queued) {
	r := &s.rec
	key := string(q.mac)
	r.mu.Lock()
	defer r.mu.Unlock()
	if q.done == nil {
		if n := r.newest[key]; n != nil && n.done == nil && sameFetch(n.ev, q.ev) {
			n.ev.Fetch.Repeats++
			return
		}
		if r.soon[key] >= soonPerNode {
			r.dropped++
			return
		}
		r.soon[key]++
	}
	r.queue = append(r.queue, q)
	r.newest[key] = q
	if !r.running {
		r.running = true
		go s.drain()
	}
}

// drain writes batches until the queue is empty. After a batch that took
// over a millisecond it pauses sixteen times as long (at most paceMax), so that
// a flood of fetch events keeps the writer to about a seventeenth of a core and
// lets more events gather (and fold) into the next batch; a Record waits
// through the pause too.
func (s *Service) drain() {
	r := &s.rec
	for {
		r.mu.Lock()
		batch := r.queue
		r.queue = nil
		clear(r.newest)
		clear(r.soon)
		if len(batch) == 0 {
			r.running = false
			r.idle.Broadcast()
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()

		start := time.Now()
		s.writeBatch(batch)
		if took := time.Since(start); took > time.Millisecond {
			time.Sleep(min(16*took, paceMax))
		}
	}
}

// writeBatch stores batch in one transaction when the store can, else (or
// when that transaction fails, so that one bad event loses only itself)
// event by event, and answers the waiters.
func (s *Service) writeBatch(batch []*queued) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evs := make([]MACEvent, len(batch))
	for i, q := range batch {
		evs[i] = MACEvent{MAC: q.mac, Event: q.ev}
	}
	if b, ok := s.store.(EventBatcher); ok && len(batch) > 1 {
		stored, err := b.AppendEvents(ctx, evs, s.timeline)
		if err == nil {
			for i, q := range batch {
				s.written(q, stored[i], nil)
			}
			return
		}
		if !errors.Is(err, errNoBatch) {
			s.log.Debug("timeline batch failed; writing its events one by one", "events", len(batch), "err", err)
		}
	}
	for i, q := range batch {
		ev, err := s.store.AppendEvent(ctx, q.mac, evs[i].Event, s.timeline)
		s.written(q, ev, err)
	}
}

// written answers q's waiter, or logs what went wrong for a RecordFetch event.
func (s *Service) written(q *queued, ev Event, err error) {
	if err == nil {
		s.log.Debug("boot event", "mac", q.mac.String(), "stage", string(ev.Stage), "ip", ev.Source, "boot", ev.Boot, "detail", ev.Text())
	}
	if q.done != nil {
		q.done <- result{ev, err}
		return
	}
	if err != nil {
		s.log.Warn("boot event not recorded", "mac", q.mac.String(), "stage", string(q.ev.Stage), "err", err)
	}
}
