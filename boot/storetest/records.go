package storetest

// The contract's tests of what the store keeps beside nodes: the DHCP
// server's leases and the audit log.

import (
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
		if err := a.Leases.PutLease(ctx, put.ip, put.mac, put.exp); err != nil {
			t.Fatalf("PutLease(%v): %v", put.ip, err)
		}
	}
	if err := a.Leases.PutLease(ctx, netip.Addr{}, mac, exp); err == nil {
		t.Error("PutLease(invalid address) = nil, want an error")
	}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			ip := netip.AddrFrom4([4]byte{198, 18, 1, byte(i)})
			if err := []LeaseStore{a.Leases, b.Leases}[i%2].PutLease(ctx, ip, mac, exp); err != nil {
				t.Errorf("PutLease(%v): %v", ip, err)
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
