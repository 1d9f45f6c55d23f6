package dhcp

import (
	"context"
	"net"
	"net/netip"
	"time"
)

// A LeaseStore keeps full mode's leases across restarts. Its methods use
// only standard-library types, so a store satisfies it without importing
// this package. It is called concurrently.
type LeaseStore interface {
	// Leases calls fn for every stored lease. A nil mac marks an address a
	// client declined (in use by someone else) until expiry. It is called
	// once, when the server starts.
	Leases(ctx context.Context, fn func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error) error
	// PutLease stores the lease of ip, replacing the one stored before,
	// and returns only once it is durable on disk: the server sends its ACK
	// after PutLease returns. Concurrent calls may share one commit.
	PutLease(ctx context.Context, ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error
}
