package boot

import (
	"regexp"
	"slices"
	"time"
)

// State is where a node is in its life.
type State string

// The states of a node.
const (
	// StateDiscovered: seen on the wire, not enrolled; it boots nothing of ours.
	StateDiscovered State = "discovered"
	// StateEnrolled: enrolled, not booted since (or since its last reimage).
	StateEnrolled State = "enrolled"
	// StateBooting: a boot is under way (DHCP seen, root not yet mounted).
	StateBooting State = "booting"
	// StateUp: the last boot reached its root filesystem.
	StateUp State = "up"
	// StateFailed: the last boot reported a failure.
	StateFailed State = "failed"
	// StateRetired: the node's volume and identity were removed; the record stays for history.
	StateRetired State = "retired"
)

// A Node is one machine bootd knows, keyed by its MAC address.
type Node struct {
	MAC      MAC    `json:"mac"`
	Hostname string `json:"hostname,omitempty"`
	// Image is the catalog name of the image the node boots; empty while discovered.
	Image string `json:"image,omitempty"`
	// Volume names the node's root volume; empty when bootd runs without a volume backend.
	Volume string `json:"volume,omitempty"`
	// SizeBytes is the requested size of the root volume.
	SizeBytes int64 `json:"size_bytes,omitempty"`
	State     State `json:"state"`
	// Netboot says whether bootd answers this node's boot requests with a boot file.
	Netboot bool `json:"netboot"`
	// PiSerial is the Raspberry Pi serial number learned from its TFTP prefix.
	PiSerial string `json:"pi_serial,omitempty"`
	// Arch is the firmware class last seen (x86-bios, x64-uefi, arm64-uefi, rpi4, ...).
	Arch string `json:"arch,omitempty"`
	// VendorClass is the DHCP vendor class (option 60) last seen.
	VendorClass string `json:"vendor_class,omitempty"`
	// Addr is the IP address the node was last seen from.
	Addr string `json:"addr,omitempty"`
	// LastStage and LastStageAt summarise the newest timeline event.
	LastStage   Stage     `json:"last_stage,omitempty"`
	LastStageAt time.Time `json:"last_stage_at,omitzero"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	// ArmedUntil, when in the future, arms the node for one boot: under a
	// key release rule with "armed", its key may be released until then
	// (bootd netboot <mac> once). The key release clears it.
	ArmedUntil time.Time `json:"armed_until,omitzero"`
	// LastSeen is when the node was last seen on the wire.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Replaces is the MAC of the machine this node took over from
	// (bootd replace); ReplacedBy, on that machine's retired record, the
	// MAC that took over.
	Replaces   MAC `json:"replaces,omitempty"`
	ReplacedBy MAC `json:"replaced_by,omitempty"`
	// Inventory is the hardware the machine reported in its newest boot
	// that reported one (nil before).
	Inventory *Inventory `json:"inventory,omitempty"`
	// Power is how bootd drives the node's power (power.go); nil: it does not.
	Power *PowerSettings `json:"power,omitempty"`
}

// Enrolled reports whether the node is enrolled (in any state but discovered or retired).
func (n *Node) Enrolled() bool {
	return n.State != StateDiscovered && n.State != StateRetired
}

// Clone returns a deep copy of n.
func (n *Node) Clone() *Node {
	c := *n
	c.MAC = append(MAC(nil), n.MAC...)
	c.Replaces = append(MAC(nil), n.Replaces...)
	c.ReplacedBy = append(MAC(nil), n.ReplacedBy...)
	if n.Inventory != nil {
		inv := *n.Inventory
		inv.NICs, inv.Disks = slices.Clone(inv.NICs), slices.Clone(inv.Disks)
		c.Inventory = &inv
	}
	if n.Power != nil {
		p := *n.Power
		c.Power = &p
	}
	return &c
}

// DefaultHostname is the hostname given to a node enrolled without one:
// "node-" and the MAC's twelve hex digits.
func DefaultHostname(mac MAC) string {
	const hex = "0123456789abcdef"
	b := []byte("node-")
	for _, x := range mac {
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return string(b)
}

var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidHostname checks that h is a single DNS label (RFC 1123): lower-case
// letters, digits and inner hyphens, at most 63 characters.
func ValidHostname(h string) error {
	if !hostnameRE.MatchString(h) {
		return invalid("bad hostname %q: want a DNS label of lower-case letters, digits and hyphens, at most 63 characters", h)
	}
	return nil
}
