//go:build cgo

package radosstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bootd/bootd/boot"
)

// Live updates between instances (boot.ChangeFeed), by RADOS watch/notify:
// every Store watches one object, "changes", and announces each change it
// made by a notify on it, carrying the MAC and the timeline event if any.
// The OSD hands the notify to every watcher, so the other instances'
// dashboards show a boot that one instance served as it goes. A notify is
// sent after the change is durable, from one goroutine, without holding
// the change up; a Store announcing faster than the cluster takes drops
// the surplus (counted), and a watcher that missed notifies (its watch
// broke, it restarted) still reads the changes from the store at its next
// read: the feed makes dashboards live, it does not carry the state.
const oidChanges = "changes"

// Bounds of the feed.
const (
	feedQueue         = 1024            // announcements waiting to be sent
	notifyTimeout     = 2 * time.Second // a watcher that does not ack is not waited for longer
	rewatchPause      = time.Second     // between attempts to watch again after the watch broke
	watchCheckPeriod  = 5 * time.Second
	maxAnnounceBundle = 64 // announcements sent in one notify
)

var _ boot.ChangeFeed = (*Store)(nil)

// announcement is one change, as sent in a notify.
type announcement struct {
	MAC   string      `json:"mac"`
	Event *boot.Event `json:"event,omitempty"`
}

// notice is a notify's payload: the announcing Store and its changes.
type notice struct {
	From    string         `json:"from"`
	Changes []announcement `json:"changes"`
}

// feed is a Store's side of the watch/notify.
type feed struct {
	once    sync.Once
	id      string // this Store's, to skip its own notifies
	queue   chan announcement
	dropped atomic.Int64
}

func (s *Store) feedInit() *feed {
	s.feed.once.Do(func() {
		var b [8]byte
		_, _ = rand.Read(b[:])
		s.feed.id = hex.EncodeToString(b[:])
		s.feed.queue = make(chan announcement, feedQueue)
		if s.enter() {
			go s.announcer()
		}
	})
	return &s.feed
}

// Announce implements boot.ChangeFeed: it queues the change for the other
// instances and returns at once.
func (s *Store) Announce(mac boot.MAC, ev *boot.Event) {
	f := s.feedInit()
	a := announcement{MAC: mac.String()}
	if ev != nil {
		e := *ev
		a.Event = &e
	}
	select {
	case f.queue <- a:
	default:
		f.dropped.Add(1)
	}
}

// AnnouncementsDropped returns how many changes were not announced because
// the queue was full.
func (s *Store) AnnouncementsDropped() int64 { return s.feedInit().dropped.Load() }

// announcer sends the queued announcements, those waiting bundled into one
// notify, until the Store closes.
func (s *Store) announcer() {
	defer s.goroutines.Done()
	f := &s.feed
	for {
		var a announcement
		select {
		case a = <-f.queue:
		case <-s.closed:
			return
		}
		n := notice{From: f.id, Changes: []announcement{a}}
	bundle:
		for len(n.Changes) < maxAnnounceBundle {
			select {
			case a = <-f.queue:
				n.Changes = append(n.Changes, a)
			default:
				break bundle
			}
		}
		data, err := json.Marshal(n)
		if err != nil {
			continue
		}
		if err := s.ensure(oidChanges); err != nil {
			f.dropped.Add(int64(len(n.Changes)))
			continue
		}
		// Acks are not needed: a watcher that timed out reads the store.
		_, _, _ = s.io.NotifyWithTimeout(oidChanges, data, notifyTimeout)
	}
}

// Follow implements boot.ChangeFeed: it watches the changes object and
// calls fn for every change another Store announced, until ctx ends or the
// Store closes. A broken watch is made again.
func (s *Store) Follow(ctx context.Context, fn func(mac boot.MAC, ev *boot.Event), missed func()) {
	f := s.feedInit()
	if !s.enter() {
		return
	}
	defer s.goroutines.Done()
	for ctx.Err() == nil {
		// Once a watch is up, readers read afresh: what changed while none
		// was up (before the first) is not coming.
		if err := s.ensure(oidChanges); err == nil && s.watch(ctx, f, fn, missed) {
			continue
		}
		select {
		case <-ctx.Done():
		case <-s.closed:
			return
		case <-time.After(rewatchPause):
		}
	}
}

// watch runs one watch of the changes object until it breaks, ctx ends or
// the Store closes; up is called once the watch is made. It reports
// whether to watch again at once (the watch broke after it was up).
func (s *Store) watch(ctx context.Context, f *feed, fn func(mac boot.MAC, ev *boot.Event), up func()) bool {
	w, err := s.io.Watch(oidChanges)
	if err != nil {
		return false
	}
	up()
	defer func() { _ = w.Delete() }()
	check := time.NewTicker(watchCheckPeriod)
	defer check.Stop()
	for {
		select {
		case ne, ok := <-w.Events():
			if !ok {
				return true
			}
			_ = ne.Ack(nil)
			var n notice
			if json.Unmarshal(ne.Data, &n) != nil || n.From == f.id {
				continue
			}
			for _, a := range n.Changes {
				mac, err := boot.ParseMAC(a.MAC)
				if err != nil {
					continue
				}
				fn(mac, a.Event)
			}
		case <-w.Errors():
			return true
		case <-check.C:
			if _, err := w.Check(); err != nil {
				return true
			}
		case <-ctx.Done():
			return false
		case <-s.closed:
			return false
		}
	}
}
