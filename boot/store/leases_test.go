package store

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type storedLease struct {
	mac    string
	expiry time.Time
}

func readLeases(t *testing.T, db *DB) map[netip.Addr]storedLease {
	t.Helper()
	out := map[netip.Addr]storedLease{}
	err := db.Leases(context.Background(), func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
		out[ip] = storedLease{mac.String(), expiry}
		return nil
	})
	if err != nil {
		t.Fatalf("Leases: %v", err)
	}
	return out
}

func TestLeases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A file from before the leases bucket existed reads as no leases.
	if got := readLeases(t, db); len(got) != 0 {
		t.Errorf("Leases of a new file = %v, want none", got)
	}
	exp := time.Date(2026, 3, 1, 13, 0, 0, 123, time.UTC)
	now := exp.Add(-2 * time.Hour)
	a, b := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	for _, put := range []struct {
		ip  netip.Addr
		mac net.HardwareAddr
		exp time.Time
	}{
		{a, mac, exp.Add(-time.Hour)},
		{a, mac, exp}, // replaces
		{b, nil, exp}, // declined
	} {
		if err := db.ClaimLease(ctx, put.ip, put.mac, put.mac, put.exp, now); err != nil {
			t.Fatalf("ClaimLease(%v): %v", put.ip, err)
		}
	}
	if err := db.ClaimLease(ctx, netip.Addr{}, mac, mac, exp, now); err == nil {
		t.Error("ClaimLease(invalid address) = nil, want an error")
	}

	// Many concurrent writers share commits; all of them are there after a reopen.
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Go(func() {
			ip := netip.AddrFrom4([4]byte{198, 18, 1 + byte(i/250), byte(i % 250)})
			if err := db.ClaimLease(ctx, ip, mac, mac, exp, now); err != nil {
				t.Errorf("ClaimLease(%v): %v", ip, err)
			}
		})
	}
	wg.Wait()
	db.Close()
	if db, err = Open(path, Options{}); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got := readLeases(t, db)
	if len(got) != 302 {
		t.Errorf("Leases after reopen = %d, want 302", len(got))
	}
	want := map[netip.Addr]storedLease{a: {mac.String(), exp}, b: {"", exp}}
	for ip, w := range want {
		if g := got[ip]; g.mac != w.mac || !g.expiry.Equal(w.expiry) {
			t.Errorf("lease of %v = %+v, want %+v", ip, g, w)
		}
	}
}
