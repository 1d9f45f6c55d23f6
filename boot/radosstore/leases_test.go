//go:build integration && cgo

package radosstore

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

// TestOldLeasesMoved: the leases of the earlier layout (one object, set
// without a check) are moved into the shards at the first listing, where
// claims then see them, and the old object is removed; a lease already in
// the shards is not overwritten by the move.
func TestOldLeasesMoved(t *testing.T) {
	s := openTest(t, testConfig(t))
	ctx := t.Context()
	now := time.Now()
	exp := now.Add(time.Hour).Truncate(time.Second)
	m1, _ := net.ParseMAC("52:54:00:00:00:01")
	m2, _ := net.ParseMAC("52:54:00:00:00:02")
	ip1, ip2 := netip.MustParseAddr("198.18.0.100"), netip.MustParseAddr("198.18.0.101")
	if err := s.ClaimLease(ctx, ip2, m2, m2, exp, now); err != nil {
		t.Fatal(err)
	}
	if err := s.ensure(oidLeases); err != nil {
		t.Fatal(err)
	}
	if err := s.io.SetOmap(oidLeases, map[string][]byte{
		ip1.String(): encodeLease(m1, exp), ip2.String(): encodeLease(m1, exp),
	}); err != nil {
		t.Fatal(err)
	}
	got := map[netip.Addr]string{}
	if err := s.Leases(ctx, func(ip netip.Addr, mac net.HardwareAddr, _ time.Time) error {
		got[ip] = mac.String()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[ip1] != m1.String() || got[ip2] != m2.String() {
		t.Errorf("Leases = %v, want %v: %v and %v: %v", got, ip1, m1, ip2, m2)
	}
	var held *boot.LeaseHeldError
	if err := s.ClaimLease(ctx, ip1, m2, m2, exp, now); !errors.As(err, &held) {
		t.Errorf("claim of a moved lease by another client = %v, want refused", err)
	}
	if o, err := s.read(oidLeases, 0); err != nil || o.exists {
		t.Errorf("old leases object after the move: exists %v, %v; want removed", o.exists, err)
	}
}
