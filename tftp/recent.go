package tftp

import (
	"container/list"
	"net/netip"
	"sync"
	"time"
)

// Recent is a bounded set of addresses that expire: the addresses that
// did a DHCP exchange with bootd lately, which the reflection guard
// ([Config].Known) asks about. The zero value is not usable; make one with
// NewRecent. It is safe for concurrent use.
type Recent struct {
	window time.Duration
	max    int
	now    func() time.Time

	mu    sync.Mutex
	byIP  map[netip.Addr]*list.Element
	order list.List // of *recentEntry, oldest first
}

type recentEntry struct {
	addr netip.Addr
	seen time.Time
}

// NewRecent returns a set whose addresses expire window after they were
// last added, holding at most max (the oldest go first when it is full).
func NewRecent(window time.Duration, max int) *Recent {
	return &Recent{window: window, max: max, now: time.Now, byIP: map[netip.Addr]*list.Element{}}
}

// Add notes that addr was seen now. Invalid and unspecified addresses are
// ignored.
func (r *Recent) Add(addr netip.Addr) {
	addr = addr.Unmap()
	if r == nil || !addr.IsValid() || addr.IsUnspecified() {
		return
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.byIP[addr]; ok {
		e.Value.(*recentEntry).seen = now
		r.order.MoveToBack(e)
		return
	}
	r.expireLocked(now)
	for r.order.Len() >= r.max && r.order.Len() > 0 {
		r.removeLocked(r.order.Front())
	}
	r.byIP[addr] = r.order.PushBack(&recentEntry{addr: addr, seen: now})
}

// Has reports whether addr was added within the window.
func (r *Recent) Has(addr netip.Addr) bool {
	if r == nil {
		return false
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byIP[addr.Unmap()]
	return ok && now.Sub(e.Value.(*recentEntry).seen) < r.window
}

// Len is the number of addresses held, expired ones not yet dropped included.
func (r *Recent) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.order.Len()
}

// expireLocked drops the addresses older than the window, oldest first.
func (r *Recent) expireLocked(now time.Time) {
	for e := r.order.Front(); e != nil && now.Sub(e.Value.(*recentEntry).seen) >= r.window; e = r.order.Front() {
		r.removeLocked(e)
	}
}

func (r *Recent) removeLocked(e *list.Element) {
	delete(r.byIP, e.Value.(*recentEntry).addr)
	r.order.Remove(e)
}
