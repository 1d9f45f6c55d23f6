//go:build cgo

package radosstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// oidLeases holds the DHCP leases of full mode in its omap, one key per
// address. Each PutLease sets one key: it replaces the address's lease
// whole, needing no comparison.
const oidLeases = "leases"

const leaseHeader = 8

// Leases calls fn for every stored lease; mac is nil for a declined address.
func (s *Store) Leases(ctx context.Context, fn func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o, err := s.read(oidLeases, allOmap)
	if err != nil {
		return err
	}
	for _, kv := range o.omap {
		ip, err := netip.ParseAddr(kv.Key)
		if err != nil || len(kv.Value) < leaseHeader {
			return fmt.Errorf("decode lease %q: malformed record", kv.Key)
		}
		expiry := time.Unix(0, int64(binary.BigEndian.Uint64(kv.Value)))
		var mac net.HardwareAddr
		if len(kv.Value) > leaseHeader {
			mac = append(net.HardwareAddr(nil), kv.Value[leaseHeader:]...)
		}
		if err := fn(ip, mac, expiry); err != nil {
			return err
		}
	}
	return nil
}

// PutLease stores the lease of ip, replacing any; it returns once the OSD
// has it durably.
func (s *Store) PutLease(ctx context.Context, ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
	if !ip.IsValid() {
		return fmt.Errorf("put lease: invalid address")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	v := make([]byte, leaseHeader, leaseHeader+len(mac))
	binary.BigEndian.PutUint64(v, uint64(expiry.UnixNano()))
	v = append(v, mac...)
	// The object keeps a header like every other, so read can read it.
	if err := s.ensure(oidLeases); err != nil {
		return err
	}
	if err := s.io.SetOmap(oidLeases, map[string][]byte{ip.Unmap().String(): v}); err != nil {
		return fmt.Errorf("put lease %s: %w", ip, err)
	}
	return nil
}

// ensure makes oid with an empty body when there is none.
func (s *Store) ensure(oid string) error {
	err := s.write(oid, object{}, nil, nil)
	if err == errConflict {
		return nil
	}
	return err
}
