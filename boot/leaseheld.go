package boot

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// LeaseHeldError is a store's refusal of a DHCP lease claim (ClaimLease of
// the bbolt and RADOS stores): the address is held by another client until
// Expiry. It is the dhcp package's HeldError.
type LeaseHeldError struct {
	IP     netip.Addr
	MAC    net.HardwareAddr // nil: a declined address
	Expiry time.Time
}

func (e *LeaseHeldError) Error() string {
	holder := "a decline"
	if len(e.MAC) > 0 {
		holder = e.MAC.String()
	}
	return fmt.Sprintf("lease of %s held by %s until %s", e.IP, holder, e.Expiry.UTC().Format(time.RFC3339))
}

// LeaseHolder returns the stored lease's MAC and expiry.
func (e *LeaseHeldError) LeaseHolder() (net.HardwareAddr, time.Time) { return e.MAC, e.Expiry }
