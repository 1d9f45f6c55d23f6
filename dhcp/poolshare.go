package dhcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Several bootd instances may serve one segment in full mode over one
// shared lease store. The store decides: every lease is a claim that it
// grants to one client only (LeaseStore.ClaimLease), so no address is ever
// leased twice, whatever each instance's pool believes. The pool only
// avoids offering what the others hold: it starts its picks at a place of
// the range of its own (startOffset), learns a holder from every refused
// claim (learn), and reads the store again every Pool.Refresh (refresh).
// Where it believes another client holds an address, a REQUEST for it
// asks the store all the same (claimHeld): the belief may be stale.

// startOffset is where in a range of size addresses the picks of the
// server at server begin when instances share the store: a place derived
// from its address (FNV-1a), so that two instances start at different
// places of the range and rarely offer one address at once. Either still
// uses the whole range, wrapping around.
func startOffset(server netip.Addr, size uint32) uint32 {
	h := uint32(2166136261)
	for _, b := range server.AsSlice() {
		h = (h ^ uint32(b)) * 16777619
	}
	return h % size
}

// learn puts the stored lease of u (mac until expiry; mac nil: declined)
// into its slot, under mu: another instance's client holds it, so the
// address is not offered until expiry, and an offer of it is dropped.
func (p *pool) learn(u uint32, s *slot, mac net.HardwareAddr, expiry, now time.Time) {
	m := ""
	if len(mac) > 0 {
		m = mac.String()
	}
	if s.mac != "" && s.mac != m {
		p.unhint(s.mac, u)
	}
	if s.offerMAC != "" && s.offerMAC != m {
		p.unhint(s.offerMAC, u)
		s.offerMAC = ""
	}
	s.mac, s.expiry, s.unknown, s.hw = m, expiry, false, nil
	if m != "" {
		s.hw = append(net.HardwareAddr(nil), mac...)
	}
	s.ver++
	s.disk = s.ver
	if m != "" && expiry.After(now) {
		p.hint(m, u, now)
	}
	p.settle(u, s, now)
}

// refresh reads the store again and learns the leases live at now that
// other instances made: an address the pool has no live lease or quarantine
// of, or one whose stored lease is the same client's with a later expiry
// (renewed through another instance). Addresses with a change of this pool
// not yet stored are left alone, and so are live leases the pool knows of
// another client: the store's listing may be older than them.
func (p *pool) refresh(ctx context.Context, now time.Time) (learned int, err error) {
	type rec struct {
		u      uint32
		mac    net.HardwareAddr
		expiry time.Time
	}
	var recs []rec
	err = p.store.Leases(ctx, func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
		if ip.Is4() && expiry.After(now) {
			recs = append(recs, rec{ip4(ip), append(net.HardwareAddr(nil), mac...), expiry})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("refresh leases: %w", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wakeUp(now)
	for _, r := range recs {
		s := p.slots[r.u]
		if s != nil && s.ver > s.disk {
			continue
		}
		if s != nil && s.expiry.After(now) {
			same := len(r.mac) > 0 && s.mac == r.mac.String()
			if !same || !r.expiry.After(s.expiry) {
				continue
			}
		}
		p.learn(r.u, p.slot(r.u), r.mac, r.expiry, now)
		learned++
	}
	return learned, nil
}

// claimHeld binds u to mac in a shared pool that believes u is held by
// another client (a lease, a quarantine, a claim in flight) or offered to
// one: the pool's belief may be older than the store, where mac may hold
// u through another instance. The claim is made first, under u's stripe
// lock (after any claim of u in flight), and the slot then follows the
// store: mac's lease when granted, else the holder's (errHeld).
func (p *pool) claimHeld(ctx context.Context, mac net.HardwareAddr, u uint32, known bool, expiry, now time.Time) error {
	m := mac.String()
	st := &p.stripes[u%uint32(len(p.stripes))]
	st.Lock()
	defer st.Unlock()
	p.mu.Lock()
	s := p.slot(u)
	renew := s.mac == m && s.expiry.After(now)
	if !known && !renew && p.total.unknownLeases >= p.lim.unknownLeases {
		p.mu.Unlock()
		return errLimit
	}
	p.mu.Unlock()
	err := p.store.ClaimLease(ctx, addr4(u), mac, mac, expiry, now)
	p.mu.Lock()
	defer p.mu.Unlock()
	var held HeldError
	if errors.As(err, &held) {
		hm, until := held.LeaseHolder()
		p.learn(u, s, hm, until, now)
		return errHeld
	}
	if err != nil {
		return fmt.Errorf("store lease of %s: %w", addr4(u), err)
	}
	p.learn(u, s, mac, expiry, now)
	s.unknown = !known
	p.settle(u, s, now)
	return nil
}

// sync claims the newest version of u's lease in the store unless it is
// already stored. When the store refuses (the address is held by another
// client, through another instance), the holder's lease replaces the slot's
// and sync returns errHeld.
func (p *pool) sync(ctx context.Context, u uint32, now time.Time) error {
	st := &p.stripes[u%uint32(len(p.stripes))]
	st.Lock()
	defer st.Unlock()
	p.mu.Lock()
	s := p.slots[u]
	ver, hw, expiry, by := s.ver, s.hw, s.expiry, s.hw
	if len(by) == 0 {
		by = s.by
	}
	done := s.disk >= ver
	p.mu.Unlock()
	if done {
		return nil
	}
	err := p.store.ClaimLease(ctx, addr4(u), by, hw, expiry, now)
	var held HeldError
	if errors.As(err, &held) {
		mac, until := held.LeaseHolder()
		p.mu.Lock()
		p.learn(u, s, mac, until, now)
		p.mu.Unlock()
		return errHeld
	}
	if err != nil {
		return fmt.Errorf("store lease of %s: %w", addr4(u), err)
	}
	p.mu.Lock()
	if s.disk < ver {
		s.disk = ver
	}
	p.mu.Unlock()
	return nil
}
