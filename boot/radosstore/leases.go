//go:build cgo

package radosstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/ceph/go-ceph/rados"
)

// Full mode's DHCP leases live in leaseShards objects, lease.00 to
// lease.ff, the one of an address picked by its last byte: each keeps an
// omap key per address (the address as text) whose value is the lease,
// expiry (8 bytes, Unix nanoseconds, big-endian) then the MAC (none: a
// declined address). A claim reads the shard's generation header and the
// address's key in one operation, checks, and writes the key with a compare
// of the header and a new one: the check and the write are atomic across
// instances, and a claim that lost a race to a write of the same shard
// reads again. Consecutive addresses are in different shards, so instances
// handing out one range rarely contend; listing them all (a start, a
// refresh) is leaseShards reads, a few at a time, whatever the number of
// leases.
const leaseShards = 256

// oidLeases is the one object of an earlier layout, whose omap held every
// lease, set without a check; Leases moves what it holds into the shards.
const oidLeases = "leases"

const leaseHeader = 8

// leaseOID is the shard of ip.
func leaseOID(ip netip.Addr) string {
	b := ip.As16()
	return fmt.Sprintf("lease.%02x", b[15])
}

func encodeLease(mac net.HardwareAddr, expiry time.Time) []byte {
	v := make([]byte, leaseHeader, leaseHeader+len(mac))
	binary.BigEndian.PutUint64(v, uint64(expiry.UnixNano()))
	return append(v, mac...)
}

func decodeLease(key string, v []byte) (netip.Addr, net.HardwareAddr, time.Time, error) {
	ip, err := netip.ParseAddr(key)
	if err != nil || len(v) < leaseHeader {
		return netip.Addr{}, nil, time.Time{}, fmt.Errorf("decode lease %q: malformed record", key)
	}
	var mac net.HardwareAddr
	if len(v) > leaseHeader {
		mac = append(net.HardwareAddr(nil), v[leaseHeader:]...)
	}
	return ip, mac, time.Unix(0, int64(binary.BigEndian.Uint64(v))), nil
}

// Leases calls fn for every stored lease; mac is nil for a declined address.
func (s *Store) Leases(ctx context.Context, fn func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error) error {
	if err := s.moveOldLeases(ctx); err != nil {
		return err
	}
	shards := make([]object, leaseShards)
	errs := make([]error, leaseShards)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				shards[i], errs[i] = s.read(fmt.Sprintf("lease.%02x", i), allOmap)
			}
		})
	}
	for i := range leaseShards {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, o := range shards {
		for _, kv := range o.omap {
			ip, mac, expiry, err := decodeLease(kv.Key, kv.Value)
			if err != nil {
				return err
			}
			if err := fn(ip, mac, expiry); err != nil {
				return err
			}
		}
	}
	return nil
}

// moveOldLeases moves the leases of the earlier layout's one object into
// the shards, each where its address has no lease yet, then removes it.
func (s *Store) moveOldLeases(ctx context.Context) error {
	o, err := s.read(oidLeases, allOmap)
	if err != nil || !o.exists {
		return err
	}
	for _, kv := range o.omap {
		ip, mac, expiry, err := decodeLease(kv.Key, kv.Value)
		if err != nil {
			return err
		}
		// No client and no time: granted only where nothing is stored.
		var held *boot.LeaseHeldError
		if err := s.ClaimLease(ctx, ip, nil, mac, expiry, time.Time{}); err != nil && !errors.As(err, &held) {
			return fmt.Errorf("move lease of %s: %w", ip, err)
		}
	}
	if err := s.remove(oidLeases, o); err != nil && err != errConflict {
		return err
	}
	return nil
}

// ClaimLease stores the lease of ip (mac until expiry; mac nil for an
// address client declined) when ip is free for client at now: no lease
// stored, the stored one ended by now, or it is client's. Otherwise it
// returns a *boot.LeaseHeldError naming the stored lease. It returns once the
// OSDs have the write durably.
func (s *Store) ClaimLease(ctx context.Context, ip netip.Addr, client, mac net.HardwareAddr, expiry, now time.Time) error {
	if !ip.IsValid() {
		return fmt.Errorf("claim lease: invalid address")
	}
	ip = ip.Unmap()
	oid, key, v := leaseOID(ip), ip.String(), encodeLease(mac, expiry)
	return retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, cur, err := s.readLease(oid, key)
		if err != nil {
			return err
		}
		if cur != nil {
			_, hmac, hexp, err := decodeLease(key, cur)
			if err != nil {
				return err
			}
			if hexp.After(now) && (len(hmac) == 0 || !bytes.Equal(hmac, client)) {
				return &boot.LeaseHeldError{IP: ip, MAC: hmac, Expiry: hexp}
			}
		}
		return s.write(oid, o, nil, func(op *rados.WriteOp) {
			op.SetOmap(map[string][]byte{key: v})
		})
	})
}

// readLease reads oid's generation header and the value of its omap key
// key (nil when none) in one operation.
func (s *Store) readLease(oid, key string) (object, []byte, error) {
	op := rados.CreateReadOp()
	defer op.Release()
	buf := make([]byte, headerSize)
	rd := op.Read(0, buf)
	kvs := op.GetOmapValuesByKeys([]string{key})
	err := op.Operate(s.io, oid, rados.OperationNoFlag)
	if errNotFound(err) {
		return object{}, nil, nil
	}
	if err != nil {
		return object{}, nil, fmt.Errorf("read %s: %w", oid, err)
	}
	if int(rd.BytesRead) < headerSize {
		return object{}, nil, fmt.Errorf("read %s: %d bytes, shorter than its header", oid, rd.BytesRead)
	}
	var v []byte
	for {
		kv, err := kvs.Next()
		if err != nil {
			return object{}, nil, fmt.Errorf("read %s's omap: %w", oid, err)
		}
		if kv == nil {
			break
		}
		if kv.Key == key {
			v = append([]byte(nil), kv.Value...)
		}
	}
	return object{exists: true, gen: buf}, v, nil
}

// ensure makes oid with an empty body when there is none.
func (s *Store) ensure(oid string) error {
	err := s.write(oid, object{}, nil, nil)
	if err == errConflict {
		return nil
	}
	return err
}
