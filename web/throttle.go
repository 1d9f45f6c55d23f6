package web

import (
	"slices"
	"sync"
	"time"
)

// Failed logins and failed API tokens are throttled per client address and,
// for logins, per user name: each key remembers the times of its last
// FailureLimit failures, and once FailureLimit of them fall within
// FailureWindow, the key's next attempt is refused with a 429 before its
// credential is even looked at. A guesser gets at most FailureLimit tries
// per FailureWindow per address and per user, whatever it sends; successes
// cost nothing. (A token bucket, as golang.org/x/time/rate keeps, lets a
// full bucket plus its refill through in one window, up to twice the limit;
// the log of times keeps the count exact.)

const (
	// FailureLimit is how many failures a key may have in FailureWindow;
	// the attempt after them is throttled.
	FailureLimit  = 10
	FailureWindow = time.Minute
	// failureKeys bounds the keys remembered; beyond it, keys with no
	// failure in the window go first, then the least recent.
	failureKeys = 10000
)

// throttle counts failures per key.
type throttle struct {
	mu   sync.Mutex
	keys map[string]*failures
	now  func() time.Time
}

// failures is a ring of one key's last FailureLimit failure times.
type failures struct {
	at   [FailureLimit]time.Time
	next int // where the next failure goes; at[next] is the oldest
}

func (f *failures) last() time.Time { return f.at[(f.next+FailureLimit-1)%FailureLimit] }

func newThrottle() *throttle {
	return &throttle{keys: map[string]*failures{}, now: time.Now}
}

// blocked reports whether any of keys has had FailureLimit failures within
// the window, and how long until its oldest leaves the window.
func (t *throttle) blocked(keys ...string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		f, ok := t.keys[k]
		if !ok {
			continue
		}
		if oldest := f.at[f.next]; !oldest.IsZero() && now.Sub(oldest) < FailureWindow {
			return true, FailureWindow - now.Sub(oldest)
		}
	}
	return false, 0
}

// failed records one failure of each key.
func (t *throttle) failed(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	for _, k := range keys {
		if k == "" {
			continue
		}
		f, ok := t.keys[k]
		if !ok {
			if len(t.keys) >= failureKeys {
				t.pruneLocked(now)
			}
			f = &failures{}
			t.keys[k] = f
		}
		f.at[f.next] = now
		f.next = (f.next + 1) % FailureLimit
	}
}

// pruneLocked makes room: keys whose last failure left the window go
// first; if that is not enough, the least recent until half are left.
func (t *throttle) pruneLocked(now time.Time) {
	for k, f := range t.keys {
		if now.Sub(f.last()) >= FailureWindow {
			delete(t.keys, k)
		}
	}
	if len(t.keys) <= failureKeys/2 {
		return
	}
	keys := make([]string, 0, len(t.keys))
	for k := range t.keys {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return t.keys[a].last().Compare(t.keys[b].last()) })
	for _, k := range keys[:len(keys)-failureKeys/2] {
		delete(t.keys, k)
	}
}
