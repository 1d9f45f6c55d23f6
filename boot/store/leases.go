package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

// The DHCP leases of full mode live in their own bucket, created on first
// use, so files written before it existed open unchanged (no schema bump):
//
//	leases/<ip>   the address (4 bytes) -> lease: expiry (8 bytes, Unix
//	              nanoseconds, big-endian) then the MAC (6 bytes; none for
//	              an address a client declined)
//
// DB satisfies the DHCP server's lease interface with standard types only,
// so this package does not import the dhcp package.
var bucketLeases = []byte("leases")

const leaseHeader = 8

// Leases calls fn for every stored lease; mac is nil for a declined address.
func (s *DB) Leases(ctx context.Context, fn func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error) error {
	return s.read(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLeases)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			ip, ok := netip.AddrFromSlice(k)
			if !ok || len(v) < leaseHeader {
				return fmt.Errorf("decode lease %x: malformed record", k)
			}
			expiry := time.Unix(0, int64(binary.BigEndian.Uint64(v)))
			var mac net.HardwareAddr
			if len(v) > leaseHeader {
				mac = append(net.HardwareAddr(nil), v[leaseHeader:]...)
			}
			return fn(ip.Unmap(), mac, expiry)
		})
	})
}

// ClaimLease stores the lease of ip (mac until expiry; mac nil for an
// address client declined) when ip is free for client at now: no lease
// stored, the stored one ended by now, or it is client's. Otherwise it
// returns a *boot.LeaseHeldError naming the stored lease. The check and the
// write are one transaction; it returns once the lease is durable on disk.
// Concurrent calls share transactions and their fsync.
func (s *DB) ClaimLease(ctx context.Context, ip netip.Addr, client, mac net.HardwareAddr, expiry, now time.Time) error {
	if !ip.IsValid() {
		return fmt.Errorf("claim lease: invalid address")
	}
	k := ip.Unmap().AsSlice()
	v := make([]byte, leaseHeader, leaseHeader+len(mac))
	binary.BigEndian.PutUint64(v, uint64(expiry.UnixNano()))
	v = append(v, mac...)
	return s.write(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLeases)
		if err != nil {
			return err
		}
		if cur := b.Get(k); len(cur) >= leaseHeader {
			held := &boot.LeaseHeldError{IP: ip.Unmap(), Expiry: time.Unix(0, int64(binary.BigEndian.Uint64(cur)))}
			if len(cur) > leaseHeader {
				held.MAC = append(net.HardwareAddr(nil), cur[leaseHeader:]...)
			}
			if !claimable(held.MAC, held.Expiry, client, now) {
				return held
			}
		}
		return b.Put(k, v)
	})
}

// claimable reports whether a stored lease (mac until expiry) lets client
// claim its address at now.
func claimable(mac net.HardwareAddr, expiry time.Time, client net.HardwareAddr, now time.Time) bool {
	return !expiry.After(now) || len(mac) > 0 && bytes.Equal(mac, client)
}
