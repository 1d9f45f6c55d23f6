package boot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Discovered machines: machines seen on the wire but not enrolled. Anyone on
// the boot network can send a sighting with any MAC, so their records are
// bounded: at most a set number are kept (the ones seen longest ago are
// forgotten first to make room), and new ones are admitted at a limited
// rate. Enrolled machines are never forgotten here, and a discovered machine
// that is enrolled stops counting.

const (
	// DefaultDiscoveredMax is how many discovered machines are kept when
	// Config.DiscoveredMax is 0.
	DefaultDiscoveredMax = 1000
	// DefaultDiscoveredRate is how many new discovered machines are
	// recorded per minute when Config.DiscoveredRate is 0.
	DefaultDiscoveredRate = 120
)

// DiscoveryStats says how the bound on discovered machines has acted since
// the Service started.
type DiscoveryStats struct {
	// Max is how many discovered machines are kept at most.
	Max int `json:"max"`
	// PerMinute is how many new discovered machines are recorded per minute
	// at most (with a burst of as many).
	PerMinute int `json:"per_minute"`
	// Pruned is how many discovered machines were forgotten to stay under
	// Max, and LastPruned when the last was (zero: never).
	Pruned     int64     `json:"pruned"`
	LastPruned time.Time `json:"last_pruned,omitzero"`
	// Refused is how many sightings of new machines were not recorded
	// because new ones came faster than PerMinute.
	Refused int64 `json:"refused"`
}

// discovery bounds the discovered machines: it is the Service's only way of
// creating one. Creating is serialised by mu, so the count of discovered
// machines read before a creation stays right until it is stored.
type discovery struct {
	max, perMinute int
	mu             sync.Mutex // creating a discovered node; guards tokens and filled
	tokens         float64    // the rate's token bucket, up to perMinute
	filled         time.Time  // when tokens was last brought up to date
	pruned         atomic.Int64
	lastPruned     atomic.Int64 // Unix nanoseconds, 0: never
	refused        atomic.Int64
	warned         atomic.Int64 // Unix seconds of the last warning about refusals
}

func (d *discovery) init(max, perMinute int) {
	d.max, d.perMinute = cmp.Or(max, DefaultDiscoveredMax), cmp.Or(perMinute, DefaultDiscoveredRate)
	d.tokens = float64(d.perMinute)
}

// take takes a token from the bucket at now; d.mu must be held.
func (d *discovery) take(now time.Time) bool {
	if !d.filled.IsZero() && now.After(d.filled) {
		d.tokens += now.Sub(d.filled).Minutes() * float64(d.perMinute)
		d.tokens = min(d.tokens, float64(d.perMinute))
	}
	if d.filled.IsZero() || now.After(d.filled) {
		d.filled = now
	}
	if d.tokens < 1 {
		return false
	}
	d.tokens--
	return true
}

// DiscoveryStats returns the bound's settings and what it has done.
func (s *Service) DiscoveryStats() DiscoveryStats {
	d := &s.disc
	st := DiscoveryStats{Max: d.max, PerMinute: d.perMinute, Pruned: d.pruned.Load(), Refused: d.refused.Load()}
	if ns := d.lastPruned.Load(); ns != 0 {
		st.LastPruned = time.Unix(0, ns)
	}
	return st
}

// errGone: the node a sighting was refreshing went away meanwhile.
var errGone = errors.New("node gone")

// errNotDiscovered: a node about to be pruned was enrolled meanwhile.
var errNotDiscovered = errors.New("node no longer discovered")

// discoverNew records a sighting of a machine that was not stored: under
// d.mu, it takes a token (or refuses the sighting: nil, nil), forgets the
// discovered machines seen longest ago to make room, and stores the new one.
func (s *Service) discoverNew(ctx context.Context, sg Sighting, now time.Time, refresh func(*Node)) (*Node, bool, error) {
	d := &s.disc
	d.mu.Lock()
	defer d.mu.Unlock()
	if n, err := s.refreshSeen(ctx, sg.MAC, refresh); !errors.Is(err, errGone) {
		return n, false, err // stored meanwhile (or the store failed)
	}
	if !d.take(now) {
		s.refuse(now)
		return nil, false, nil
	}
	if err := s.makeRoom(ctx, now); err != nil {
		return nil, false, err
	}
	created := false
	n, err := s.store.Update(ctx, sg.MAC, func(cur *Node) (*Node, error) {
		created = cur == nil // else enrolled meanwhile: only refreshed
		if created {
			cur = &Node{MAC: sg.MAC, State: StateDiscovered, Created: now, Updated: now}
		}
		refresh(cur)
		return cur, nil
	})
	return n, created && err == nil, err
}

// refreshSeen refreshes mac's stored node with refresh, or returns errGone
// when none is stored. It asks Node first (the store's cache): an Update
// whose function fails would roll back the store's batch of concurrent
// writes, which a flood of new MACs must not cost; its own errGone is for
// a node deleted in between, which is rare.
func (s *Service) refreshSeen(ctx context.Context, mac MAC, refresh func(*Node)) (*Node, error) {
	if _, err := s.store.Node(ctx, mac); errors.Is(err, ErrUnknown) {
		return nil, errGone
	} else if err != nil {
		return nil, err
	}
	return s.store.Update(ctx, mac, func(cur *Node) (*Node, error) {
		if cur == nil {
			return nil, errGone
		}
		refresh(cur)
		return cur, nil
	})
}

// refuse counts a refused sighting, and warns at most once a minute.
func (s *Service) refuse(now time.Time) {
	d := &s.disc
	n := d.refused.Add(1)
	if sec := now.Unix(); sec-d.warned.Load() >= 60 {
		d.warned.Store(sec)
		s.log.Warn("new machines seen faster than recorded: sightings not recorded",
			"per_minute", d.perMinute, "refused_total", n)
	}
}

// makeRoom forgets the discovered machines seen longest ago until one more
// fits under the cap; d.mu must be held.
func (s *Service) makeRoom(ctx context.Context, now time.Time) error {
	d := &s.disc
	type seenAt struct {
		mac  MAC
		last time.Time
	}
	var found []seenAt
	err := scanNodes(ctx, s.store, func(n *Node) bool {
		if n.State == StateDiscovered {
			found = append(found, seenAt{append(MAC(nil), n.MAC...), n.LastSeen})
		}
		return true
	})
	if err != nil || len(found) < d.max {
		return err
	}
	slices.SortFunc(found, func(a, b seenAt) int {
		return cmp.Or(a.last.Compare(b.last), slices.Compare(a.mac, b.mac))
	})
	pruned := 0
	for _, f := range found[:len(found)-d.max+1] {
		err := s.store.Delete(ctx, f.mac, func(cur *Node) error {
			if cur == nil || cur.State != StateDiscovered {
				return errNotDiscovered // enrolled or forgotten meanwhile: it no longer counts
			}
			return nil
		})
		switch {
		case errors.Is(err, errNotDiscovered):
		case err != nil:
			return fmt.Errorf("discover: forget %s to stay under %d: %w", f.mac, d.max, err)
		default:
			pruned++
		}
	}
	if pruned > 0 {
		d.pruned.Add(int64(pruned))
		d.lastPruned.Store(now.UnixNano())
		s.log.Info("discovered machines forgotten to stay under the cap", "forgotten", pruned,
			"oldest_seen", found[0].last, "discovered_max", d.max)
	}
	return nil
}
