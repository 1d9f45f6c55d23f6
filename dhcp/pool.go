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
	// ver counts changes to the lease; disk is the version known stored.
	ver, disk uint64
	// offerMAC and offerUntil set the address aside for an OFFER (not stored).
	offerMAC   string
	offerUntil time.Time
}

// heldBy reports whether the slot is taken by someone other than mac at now.
func (s *slot) heldBy(mac string, now time.Time) bool {
	if s.expiry.After(now) && s.mac != mac {
		return true // leased to another client, or declined
	}
	return s.offerMAC != "" && s.offerMAC != mac && s.offerUntil.After(now)
}

// pool hands out the addresses of full mode. The lease of an address is
// changed in memory under mu, then written by sync under the address's
// stripe lock, which writes the newest version: writes of one address
// never overtake each other, and an ACK leaves only after its lease (or a
// newer one) is durable.
type pool struct {
	start, end uint32 // inclusive
	mask       uint32
	network    uint32
	exclude    map[uint32]bool   // the server's own and the router's address
	reserved   map[uint32]string // address -> MAC of its static reservation
	byMACRes   map[string]uint32 // MAC -> reserved address
	store      LeaseStore

	mu     sync.Mutex
	slots  map[uint32]*slot
	byMAC  map[string]uint32 // a hint: the address last given to a MAC
	cursor uint32

	stripes [256]sync.Mutex
}

func ip4(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }

func addr4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

// newPool builds the pool of p and loads the stored leases.
func newPool(ctx context.Context, p Pool, server netip.Addr, store LeaseStore) (*pool, error) {
	bits := p.Subnet.Bits()
	pl := &pool{
		start: ip4(p.Start), end: ip4(p.End), mask: ^uint32(0) << (32 - bits),
		exclude: map[uint32]bool{ip4(server): true}, reserved: map[uint32]string{},
		byMACRes: map[string]uint32{}, store: store,
		slots: map[uint32]*slot{}, byMAC: map[string]uint32{},
	}
	pl.network = ip4(p.Subnet.Masked().Addr())
	pl.cursor = pl.start
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
	err := store.Leases(ctx, func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
		if !ip.Is4() {
			return nil
		}
		s := &slot{expiry: expiry, ver: 1, disk: 1}
		if len(mac) > 0 {
			s.hw = append(net.HardwareAddr(nil), mac...)
			s.mac = s.hw.String()
			pl.byMAC[s.mac] = ip4(ip)
		}
		pl.slots[ip4(ip)] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load leases: %w", err)
	}
	return pl, nil
}

// inSubnet reports whether u is in the pool's subnet.
func (p *pool) inSubnet(u uint32) bool { return u&p.mask == p.network }

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
// sets it aside for offerHold.
func (p *pool) offer(mac net.HardwareAddr, want netip.Addr, now time.Time) (netip.Addr, error) {
	m := mac.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.pick(m, want, now)
	if !ok {
		return netip.Addr{}, errNoAddress
	}
	s := p.slot(u)
	if !(s.mac == m && s.expiry.After(now)) { // a live lease needs no hold
		s.offerMAC, s.offerUntil = m, now.Add(offerHold)
	}
	p.byMAC[m] = u
	return addr4(u), nil
}

// pick chooses the address for m: its reservation, then the address it had,
// then the one it asks for, then the next free one.
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
	// First pass: addresses nobody may come back for; second pass: any.
	n := p.end - p.start + 1
	for pass := 0; pass < 2; pass++ {
		for i := uint32(0); i < n; i++ {
			u := p.cursor
			if p.cursor++; p.cursor > p.end {
				p.cursor = p.start
			}
			if p.free(u, m, now) && (pass == 1 || !p.lastOf(u, m)) {
				return u, true
			}
		}
	}
	return 0, false
}

// lastOf reports whether u's expired lease belonged to a client other than
// m that may come back for it; such addresses are given to others only
// when no other address is free.
func (p *pool) lastOf(u uint32, m string) bool {
	s := p.slots[u]
	return s != nil && s.mac != "" && s.mac != m && p.byMAC[s.mac] == u
}

func (p *pool) slot(u uint32) *slot {
	s := p.slots[u]
	if s == nil {
		s = &slot{}
		p.slots[u] = s
	}
	return s
}

// errTaken reports that an address belongs to another client.
var errTaken = errors.New("address in use by another client")

// bind leases ip to mac until expiry, durably. It fails with errTaken when
// the address is not free for mac, without changing anything.
func (p *pool) bind(ctx context.Context, mac net.HardwareAddr, ip netip.Addr, expiry, now time.Time) error {
	if !ip.Is4() {
		return errTaken
	}
	u, m := ip4(ip), mac.String()
	p.mu.Lock()
	if !p.free(u, m, now) {
		p.mu.Unlock()
		return errTaken
	}
	s := p.slot(u)
	s.mac, s.hw, s.expiry = m, append(net.HardwareAddr(nil), mac...), expiry
	s.offerMAC = ""
	s.ver++
	p.byMAC[m] = u
	p.mu.Unlock()
	return p.sync(ctx, u)
}

// release ends mac's lease of ip now (RFC 2131 section 4.4.6); the address
// stays its first choice.
func (p *pool) release(ctx context.Context, mac net.HardwareAddr, ip netip.Addr, now time.Time) error {
	return p.change(ctx, ip, func(s *slot) bool {
		if s.mac != mac.String() || !s.expiry.After(now) {
			return false
		}
		s.expiry = now
		return true
	})
}

// decline marks ip as in use by an unknown host until until (RFC 2131
// section 4.3.3): it is given to no one, even across a restart.
func (p *pool) decline(ctx context.Context, mac net.HardwareAddr, ip netip.Addr, until, now time.Time) error {
	m := mac.String()
	return p.change(ctx, ip, func(s *slot) bool {
		if s.mac != m && s.offerMAC != m {
			return false // only the client the address was given to may decline it
		}
		s.mac, s.hw, s.expiry, s.offerMAC = "", nil, until, ""
		return true
	})
}

// cancelOffer drops mac's hold on the address it was offered.
func (p *pool) cancelOffer(mac net.HardwareAddr) {
	m := mac.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if u, ok := p.byMAC[m]; ok {
		if s := p.slots[u]; s != nil && s.offerMAC == m {
			s.offerMAC = ""
		}
	}
}

// change applies fn to ip's slot under mu and stores the result when fn
// reports a change.
func (p *pool) change(ctx context.Context, ip netip.Addr, fn func(*slot) bool) error {
	if !ip.Is4() {
		return nil
	}
	u := ip4(ip)
	p.mu.Lock()
	s := p.slots[u]
	if s == nil || !fn(s) {
		p.mu.Unlock()
		return nil
	}
	s.ver++
	p.mu.Unlock()
	return p.sync(ctx, u)
}

// sync writes the newest version of u's lease unless it is already stored.
func (p *pool) sync(ctx context.Context, u uint32) error {
	st := &p.stripes[u%uint32(len(p.stripes))]
	st.Lock()
	defer st.Unlock()
	p.mu.Lock()
	s := p.slots[u]
	ver, hw, expiry := s.ver, s.hw, s.expiry
	done := s.disk >= ver
	p.mu.Unlock()
	if done {
		return nil
	}
	if err := p.store.PutLease(ctx, addr4(u), hw, expiry); err != nil {
		return fmt.Errorf("store lease of %s: %w", addr4(u), err)
	}
	p.mu.Lock()
	if s.disk < ver {
		s.disk = ver
	}
	p.mu.Unlock()
	return nil
}
