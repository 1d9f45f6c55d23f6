package dhcp

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// A LeaseStore keeps full mode's leases across restarts and, when several
// bootd instances share it (a store in RADOS), decides which of them gets an
// address: storing a lease is a claim that the store grants or refuses in
// one atomic step. Its methods use only standard-library types, so a store
// satisfies it without importing this package. It is called concurrently.
type LeaseStore interface {
	// Leases calls fn for every stored lease. A nil mac marks an address a
	// client declined (in use by someone else) until expiry. It is called
	// when the server starts and, with Pool.Refresh set, every Refresh.
	Leases(ctx context.Context, fn func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error) error
	// ClaimLease stores the lease of ip for client when ip is free for
	// client at now: no lease of ip is stored, the stored one has ended by
	// now (its expiry is not after now), or it is client's (a renewal, a
	// release, or client's own decline). mac is what is stored: client for
	// a lease, nil for an address client declined. Otherwise it stores
	// nothing and returns an error that satisfies HeldError, naming the
	// stored lease. The check and the write are one atomic step for every
	// handle on the store, so that of two claims of one address by two
	// clients at most one succeeds. It returns once the lease is durable:
	// the server sends its ACK after. Concurrent calls may share a commit.
	ClaimLease(ctx context.Context, ip netip.Addr, client, mac net.HardwareAddr, expiry, now time.Time) error
}

// HeldError is what ClaimLease's error satisfies when the address is held
// by another client. A store returns a type of its own with this method;
// the server finds it with errors.As.
type HeldError interface {
	error
	// LeaseHolder returns the stored lease's MAC (nil: a declined address)
	// and when it ends.
	LeaseHolder() (mac net.HardwareAddr, expiry time.Time)
}
