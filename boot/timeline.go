package boot

import "time"

// Stage names a step of a boot, in the order a boot passes them.
type Stage string

// The stages of a boot. Protocol servers report the early ones; the boot
// script running in the node's initramfs reports the rest.
const (
	StageDHCP    Stage = "dhcp"    // a DHCP exchange with bootd
	StageTFTP    Stage = "tftp"    // a file fetched over TFTP
	StageLoader  Stage = "loader"  // a signed boot loader (shim, GRUB) fetched over HTTP
	StageScript  Stage = "script"  // the iPXE script (or Pi config) served
	StageKernel  Stage = "kernel"  // the kernel fetched
	StageInitrd  Stage = "initrd"  // the initrd(s) fetched
	StageNetwork Stage = "network" // the initramfs brought the network up
	StageKey     Stage = "key"     // the node fetched its Ceph key
	StageVolume  Stage = "volume"  // the node mapped its RBD volume
	StageRoot    Stage = "root"    // the root filesystem is mounted
	StageFailed  Stage = "failed"  // the boot failed; Detail says why
	// StageWarning marks something an operator should know about a boot
	// (a second key request) without moving the node's state.
	StageWarning Stage = "warning"
	// StagePower records a power action an operator asked for and its
	// failure (power.go); like a warning, it leaves the node's state alone.
	StagePower Stage = "power"
)

var stageRank = map[Stage]int{
	StageDHCP: 1, StageTFTP: 2, StageLoader: 2, StageScript: 3, StageKernel: 4, StageInitrd: 5,
	StageNetwork: 6, StageKey: 7, StageVolume: 8, StageRoot: 9, StageFailed: 10, StageWarning: 11, StagePower: 12,
}

// ValidStage reports whether s is one of the known stages.
func ValidStage(s Stage) bool { return stageRank[s] != 0 }

// An Event is one step of one boot of a node.
type Event struct {
	// Boot is the number of the boot this event belongs to, counted per node from 1.
	// The store assigns it.
	Boot   int       `json:"boot"`
	Stage  Stage     `json:"stage"`
	Time   time.Time `json:"time"`
	Source string    `json:"source,omitempty"` // the address the node spoke from
	// Detail says what happened, in words. A fetch event carries its
	// Fetch instead; Text renders either.
	Detail string `json:"detail,omitempty"`
	Fetch  *Fetch `json:"fetch,omitempty"`
	// Instance names the bootd instance that recorded the event (see
	// Config.Instance); empty when it had no name.
	Instance string `json:"instance,omitempty"`
}

// Text is what ev says happened, for people: its fetch rendered, or its Detail.
func (ev Event) Text() string {
	if ev.Fetch != nil {
		return ev.Fetch.String()
	}
	return ev.Detail
}

// A Boot is the events of one boot, oldest first.
type Boot struct {
	Seq    int     `json:"seq"`
	Events []Event `json:"events"`
}

// TimelinePolicy tells a Store how events group into boots and how much
// history to keep. The Service passes its policy on every append.
type TimelinePolicy struct {
	// NewBoot reports whether ev starts a new boot; last is the node's newest
	// event, nil when it has none.
	NewBoot func(last *Event, ev Event) bool
	// Apply updates the node's summary for ev inside the append's transaction.
	// It is called only when a node is stored for the MAC.
	Apply func(n *Node, ev Event)
	// KeepBoots is how many boots are kept per node, the newest.
	KeepBoots int
	// KeepEvents is how many events are kept per boot: the first
	// KeepEvents-1 and the newest, which replaces the last slot.
	KeepEvents int
}

// bootGap is how long a quiet node must be before a DHCP exchange counts as a new boot
// even when the previous boot never got past its firmware.
const bootGap = 5 * time.Minute

// DefaultTimelinePolicy groups events into boots as firmware behaves: a DHCP
// exchange starts a new boot once the previous one has got as far as its
// kernel (iPXE's own DHCP after the firmware's belongs to the same boot), or
// after a quiet spell. It keeps the last 10 boots of 256 events each.
func DefaultTimelinePolicy() TimelinePolicy {
	return TimelinePolicy{
		NewBoot:    newBoot,
		Apply:      applyEvent,
		KeepBoots:  10,
		KeepEvents: 256,
	}
}

func newBoot(last *Event, ev Event) bool {
	if last == nil {
		return true
	}
	if ev.Stage != StageDHCP {
		return ev.Time.Sub(last.Time) > 6*bootGap
	}
	return stageRank[last.Stage] >= stageRank[StageKernel] || ev.Time.Sub(last.Time) > bootGap
}

// applyEvent moves a node's state along with its boot.
func applyEvent(n *Node, ev Event) {
	if ev.Stage == StageWarning || ev.Stage == StagePower {
		return // on the timeline; the node's summary and state stay
	}
	n.LastStage, n.LastStageAt = ev.Stage, ev.Time
	if ev.Source != "" {
		n.Addr = ev.Source
	}
	if !n.Enrolled() {
		return
	}
	switch ev.Stage {
	case StageFailed:
		n.State = StateFailed
	case StageRoot:
		n.State = StateUp
	default:
		n.State = StateBooting
	}
}
