package dhcp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// errNoAddress reports that the pool has no address left for a client.
var errNoAddress = errors.New("address pool exhausted")

// errLimit reports that a client not enrolled would pass one of the
// pool's limits (Pool.MaxOffers, Pool.MaxUnknownLeases).
var errLimit = errors.New("limit for unknown clients reached")

// offerHold is how long an offered address stays set aside for its client.
const offerHold = time.Minute

// slot is one address the pool has ever touched.
type slot struct {
	// mac and expiry are the lease as it must be on disk: mac "" with a
	// future expiry marks a declined address; a past expiry is a free
	// address that its last client gets back first.
	mac    string
	expiry time.Time
	hw     net.HardwareAddr
	// unknown marks a lease of a client that is not enrolled (not stored:
	// leases loaded at start count as enrolled clients').
	unknown bool
	// ver counts changes to the lease; disk is the version known stored.
	ver, disk uint64
	// offerMAC and offerUntil set the address aside for an OFFER (not
	// stored); offerUnknown marks an offer to a client not enrolled.
	offerMAC     string
	offerUntil   time.Time
	offerUnknown bool
	// declinedBy is the client whose DECLINE quarantines the address; by
	// is its MAC, which the quarantine's claim is made for.
	declinedBy string
	by         net.HardwareAddr
	// sched is when the address's entry in the pool's wakeups fires (zero:
	// none); counted says what it adds to the pool's counters.
	sched   time.Time
	counted counts
}

// heldBy reports whether the slot is taken by someone other than mac at now.
func (s *slot) heldBy(mac string, now time.Time) bool {
	if s.expiry.After(now) && s.mac != mac {
		return true // leased to another client, or declined
	}
	return s.offerMAC != "" && s.offerMAC != mac && s.offerUntil.After(now)
}

// pool hands out the addresses of full mode. The lease of an address is
// changed in memory under mu, then claimed in the store by sync under the
// address's stripe lock, which writes the newest version: writes of one
// address never overtake each other, and an ACK leaves only after its lease
// (or a newer one) is durable. A claim the store refuses (another bootd
// instance's client holds the address) puts the holder's lease into the
// slot instead, and the ACK is not sent. Addresses free now are in fresh (nobody comes
// back for them) or back (their last client may), so that picking one
// never scans the range; timed changes (an offer's hold, a lease's or a
// quarantine's end) are applied from wakeups before each operation.
type pool struct {
	start, end uint32 // inclusive
	mask       uint32
	network    uint32
	exclude    map[uint32]bool   // the server's own and the router's address
	reserved   map[uint32]string // address -> MAC of its static reservation
	byMACRes   map[string]uint32 // MAC -> reserved address
	store      LeaseStore
	lim        limits
	// shared says other instances may lease from the same store
	// (Pool.Refresh set): the store, not the slots, knows every lease.
	shared bool

	mu       sync.Mutex
	slots    map[uint32]*slot
	byMAC    map[string]uint32 // a hint: the address last given to a MAC
	cursor   uint32            // offset in the range where the next pick starts
	fresh    freeSet
	back     freeSet
	wake     wakeups
	total    counts
	declines map[string]int // quarantined addresses per declining client

	stripes [256]sync.Mutex
}

func ip4(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func addr4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

// newPool builds the pool of p and loads the stored leases, as of now.
func newPool(ctx context.Context, p Pool, server netip.Addr, store LeaseStore, now time.Time) (*pool, error) {
	bits := p.Subnet.Bits()
	pl := &pool{
		start: ip4(p.Start), end: ip4(p.End), mask: ^uint32(0) << (32 - bits),
		exclude: map[uint32]bool{ip4(server): true}, reserved: map[uint32]string{},
		byMACRes: map[string]uint32{}, store: store, lim: p.limits(),
		slots: map[uint32]*slot{}, byMAC: map[string]uint32{}, declines: map[string]int{},
	}
	pl.network = ip4(p.Subnet.Masked().Addr())
	if p.Router.IsValid() {
		pl.exclude[ip4(p.Router)] = true
	}
	for mac, a := range p.Reservations {
		hw, err := net.ParseMAC(mac)
		if err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("reservation %q: bad MAC address", mac)
		}
		u := ip4(a)
		if other, ok := pl.reserved[u]; ok {
			return nil, fmt.Errorf("reservation %s: %s is also reserved for %s", hw, a, other)
		}
		pl.reserved[u], pl.byMACRes[hw.String()] = hw.String(), u
	}
	pl.fresh, pl.back = newFreeSet(pl.end-pl.start+1), newFreeSet(pl.end-pl.start+1)
	for u := pl.start; ; u++ {
		if pl.dynamic(u) {
			pl.fresh.add(u - pl.start)
		}
		if u == pl.end {
			break
		}
	}
	err := store.Leases(ctx, func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
		if !ip.Is4() {
			return nil
		}
		s := &slot{expiry: expiry, ver: 1, disk: 1}
		if len(mac) > 0 {
			s.hw = append(net.HardwareAddr(nil), mac...)
			s.mac = s.hw.String()
			if old, ok := pl.byMAC[s.mac]; !ok || pl.slots[old].expiry.Before(expiry) {
				pl.byMAC[s.mac] = ip4(ip)
			}
		}
		pl.slots[ip4(ip)] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load leases: %w", err)
	}
	for u, s := range pl.slots {
		pl.settle(u, s, now)
	}
	if p.Refresh > 0 {
		pl.shared = true
		pl.cursor = startOffset(server, pl.end-pl.start+1)
	}
	return pl, nil
}

// inSubnet reports whether u is in the pool's subnet.
func (p *pool) inSubnet(u uint32) bool { return u&p.mask == p.network }

// dynamic reports whether u is an address of the range anyone may get.
func (p *pool) dynamic(u uint32) bool {
	_, res := p.reserved[u]
	return u >= p.start && u <= p.end && !res && !p.exclude[u] && p.inSubnet(u) &&
		u != p.network && u != p.network|^p.mask
}

// usable reports whether u may be given to mac at all: a reserved address
// only to its MAC, a pool address to anyone without a reservation.
func (p *pool) usable(u uint32, mac string) bool {
	if p.exclude[u] || !p.inSubnet(u) || u == p.network || u == p.network|^p.mask {
		return false
	}
	if r, ok := p.reserved[u]; ok {
		return r == mac
	}
	if _, ok := p.byMACRes[mac]; ok {
		return false // a client with a reservation gets only its reserved address
	}
	return u >= p.start && u <= p.end
}

// free reports, under mu, whether u can be given to mac now.
func (p *pool) free(u uint32, mac string, now time.Time) bool {
	if !p.usable(u, mac) {
		return false
	}
	s := p.slots[u]
	return s == nil || !s.heldBy(mac, now)
}

// offer picks an address for mac (want is the client's wish, or zero) and
// sets it aside for offerHold. A client not enrolled (known false) gets no
// new offer while MaxOffers of them are outstanding.
func (p *pool) offer(mac net.HardwareAddr, want netip.Addr, known bool, now time.Time) (netip.Addr, error) {
	m := mac.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wakeUp(now)
	u, ok := p.pick(m, want, now)
	if !ok {
		return netip.Addr{}, errNoAddress
	}
	s := p.slot(u)
	held := s.mac == m && s.expiry.After(now) // a live lease needs no hold
	if !held && s.offerMAC != m {
		if !known && p.total.unknownOffers >= p.lim.offers {
			return netip.Addr{}, errLimit
		}
		// A retransmitted DISCOVER keeps the hold it has: holds end in
		// the order they were made.
		s.offerMAC, s.offerUntil, s.offerUnknown = m, now.Add(offerHold), !known
	}
	p.hint(m, u, now)
	p.settle(u, s, now)
	return addr4(u), nil
}

// pick chooses the address for m: its reservation, then the address it had,
// then the one it asks for, then the next free one nobody may come back
// for, then any free one.
func (p *pool) pick(m string, want netip.Addr, now time.Time) (uint32, bool) {
	if r, ok := p.byMACRes[m]; ok {
		return r, p.free(r, m, now)
	}
	if u, ok := p.byMAC[m]; ok && p.free(u, m, now) {
		return u, true
	}
	if want.Is4() && p.free(ip4(want), m, now) {
		return ip4(want), true
	}
	for _, set := range []*freeSet{&p.fresh, &p.back} {
		if i, ok := set.next(p.cursor); ok {
			p.cursor = i + 1
			return p.start + i, true
		}
	}
	return 0, false
}

func (p *pool) slot(u uint32) *slot {
	s := p.slots[u]
	if s == nil {
		s = &slot{}
		p.slots[u] = s
	}
	return s
}

// hint records u as m's address, freeing its previous one of the
// preference it had (its last client no longer comes back for it).
func (p *pool) hint(m string, u uint32, now time.Time) {
	old, ok := p.byMAC[m]
	p.byMAC[m] = u
	if ok && old != u {
		if s := p.slots[old]; s != nil {
			p.settle(old, s, now)
		}
	}
}

// unhint forgets that u is m's address.
func (p *pool) unhint(m string, u uint32) {
	if v, ok := p.byMAC[m]; ok && v == u {
		delete(p.byMAC, m)
	}
}

// errTaken reports that an address belongs to another client.
var errTaken = errors.New("address in use by another client")

// errHeld reports that the store refused a claim: the address belongs to
// a client of another instance sharing the store.
var errHeld = fmt.Errorf("%w: held in the store", errTaken)

// bind leases ip to mac until expiry, durably. It fails with errTaken when
// the address is not free for mac, and with errLimit when a client not
// enrolled (known false) would pass MaxUnknownLeases, without changing
// anything.
func (p *pool) bind(ctx context.Context, mac net.HardwareAddr, ip netip.Addr, known bool, expiry, now time.Time) error {
	if !ip.Is4() {
		return errTaken
	}
	u, m := ip4(ip), mac.String()
	p.mu.Lock()
	p.wakeUp(now)
	if !p.free(u, m, now) {
		shared := p.shared && p.usable(u, m)
		p.mu.Unlock()
		if shared {
			return p.claimHeld(ctx, mac, u, known, expiry, now)
		}
		return errTaken
	}
	s := p.slot(u)
	renew := s.mac == m && s.expiry.After(now) // counted already
	if !known && !renew && p.total.unknownLeases >= p.lim.unknownLeases {
		p.mu.Unlock()
		return errLimit
	}
	if s.mac != "" && s.mac != m {
		p.unhint(s.mac, u) // its last client does not come back for it now
	}
	if s.offerMAC != "" && s.offerMAC != m {
		p.unhint(s.offerMAC, u)
	}
	s.mac, s.hw, s.expiry, s.unknown = m, append(net.HardwareAddr(nil), mac...), expiry, !known
	s.offerMAC = ""
	s.ver++
	p.hint(m, u, now)
	p.settle(u, s, now)
	p.mu.Unlock()
	if err := p.sync(ctx, u, now); err != nil {
		return err
	}
	// A claim refused meanwhile (by this call's sync or by another's that
	// wrote this lease's version) left the slot to the holder.
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.mac != m {
		return errHeld
	}
	return nil
}

// release ends mac's lease of ip now (RFC 2131 section 4.4.6); the address
// stays its first choice.
func (p *pool) release(ctx context.Context, mac net.HardwareAddr, ip netip.Addr, now time.Time) error {
	_, err := p.change(ctx, ip, now, func(s *slot) bool {
		if s.mac != mac.String() || !s.expiry.After(now) {
			return false
		}
		s.expiry = now
		return true
	})
	return err
}

// cancelOffer drops mac's hold on the address it was offered.
func (p *pool) cancelOffer(mac net.HardwareAddr, now time.Time) {
	m := mac.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wakeUp(now)
	if u, ok := p.byMAC[m]; ok {
		if s := p.slots[u]; s != nil && s.offerMAC == m {
			s.offerMAC = ""
			if s.mac != m {
				p.unhint(m, u)
			}
			p.settle(u, s, now)
		}
	}
}

// change applies fn to ip's slot under mu and stores the result when fn
// reports a change, which it returns.
func (p *pool) change(ctx context.Context, ip netip.Addr, now time.Time, fn func(*slot) bool) (bool, error) {
	if !ip.Is4() {
		return false, nil
	}
	u := ip4(ip)
	p.mu.Lock()
	p.wakeUp(now)
	s := p.slots[u]
	if s == nil || !fn(s) {
		p.mu.Unlock()
		return false, nil
	}
	s.ver++
	p.settle(u, s, now)
	p.mu.Unlock()
	err := p.sync(ctx, u, now)
	if errors.Is(err, errHeld) {
		err = nil // another client holds it: nothing of the change is left to store
	}
	return true, err
}
