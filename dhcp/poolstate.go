package dhcp

import (
	"container/heap"
	"context"
	"net"
	"net/netip"
	"time"
)

// counts is what the pool holds for clients, in all or for one address.
type counts struct {
	offers        int // outstanding offers
	unknownOffers int // ... to clients not enrolled
	unknownLeases int // live leases of clients not enrolled
	quarantined   int // addresses declined, out of use for a while
}

// limits are the pool's caps (Pool.limits).
type limits struct {
	offers, unknownLeases, quarantined, declinesPerClient int
}

// settle brings u's slot up to date at now, under mu: an offer whose hold
// ended is forgotten (with the MAC's hint, when it held nothing else), the
// pool's counters and free sets follow the slot, and its next timed change
// is scheduled.
func (p *pool) settle(u uint32, s *slot, now time.Time) {
	if s.offerMAC != "" && !s.offerUntil.After(now) {
		if s.mac != s.offerMAC {
			p.unhint(s.offerMAC, u)
		}
		s.offerMAC = ""
	}
	lease := s.mac != "" && s.expiry.After(now)
	quar := s.mac == "" && s.expiry.After(now)
	var c counts
	if s.offerMAC != "" {
		c.offers = 1
		if s.offerUnknown {
			c.unknownOffers = 1
		}
	}
	if lease && s.unknown {
		c.unknownLeases = 1
	}
	if quar {
		c.quarantined = 1
	}
	if s.counted.quarantined != c.quarantined && s.declinedBy != "" {
		p.declines[s.declinedBy] += c.quarantined - s.counted.quarantined
		if p.declines[s.declinedBy] <= 0 {
			delete(p.declines, s.declinedBy)
		}
	}
	if !quar {
		s.declinedBy = ""
	}
	p.total.offers += c.offers - s.counted.offers
	p.total.unknownOffers += c.unknownOffers - s.counted.unknownOffers
	p.total.unknownLeases += c.unknownLeases - s.counted.unknownLeases
	p.total.quarantined += c.quarantined - s.counted.quarantined
	s.counted = c
	if p.dynamic(u) {
		i := u - p.start
		p.fresh.remove(i)
		p.back.remove(i)
		switch {
		case lease || quar || s.offerMAC != "":
		case s.mac != "" && p.byMAC[s.mac] == u:
			p.back.add(i) // its last client may come back for it
		default:
			p.fresh.add(i)
		}
	}
	switch {
	case s.offerMAC != "":
		p.schedule(u, s, s.offerUntil)
	case lease || quar:
		p.schedule(u, s, s.expiry)
	}
}

// wakeup is a slot's timed change.
type wakeup struct {
	at time.Time
	u  uint32
}

// wakeups is a min-heap of wakeup by time.
type wakeups []wakeup

func (w wakeups) Len() int           { return len(w) }
func (w wakeups) Less(i, j int) bool { return w[i].at.Before(w[j].at) }
func (w wakeups) Swap(i, j int)      { w[i], w[j] = w[j], w[i] }
func (w *wakeups) Push(x any)        { *w = append(*w, x.(wakeup)) }
func (w *wakeups) Pop() any {
	old := *w
	x := old[len(old)-1]
	*w = old[:len(old)-1]
	return x
}

// schedule makes u's slot settle again at t. A slot keeps one live
// wakeup, its earliest: a later change is scheduled when that one fires.
// Entries left behind by an earlier schedule are dropped when they fire,
// and the heap is rebuilt from the slots if they pile up, so it never
// holds much more than an entry per address.
func (p *pool) schedule(u uint32, s *slot, t time.Time) {
	if !s.sched.IsZero() && !t.Before(s.sched) {
		return
	}
	s.sched = t
	heap.Push(&p.wake, wakeup{at: t, u: u})
	if len(p.wake) > 2*len(p.slots)+64 {
		p.wake = p.wake[:0]
		for v, o := range p.slots {
			if !o.sched.IsZero() {
				p.wake = append(p.wake, wakeup{at: o.sched, u: v})
			}
		}
		heap.Init(&p.wake)
	}
}

// wakeUp applies, under mu, every timed change due by now.
func (p *pool) wakeUp(now time.Time) {
	for len(p.wake) > 0 && !p.wake[0].at.After(now) {
		w := heap.Pop(&p.wake).(wakeup)
		s := p.slots[w.u]
		if s == nil || !s.sched.Equal(w.at) {
			continue // replaced by an earlier one
		}
		s.sched = time.Time{}
		p.settle(w.u, s, now)
	}
}

// decline takes ip out of use until until, because mac found it in use by
// another host (RFC 2131 section 4.3.3); the address is stored declined so
// that a restart within the hold keeps it out. Only the client the address
// was given to may decline it. The pool keeps at most declinesPerClient
// quarantined addresses per client and quarantined in all: past either, the
// client's lease or offer just ends (the address is free again, and the
// client is not sent back to it), and decline reports limited.
func (p *pool) decline(ctx context.Context, mac net.HardwareAddr, ip netip.Addr, until, now time.Time) (limited bool, err error) {
	m := mac.String()
	_, err = p.change(ctx, ip, now, func(s *slot) bool {
		if s.mac != m && s.offerMAC != m {
			return false
		}
		p.unhint(m, ip4(ip))
		if p.declines[m] >= p.lim.declinesPerClient || p.total.quarantined >= p.lim.quarantined {
			limited = true
			s.offerMAC = ""
			if s.mac != m || !s.expiry.After(now) {
				p.settle(ip4(ip), s, now)
				return false // an offer only: nothing to store
			}
			s.expiry = now
			return true
		}
		s.mac, s.hw, s.expiry, s.offerMAC, s.unknown = "", nil, until, "", false
		s.declinedBy, s.by = m, append(net.HardwareAddr(nil), mac...)
		return true
	})
	return limited, err
}

// PoolStats are counts of full mode's state, as of the call: every one is
// bounded by the pool's size or limits, whatever clients send.
type PoolStats struct {
	// Free is the number of addresses of the dynamic range free now.
	Free int
	// Offers are outstanding offers, UnknownOffers those to clients not
	// enrolled (at most Pool.MaxOffers).
	Offers, UnknownOffers int
	// UnknownLeases are live leases of clients not enrolled (at most
	// Pool.MaxUnknownLeases).
	UnknownLeases int
	// Quarantined are declined addresses out of use (at most
	// Pool.MaxQuarantined), Decliners the clients that declined them.
	Quarantined, Decliners int
	// Clients are the MACs the pool remembers an address for (at most two
	// per address: its lease's and its offer's).
	Clients int
	// Addresses are the addresses the pool keeps a record of, Wakeups its
	// scheduled timed changes.
	Addresses, Wakeups int
}

// stats returns the pool's counts at now.
func (p *pool) stats(now time.Time) PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wakeUp(now)
	return PoolStats{
		Free: p.fresh.n + p.back.n, Offers: p.total.offers, UnknownOffers: p.total.unknownOffers,
		UnknownLeases: p.total.unknownLeases, Quarantined: p.total.quarantined, Decliners: len(p.declines),
		Clients: len(p.byMAC), Addresses: len(p.slots), Wakeups: len(p.wake),
	}
}
