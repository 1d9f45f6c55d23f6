package boot

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Admission: a cap on boots in flight. A boot is in flight from the moment
// its node, booting from a volume, is handed its real boot script (a token
// issued in its session) until its key goes out, its boot window closes or
// its session ends. While as many boots as the cap are in flight, a node
// that asks for its iPXE script gets the same wait-and-retry script as while
// Ceph is down (bootfs.waitScript), so that a rack powered on at once does
// not fall on the monitors all together. A retry of a boot in flight is not
// counted again and never refused. A Raspberry Pi's cmdline.txt is counted
// but never refused: its firmware runs no script that could wait; it waits
// at its key instead (RedeemBootKey, ErrCephUnavailable).

// DefaultMaxBootsInFlight is cmd/bootd's default cap (max_boots_in_flight):
// docs/operations.md ("Waiting for Ceph") says why it is this.
const DefaultMaxBootsInFlight = 256

// ErrTooManyBoots reports that a boot was not admitted because as many boots
// as the cap are in flight; the node is told to wait and ask again.
var ErrTooManyBoots = errors.New("too many boots in flight")

// A WaitCause is why a node was told to wait, for metrics.
type WaitCause string

// The causes of a wait.
const (
	// WaitCeph: the last probe found that Ceph cannot take a boot.
	WaitCeph WaitCause = "ceph"
	// WaitBusy: as many boots as max_boots_in_flight are in flight.
	WaitBusy WaitCause = "busy"
)

// WaitCauses lists every WaitCause, for metrics.
var WaitCauses = []WaitCause{WaitCeph, WaitBusy}

// admit puts cur, the current session of the MAC key, in flight. A boot
// already in flight passes; another passes when capped is false or fewer
// than the cap are in flight, else it gets an error wrapping
// ErrTooManyBoots. The cap counts this instance's boots: each instance
// sharing a store keeps its own.
func (s *Service) admit(key string, cur *Session, now time.Time, capped bool) error {
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	if f, ok := s.sess.flight[key]; ok && f.id == cur.ID {
		s.sess.flight[key] = flight{id: cur.ID, last: cur.Last}
		return nil
	}
	if n := s.inFlightLocked(now); capped && s.maxInFlight > 0 && n >= s.maxInFlight {
		return fmt.Errorf("%w (%d)", ErrTooManyBoots, n)
	}
	s.sess.flight[key] = flight{id: cur.ID, last: cur.Last}
	return nil
}

// inFlightLocked drops the entries whose window closed and returns how
// many remain. The caller holds s.sess.mu.
func (s *Service) inFlightLocked(now time.Time) int {
	for k, f := range s.sess.flight {
		if now.Sub(f.last) > s.window {
			delete(s.sess.flight, k)
		}
	}
	return len(s.sess.flight)
}

// landed takes the boot id of the MAC key out of flight: its key went out,
// or it can no longer get it in this boot (fenced).
func (s *Service) landed(key, id string) {
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	if s.sess.flight[key].id == id {
		delete(s.sess.flight, key)
	}
}

// BootsInFlight returns how many boots are in flight now, and the cap (0:
// none).
func (s *Service) BootsInFlight() (n, max int) {
	now := s.now()
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	return s.inFlightLocked(now), s.maxInFlight
}

// AdmitBoot is IssueBootToken for a node's iPXE script, under the cap on
// boots in flight: a boot not yet in flight while the cap is reached gets
// no token and an error wrapping ErrTooManyBoots, whose text says how many
// are in flight (the node's wait script prints it). Its checks of the
// session come first: a request that would get ErrNotBound never takes a
// place, so nobody but the booting machine can fill the cap.
func (s *Service) AdmitBoot(mac MAC, addr netip.Addr) (string, error) {
	return s.issueToken(mac, addr, true)
}
