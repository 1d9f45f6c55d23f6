package boot

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Inventory: what a machine is, as its bootd-init reports it once per boot
// (after its key release, with the boot's report secret). The node keeps
// the newest report; a change from the one before that an operator would
// want to know of (memory shrank, a NIC or a disk came or went, another
// serial number) is a warning on its timeline.

// An Inventory is a machine's hardware as it reported it.
type Inventory struct {
	Vendor      string `json:"vendor,omitempty"` // DMI system vendor
	Model       string `json:"model,omitempty"`  // DMI product name, or a Pi's model
	Serial      string `json:"serial,omitempty"` // DMI product serial, or a Pi's serial
	BIOSVersion string `json:"bios_version,omitempty"`
	// PiRevision is a Raspberry Pi's board revision code (e.g. c03114).
	PiRevision  string `json:"pi_revision,omitempty"`
	CPUs        int    `json:"cpus"` // hardware threads
	CPUModel    string `json:"cpu_model,omitempty"`
	MemoryBytes int64  `json:"memory_bytes"` // physical memory
	NICs        []NIC  `json:"nics,omitempty"`
	// Disks are the machine's own block devices (not RBD, loop, RAM or
	// optical ones): a diskless machine has none.
	Disks []Disk `json:"disks,omitempty"`
	// Reported is when bootd took the report.
	Reported time.Time `json:"reported,omitzero"`
}

// A NIC is one network interface of an Inventory.
type NIC struct {
	Name      string `json:"name"`
	MAC       string `json:"mac"`
	Link      bool   `json:"link"`                 // carrier up
	SpeedMbps int    `json:"speed_mbps,omitempty"` // 0 when unknown
}

// A Disk is one block device of an Inventory.
type Disk struct {
	Name      string `json:"name"`
	SizeBytes int64  `json:"size_bytes"`
	Model     string `json:"model,omitempty"`
}

// Bounds of a report: a machine has a handful of NICs and disks.
const (
	maxInventoryItems = 64
	maxInventoryText  = 128
)

// clean bounds inv's lists and texts and makes its texts printable, so a
// report can neither grow the store nor smuggle control characters into
// pages and terminals. It fails on values no machine has.
func (inv *Inventory) clean() error {
	if inv.CPUs < 0 || inv.CPUs > 1<<16 || inv.MemoryBytes < 0 {
		return invalid("inventory: %d CPUs, %d bytes of memory", inv.CPUs, inv.MemoryBytes)
	}
	if len(inv.NICs) > maxInventoryItems || len(inv.Disks) > maxInventoryItems {
		return invalid("inventory: %d NICs, %d disks: at most %d each", len(inv.NICs), len(inv.Disks), maxInventoryItems)
	}
	text := func(s *string) {
		if len(*s) > maxInventoryText {
			*s = (*s)[:maxInventoryText]
		}
		*s = strings.TrimSpace(Printable(*s))
	}
	for _, s := range []*string{&inv.Vendor, &inv.Model, &inv.Serial, &inv.BIOSVersion, &inv.PiRevision, &inv.CPUModel} {
		text(s)
	}
	for i := range inv.NICs {
		n := &inv.NICs[i]
		text(&n.Name)
		mac, err := ParseMAC(n.MAC)
		if err != nil && n.MAC != "" {
			return invalid("inventory: NIC %s: %v", n.Name, err)
		}
		if err == nil {
			n.MAC = mac.String()
		}
		n.SpeedMbps = max(0, n.SpeedMbps)
	}
	for i := range inv.Disks {
		text(&inv.Disks[i].Name)
		text(&inv.Disks[i].Model)
		inv.Disks[i].SizeBytes = max(0, inv.Disks[i].SizeBytes)
	}
	slices.SortFunc(inv.NICs, func(a, b NIC) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(inv.Disks, func(a, b Disk) int { return strings.Compare(a.Name, b.Name) })
	return nil
}

// Changes lists what differs between an earlier report, was, and inv, in
// words, for the timeline: hardware an operator did not expect to change.
// Link state and speed are left out (a cable or a switch port).
func (inv *Inventory) Changes(was *Inventory) []string {
	if was == nil {
		return nil
	}
	var out []string
	if was.MemoryBytes != inv.MemoryBytes {
		verb := "grew"
		if inv.MemoryBytes < was.MemoryBytes {
			verb = "shrank"
		}
		out = append(out, fmt.Sprintf("memory %s from %s to %s", verb, FormatSize(was.MemoryBytes), FormatSize(inv.MemoryBytes)))
	}
	if was.CPUs != inv.CPUs {
		out = append(out, fmt.Sprintf("CPUs %d → %d", was.CPUs, inv.CPUs))
	}
	for _, f := range []struct{ name, was, is string }{
		{"serial", was.Serial, inv.Serial}, {"model", was.Model, inv.Model},
		{"vendor", was.Vendor, inv.Vendor}, {"BIOS", was.BIOSVersion, inv.BIOSVersion},
	} {
		if f.was != f.is {
			out = append(out, fmt.Sprintf("%s %q → %q", f.name, f.was, f.is))
		}
	}
	nicKey := func(n NIC) string { return n.Name + " " + n.MAC }
	out = append(out, setChanges("NIC", mapKeys(was.NICs, nicKey), mapKeys(inv.NICs, nicKey))...)
	diskKey := func(d Disk) string { return d.Name + " " + FormatSize(d.SizeBytes) }
	out = append(out, setChanges("disk", mapKeys(was.Disks, diskKey), mapKeys(inv.Disks, diskKey))...)
	return out
}

func mapKeys[T any](xs []T, key func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = key(x)
	}
	slices.Sort(out)
	return out
}

// setChanges says which of was are gone from is and which are new in it.
func setChanges(what string, was, is []string) []string {
	var out []string
	for _, w := range was {
		if !slices.Contains(is, w) {
			out = append(out, fmt.Sprintf("%s %s gone", what, w))
		}
	}
	for _, n := range is {
		if !slices.Contains(was, n) {
			out = append(out, fmt.Sprintf("%s %s new", what, n))
		}
	}
	return out
}

// ReportInventory takes a machine's inventory from its boot: from the
// address its key went to, with the boot's report secret, once a boot. It
// is stored on the node; a change from the last report is a warning on
// the timeline.
func (s *Service) ReportInventory(ctx context.Context, mac MAC, inv Inventory, auth string, addr netip.Addr) error {
	if err := inv.clean(); err != nil {
		return err
	}
	addr = addr.Unmap()
	if !s.inventoryAllowed(mac, auth, addr) {
		s.trust.ReportsRefused.Add(1)
		s.log.Debug("inventory refused", "mac", mac.String(), "ip", addr.String())
		return ErrReportRefused
	}
	inv.Reported = s.now()
	var was *Inventory
	if _, err := s.updateEnrolled(ctx, mac, func(n *Node) error {
		was, n.Inventory = n.Inventory, &inv
		return nil
	}); err != nil {
		return err
	}
	if ch := inv.Changes(was); len(ch) > 0 {
		msg := "hardware changed since the last boot: " + strings.Join(ch, "; ")
		if _, err := s.Record(ctx, mac, Event{Stage: StageWarning, Source: addr.String(), Detail: msg}); err != nil {
			return fmt.Errorf("inventory: %w", err)
		}
		s.log.Warn("hardware changed", "mac", mac.String(), "changes", strings.Join(ch, "; "))
	}
	return nil
}

// inventoryAllowed checks an inventory report: the boot's key went out to
// addr, auth is its secret, and the boot has not reported one yet (it is
// marked as reported).
func (s *Service) inventoryAllowed(mac MAC, auth string, addr netip.Addr) bool {
	ok := false
	err := s.changeSession(mac, func(cur *Session) (*Session, error) {
		ok = false
		if cur == nil || !cur.Released || cur.Inventoried || addr != cur.ReleasedTo || !secretIs(cur.Secret, auth) {
			return nil, errKeep
		}
		cur.Inventoried, ok = true, true
		return cur, nil
	})
	return err == nil && ok
}
