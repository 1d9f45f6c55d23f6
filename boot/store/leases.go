package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

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

// PutLease stores the lease of ip, replacing any, and returns once it is
// durable on disk. Concurrent calls share transactions and their fsync.
func (s *DB) PutLease(ctx context.Context, ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
	if !ip.IsValid() {
		return fmt.Errorf("put lease: invalid address")
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
		return b.Put(k, v)
	})
}
