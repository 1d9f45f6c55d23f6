// Package storedump moves bootd's whole state between store backends: Export
// reads a store into a Dump, Import writes a Dump into an empty store. bootd
// store export and import (cmd/bootd) write and read a Dump as JSON, which
// is how a bbolt file moves to RADOS and back.
//
// A Dump holds the nodes and their timelines (boot numbers kept), the
// intents, the DHCP leases, the users with their tokens' digests, and the
// audit records within the retention (sequence numbers kept). Timelines of
// MACs that are no node (events of a machine forgotten meanwhile) are not
// moved.
package storedump

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/bootd/bootd/boot"
	"github.com/bootd/bootd/boot/access"
)

// Version is the format version of a Dump this package writes and reads.
const Version = 1

// Dump is a store's whole state.
type Dump struct {
	Version   int                    `json:"version"`
	Nodes     []*boot.Node           `json:"nodes"`
	Timelines map[string][]boot.Boot `json:"timelines"` // by canonical MAC
	Intents   []boot.Intent          `json:"intents"`
	Leases    []Lease                `json:"leases"`
	Users     []*access.User         `json:"users"`
	Audit     []access.Record        `json:"audit"` // oldest first
}

// Lease is one DHCP lease; MAC is empty for a declined address.
type Lease struct {
	IP     netip.Addr `json:"ip"`
	MAC    string     `json:"mac,omitempty"`
	Expiry time.Time  `json:"expiry"`
}

// Source is a store Export reads.
type Source interface {
	boot.Store
	access.UserStore
	Leases(ctx context.Context, fn func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error) error
}

// Sink is a store Import writes. Besides the interfaces the domain uses, it
// writes timelines and audit records as they are, numbers included.
type Sink interface {
	boot.Store
	access.UserStore
	ClaimLease(ctx context.Context, ip netip.Addr, client, mac net.HardwareAddr, expiry, now time.Time) error
	// PutTimeline stores boots as mac's timeline, replacing any.
	PutTimeline(ctx context.Context, mac boot.MAC, boots []boot.Boot) error
	// PutAudit stores recs (oldest first) as the audit log, with their
	// sequence numbers, replacing any; the next record follows the last.
	PutAudit(ctx context.Context, recs []access.Record) error
	Leases(ctx context.Context, fn func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error) error
}

// Export reads src, and its audit log, into a Dump.
func Export(ctx context.Context, src Source, audit access.AuditLog) (*Dump, error) {
	d := &Dump{Version: Version, Timelines: map[string][]boot.Boot{}}
	var err error
	if d.Nodes, err = src.Nodes(ctx); err != nil {
		return nil, fmt.Errorf("export nodes: %w", err)
	}
	for _, n := range d.Nodes {
		tl, err := src.Timeline(ctx, n.MAC)
		if err != nil {
			return nil, fmt.Errorf("export timeline of %s: %w", n.MAC, err)
		}
		if len(tl) > 0 {
			d.Timelines[n.MAC.String()] = tl
		}
	}
	if d.Intents, err = src.Intents(ctx); err != nil {
		return nil, fmt.Errorf("export intents: %w", err)
	}
	err = src.Leases(ctx, func(ip netip.Addr, mac net.HardwareAddr, expiry time.Time) error {
		l := Lease{IP: ip, Expiry: expiry}
		if mac != nil {
			l.MAC = mac.String()
		}
		d.Leases = append(d.Leases, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export leases: %w", err)
	}
	slices.SortFunc(d.Leases, func(a, b Lease) int { return a.IP.Compare(b.IP) })
	if d.Users, err = src.Users(ctx); err != nil {
		return nil, fmt.Errorf("export users: %w", err)
	}
	if d.Audit, err = audit.Query(ctx, access.Filter{}); err != nil {
		return nil, fmt.Errorf("export audit: %w", err)
	}
	slices.Reverse(d.Audit)
	return d, nil
}

// ErrNotEmpty reports that Import's destination already holds state.
var ErrNotEmpty = errors.New("the destination store is not empty")

// Import writes d into dst, which must hold no node, intent, lease or user
// (an error wrapping ErrNotEmpty otherwise); d's audit records replace
// dst's.
func Import(ctx context.Context, d *Dump, dst Sink) error {
	if d.Version != Version {
		return fmt.Errorf("import: dump version %d, but this bootd reads version %d", d.Version, Version)
	}
	if err := checkEmpty(ctx, dst); err != nil {
		return err
	}
	for _, n := range d.Nodes {
		if _, err := dst.Update(ctx, n.MAC, func(*boot.Node) (*boot.Node, error) { return n, nil }); err != nil {
			return fmt.Errorf("import node %s: %w", n.MAC, err)
		}
	}
	for m, tl := range d.Timelines {
		mac, err := boot.ParseMAC(m)
		if err != nil {
			return fmt.Errorf("import timeline: %w", err)
		}
		if err := dst.PutTimeline(ctx, mac, tl); err != nil {
			return fmt.Errorf("import timeline of %s: %w", mac, err)
		}
	}
	for _, in := range d.Intents {
		if err := dst.PutIntent(ctx, in); err != nil {
			return fmt.Errorf("import intent of %s: %w", in.MAC, err)
		}
	}
	for _, l := range d.Leases {
		var mac net.HardwareAddr
		if l.MAC != "" {
			var err error
			if mac, err = net.ParseMAC(l.MAC); err != nil {
				return fmt.Errorf("import lease of %s: %w", l.IP, err)
			}
		}
		// The store is empty (checked above): every claim is granted.
		if err := dst.ClaimLease(ctx, l.IP, mac, mac, l.Expiry, time.Time{}); err != nil {
			return fmt.Errorf("import lease of %s: %w", l.IP, err)
		}
	}
	err := dst.UpdateUsers(ctx, func(m map[string]*access.User) error {
		for _, u := range d.Users {
			m[u.Name] = u
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import users: %w", err)
	}
	if err := dst.PutAudit(ctx, d.Audit); err != nil {
		return fmt.Errorf("import audit: %w", err)
	}
	return nil
}

func checkEmpty(ctx context.Context, dst Sink) error {
	nodes, err := dst.Nodes(ctx)
	if err != nil {
		return err
	}
	intents, err := dst.Intents(ctx)
	if err != nil {
		return err
	}
	users, err := dst.Users(ctx)
	if err != nil {
		return err
	}
	leases := 0
	if err := dst.Leases(ctx, func(netip.Addr, net.HardwareAddr, time.Time) error { leases++; return nil }); err != nil {
		return err
	}
	if len(nodes)+len(intents)+len(users)+leases > 0 {
		return fmt.Errorf("import: %w: %d nodes, %d intents, %d users, %d leases", ErrNotEmpty,
			len(nodes), len(intents), len(users), leases)
	}
	return nil
}
