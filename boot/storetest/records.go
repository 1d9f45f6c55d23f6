package storetest

// The contract's tests of what the store keeps beside nodes: the DHCP
// server's leases and the audit log.

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/bootd/bootd/boot/access"
)

type storedLease struct {
	mac    string
	expiry time.Time
}

// ReadLeases returns every lease of l, keyed by address.
func readLeases(t *testing.T, l LeaseStore) map[netip.Addr]storedLease {
	t.Helper()
	out := map[netip.Addr]storedLease{}
	err := l.Leases(t.Context(), func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
		out[ip] = storedLease{mac.String(), expiry}
		return nil
	})
	if err != nil {
		t.Fatalf("Leases: %v", err)
	}
	return out
}

func testLeases(t *testing.T, a, b Backend) {
	ctx := t.Context()
	if got := readLeases(t, a.Leases); len(got) != 0 {
		t.Errorf("Leases of a new store = %v, want none", got)
	}
	exp := time.Date(2026, 3, 1, 13, 0, 0, 123, time.UTC)
	now := exp.Add(-2 * time.Hour)
	ip1, ip2 := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	for _, put := range []struct {
		ip  netip.Addr
		mac net.HardwareAddr
		exp time.Time
	}{
		{ip1, mac, exp.Add(-time.Hour)},
		{ip1, mac, exp}, // replaces
		{ip2, nil, exp}, // declined
	} {
		if err := a.Leases.ClaimLease(ctx, put.ip, put.mac, put.mac, put.exp, now); err != nil {
			t.Fatalf("ClaimLease(%v): %v", put.ip, err)
		}
	}
	if err := a.Leases.ClaimLease(ctx, netip.Addr{}, mac, mac, exp, now); err == nil {
		t.Error("ClaimLease(invalid address) = nil, want an error")
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			ip := netip.AddrFrom4([4]byte{198, 18, 1, byte(i)})
			if err := []LeaseStore{a.Leases, b.Leases}[i%2].ClaimLease(ctx, ip, mac, mac, exp, now); err != nil {
				t.Errorf("ClaimLease(%v): %v", ip, err)
			}
		})
	}
	wg.Wait()
	got := readLeases(t, b.Leases)
	if len(got) != 102 {
		t.Errorf("Leases = %d, want 102", len(got))
	}
	want := map[netip.Addr]storedLease{ip1: {mac.String(), exp}, ip2: {"", exp}}
	for ip, w := range want {
		if g := got[ip]; g.mac != w.mac || !g.expiry.Equal(w.expiry) {
			t.Errorf("lease of %v = %+v, want %+v", ip, g, w)
		}
	}
}

// testLeaseClaims walks one address through the claims the DHCP server
// makes, from a and b: a lease held by another client is refused and
// named, an ended one is granted, the holder renews, releases and declines
// (a declined address is refused to everyone, the decliner too, until the
// quarantine ends).
func testLeaseClaims(t *testing.T, a, b Backend) {
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("198.18.0.100")
	m1, m2 := net.HardwareAddr(MAC(1)), net.HardwareAddr(MAC(2))
	for i, c := range []struct {
		via        LeaseStore
		client     net.HardwareAddr
		mac        net.HardwareAddr
		expiry     time.Time
		now        time.Time
		heldBy     net.HardwareAddr // refused: held by this MAC ("" declined)
		heldUntil  time.Time
		wantStored storedLease
	}{
		{a.Leases, m1, m1, now.Add(time.Hour), now, nil, time.Time{}, storedLease{m1.String(), now.Add(time.Hour)}},
		{b.Leases, m2, m2, now.Add(time.Hour), now, m1, now.Add(time.Hour), storedLease{m1.String(), now.Add(time.Hour)}},
		{b.Leases, m1, m1, now.Add(2 * time.Hour), now, nil, time.Time{}, storedLease{m1.String(), now.Add(2 * time.Hour)}}, // renewal through b
		{a.Leases, m1, m1, now, now, nil, time.Time{}, storedLease{m1.String(), now}},                                       // release
		{b.Leases, m2, m2, now.Add(time.Hour), now, nil, time.Time{}, storedLease{m2.String(), now.Add(time.Hour)}},         // ended: granted
		{a.Leases, m1, nil, now.Add(time.Hour), now, m2, now.Add(time.Hour), storedLease{m2.String(), now.Add(time.Hour)}},  // m1 may not decline m2's
		{a.Leases, m2, nil, now.Add(30 * time.Minute), now, nil, time.Time{}, storedLease{"", now.Add(30 * time.Minute)}},   // m2 declines
		{b.Leases, m2, m2, now.Add(time.Hour), now, net.HardwareAddr{}, now.Add(30 * time.Minute), storedLease{"", now.Add(30 * time.Minute)}},
		{b.Leases, nil, nil, now.Add(time.Hour), now, net.HardwareAddr{}, now.Add(30 * time.Minute), storedLease{"", now.Add(30 * time.Minute)}},
		{b.Leases, m1, m1, now.Add(2 * time.Hour), now.Add(30 * time.Minute), nil, time.Time{}, storedLease{m1.String(), now.Add(2 * time.Hour)}}, // quarantine over
	} {
		err := c.via.ClaimLease(ctx, ip, c.client, c.mac, c.expiry, c.now)
		var held HeldError
		switch {
		case c.heldBy == nil && err != nil:
			t.Errorf("claim %d (%v for %v): %v, want granted", i, c.mac, c.client, err)
		case c.heldBy != nil && !errors.As(err, &held):
			t.Errorf("claim %d (%v for %v): %v, want refused with the holder", i, c.mac, c.client, err)
		case c.heldBy != nil:
			mac, until := held.LeaseHolder()
			if mac.String() != c.heldBy.String() || !until.Equal(c.heldUntil) {
				t.Errorf("claim %d (%v for %v): held by %q until %v, want %q until %v", i, c.mac, c.client, mac, until, c.heldBy, c.heldUntil)
			}
		}
		if got := readLeases(t, []LeaseStore{a.Leases, b.Leases}[i%2])[ip]; got.mac != c.wantStored.mac || !got.expiry.Equal(c.wantStored.expiry) {
			t.Errorf("after claim %d: stored %+v, want %+v", i, got, c.wantStored)
		}
	}
}

// testLeaseClaimRace: for each of 32 addresses, four clients claim at once,
// two through a and two through b. Exactly one wins each address, the store
// holds the winner's lease, and every loser is told the winner.
func testLeaseClaimRace(t *testing.T, a, b Backend) {
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const addrs, racers = 32, 4
	type result struct {
		won    bool
		holder string
	}
	res := make([][racers]result, addrs)
	var wg sync.WaitGroup
	for i := range addrs {
		ip := netip.AddrFrom4([4]byte{198, 18, 2, byte(i)})
		for r := range racers {
			wg.Go(func() {
				mac := net.HardwareAddr(MAC(i*racers + r))
				err := []LeaseStore{a.Leases, b.Leases}[r%2].ClaimLease(ctx, ip, mac, mac, now.Add(time.Hour), now)
				var held HeldError
				switch {
				case err == nil:
					res[i][r] = result{won: true, holder: mac.String()}
				case errors.As(err, &held):
					m, _ := held.LeaseHolder()
					res[i][r] = result{holder: m.String()}
				default:
					t.Errorf("ClaimLease(%v, %v): %v", ip, mac, err)
				}
			})
		}
	}
	wg.Wait()
	stored := readLeases(t, b.Leases)
	for i := range addrs {
		ip := netip.AddrFrom4([4]byte{198, 18, 2, byte(i)})
		var winners []string
		for _, r := range res[i] {
			if r.won {
				winners = append(winners, r.holder)
			}
		}
		if len(winners) != 1 {
			t.Errorf("%v: %d claims won (%v), want exactly 1", ip, len(winners), winners)
			continue
		}
		if stored[ip].mac != winners[0] {
			t.Errorf("%v: stored lease of %s, want the winner %s", ip, stored[ip].mac, winners[0])
		}
		for r, x := range res[i] {
			if !x.won && x.holder != winners[0] {
				t.Errorf("%v: racer %d told the holder is %s, want %s", ip, r, x.holder, winners[0])
			}
		}
	}
}

// testAuditAgeDropped checks that records past the age are deleted at the
// next Append, not only hidden: a log with a longer retention over the same
// store does not find them.
func testAuditAgeDropped(t *testing.T, a, b Backend) {
	ctx := t.Context()
	old := time.Now().Add(-3 * time.Hour)
	for _, at := range []time.Time{old, old, {}} {
		if _, err := a.Audit(access.Retention{}).Append(ctx, access.Record{Time: at, Action: access.ActionAssign}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Audit(access.Retention{MaxAge: time.Hour}).Append(ctx, access.Record{Action: access.ActionRetire}); err != nil {
		t.Fatal(err)
	}
	got, err := a.Audit(access.Retention{}).Query(ctx, access.Filter{})
	if err != nil || len(got) != 2 || got[0].Action != access.ActionRetire || got[0].Seq != 4 {
		t.Errorf("records kept = %+v, %v, want the 2 recent ones, the newest numbered 4", got, err)
	}
}
