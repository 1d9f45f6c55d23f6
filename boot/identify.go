package boot

import (
	"context"
	"fmt"
	"net"
	"time"
)

// ValidPiSerial reports whether s is a Raspberry Pi serial number as its
// bootloader spells it in TFTP prefixes: eight lower-case hex digits.
func ValidPiSerial(s string) bool {
	if len(s) != 8 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// NodeByAddr returns the node last seen at ip (by a DHCP exchange or a boot
// event), the most recently seen when several were, or an error wrapping
// ErrUnknown when none was. Protocol servers call it once per request: it
// looks through the nodes without copying them (see NodeScanner).
func (s *Service) NodeByAddr(ctx context.Context, ip net.IP) (*Node, error) {
	if ip == nil || ip.IsUnspecified() {
		return nil, fmt.Errorf("%w: no address", ErrUnknown)
	}
	want := ip.String()
	if v4 := ip.To4(); v4 != nil {
		want = v4.String()
	}
	var best *Node
	err := scanNodes(ctx, s.store, func(n *Node) bool {
		if n.Addr == want && n.State != StateRetired && (best == nil || seen(n).After(seen(best))) {
			best = n.Clone()
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if best == nil {
		return nil, fmt.Errorf("%w: no machine seen at %s", ErrUnknown, want)
	}
	return best, nil
}

// NodeScanner is a Store that can show every node without copying it.
// ScanNodes calls fn with each node until fn returns false; fn must neither
// keep nor change the node it is given.
type NodeScanner interface {
	ScanNodes(ctx context.Context, fn func(*Node) bool) error
}

// scanNodes runs fn over every node of st, through its NodeScanner when it
// has one, else over copies from Nodes.
func scanNodes(ctx context.Context, st Store, fn func(*Node) bool) error {
	if sc, ok := st.(NodeScanner); ok {
		return sc.ScanNodes(ctx, fn)
	}
	nodes, err := st.Nodes(ctx)
	for _, n := range nodes {
		if !fn(n) {
			break
		}
	}
	return err
}

// seen is when a node was last heard of.
func seen(n *Node) time.Time {
	if n.LastSeen.After(n.LastStageAt) {
		return n.LastSeen
	}
	return n.LastStageAt
}

// NodeBySerial returns the node bound to a Raspberry Pi serial number, or an
// error wrapping ErrUnknown.
func (s *Service) NodeBySerial(ctx context.Context, serial string) (*Node, error) {
	if !ValidPiSerial(serial) {
		return nil, invalid("bad Raspberry Pi serial %q: want eight lower-case hex digits", serial)
	}
	var found *Node
	err := scanNodes(ctx, s.store, func(n *Node) bool {
		if n.PiSerial == serial && n.State != StateRetired {
			found = n.Clone()
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no machine has Raspberry Pi serial %s", ErrUnknown, serial)
	}
	return found, nil
}

// BindPiSerial records that the Raspberry Pi with this serial number is the
// node mac, as learned from its first TFTP request. A node keeps the serial
// it was first bound to: binding another one fails with ErrExists, and so
// does binding a serial another node holds.
func (s *Service) BindPiSerial(ctx context.Context, mac MAC, serial string) (*Node, error) {
	if !ValidPiSerial(serial) {
		return nil, invalid("bad Raspberry Pi serial %q: want eight lower-case hex digits", serial)
	}
	if other, err := s.NodeBySerial(ctx, serial); err == nil && other.MAC.String() != mac.String() {
		return nil, fmt.Errorf("%w: Raspberry Pi serial %s belongs to %s", ErrExists, serial, other.MAC)
	}
	changed := false
	n, err := s.store.Update(ctx, mac, func(cur *Node) (*Node, error) {
		if cur == nil {
			return nil, fmt.Errorf("%w: %s", ErrUnknown, mac)
		}
		switch cur.PiSerial {
		case serial:
			return cur, nil
		case "":
			cur.PiSerial, cur.Updated, changed = serial, s.now(), true
			return cur, nil
		default:
			return nil, fmt.Errorf("%w: %s is bound to Raspberry Pi serial %s, not %s", ErrExists, mac, cur.PiSerial, serial)
		}
	})
	if err == nil && changed {
		s.log.Info("raspberry pi serial bound", "mac", n.MAC.String(), "serial", serial)
	}
	return n, err
}
