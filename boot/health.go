package boot

import (
	"sync"
	"sync/atomic"
	"time"
)

// Admission tied to Ceph's health: when the cluster cannot take a boot (its
// monitors do not answer, it is HEALTH_ERR, the pool takes no write), a node
// that boots from a volume gets a short "wait and retry" script instead of
// one that would fail half-way at its key or its map. A prober outside the
// domain (cmd/bootd, through the volume backend) tells the Service what it
// found; the script path only reads that answer, so a flood of script
// requests never reaches Ceph. The same script answers a node over the cap
// on boots in flight (admission.go); and a key request that meets Ceph down
// is told to ask again without spending its token (keyrelease.go), which is
// how a Raspberry Pi, whose firmware runs no script, waits.

// CephHealth is what the last probe of the cluster found.
type CephHealth struct {
	// OK reports that the cluster can take a boot.
	OK bool `json:"ok"`
	// Reason says why it cannot, for consoles, timelines and logs.
	Reason string `json:"reason,omitempty"`
	// Checked is when the probe ended; zero before the first one.
	Checked time.Time `json:"checked,omitzero"`
}

// waitNoteEvery is how often a waiting node's timeline gets a "waiting for
// Ceph" event: once, and again after this long, not at every retry.
const waitNoteEvery = time.Minute

// health holds the last probe and what waiting nodes were told.
type health struct {
	last    atomic.Pointer[CephHealth]
	mu      sync.Mutex
	noted   map[string]waitNote // MAC -> its wait last written
	waiting [2]atomic.Int64     // wait scripts served, by WaitCauses' index
}

// waitNote is when a node's wait was last written to its timeline, and why.
type waitNote struct {
	at    time.Time
	cause WaitCause
}

// SetCephHealth records a probe's result; a change is logged.
func (s *Service) SetCephHealth(h CephHealth) {
	prev := s.health.last.Swap(&h)
	switch {
	case prev != nil && prev.OK == h.OK:
	case h.OK:
		s.log.Info("ceph can take boots again")
	default:
		s.log.Warn("ceph cannot take boots: booting nodes are told to wait", "reason", h.Reason)
	}
}

// CephHealth returns the last probe's result (OK and zero Checked before any).
func (s *Service) CephHealth() CephHealth {
	if h := s.health.last.Load(); h != nil {
		return *h
	}
	return CephHealth{OK: true}
}

// WaitScripts returns how many wait-and-retry scripts were served for cause.
func (s *Service) WaitScripts(cause WaitCause) int64 {
	if i := causeIndex(cause); i >= 0 {
		return s.health.waiting[i].Load()
	}
	return 0
}

func causeIndex(c WaitCause) int {
	for i, w := range WaitCauses {
		if w == c {
			return i
		}
	}
	return -1
}

// waitFor is why n must wait for Ceph before it boots, "" when it need not:
// only a node with a volume, with a backend, while the last probe failed.
func (s *Service) waitFor(n *Node) string {
	if s.volumes == nil || n.Volume == "" {
		return ""
	}
	if h := s.CephHealth(); !h.OK {
		return "waiting for Ceph: " + h.Reason
	}
	return ""
}

// NoteWaiting records that mac was served a wait-and-retry script for
// cause (reason says why, as its script does): it is counted, and its
// timeline says so once a minute at most (or when the cause changes). It
// returns at once; the event is written in the background.
func (s *Service) NoteWaiting(mac MAC, cause WaitCause, reason string) {
	if i := causeIndex(cause); i >= 0 {
		s.health.waiting[i].Add(1)
	}
	s.noteWait(mac, cause, reason)
}

// noteWait writes reason to mac's timeline as a warning, unless it wrote
// one for the same cause less than a minute ago.
func (s *Service) noteWait(mac MAC, cause WaitCause, reason string) {
	now := s.now()
	s.health.mu.Lock()
	if s.health.noted == nil {
		s.health.noted = map[string]waitNote{}
	}
	last, ok := s.health.noted[mac.String()]
	write := !ok || last.cause != cause || now.Sub(last.at) >= waitNoteEvery
	if write {
		s.health.noted[mac.String()] = waitNote{at: now, cause: cause}
		for k, n := range s.health.noted { // bounded by the nodes enrolled; drop old ones
			if now.Sub(n.at) > time.Hour {
				delete(s.health.noted, k)
			}
		}
	}
	s.health.mu.Unlock()
	if write { // queued for the timeline writer, as a fetch is: never waited for
		ev, err := s.stamp(Event{Stage: StageWarning, Detail: Printable(reason)})
		if err != nil {
			s.log.Warn("timeline: waiting note not written", "mac", mac.String(), "err", err)
			return
		}
		s.enqueue(&queued{mac: mac, ev: ev})
	}
}
