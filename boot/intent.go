package boot

import (
	"context"
	"time"
)

// An IntentOp names an operation that changes a node and its volume in
// several steps.
type IntentOp string

// The operations recorded as intents.
const (
	// IntentEnroll: a node is being enrolled; undone on restart.
	IntentEnroll IntentOp = "enroll"
	// IntentReimage: a node's root is being replaced; finished on restart.
	IntentReimage IntentOp = "reimage"
	// IntentRetire: a node's volume is being removed; finished on restart.
	IntentRetire IntentOp = "retire"
	// IntentRemoveOrphan: reconcile is removing a volume no node owns;
	// finished on restart (unless a node owns it by then).
	IntentRemoveOrphan IntentOp = "remove-orphan"
)

// An Intent is an operation under way on one node, stored before its first
// step so that a restart after a crash finishes or undoes it. A node has at
// most one intent at a time, which also keeps two operations off one volume.
type Intent struct {
	Op  IntentOp `json:"op"`
	MAC MAC      `json:"mac"`
	// Volume is the volume the operation makes, replaces or removes.
	Volume VolumeRequest `json:"volume"`
	// Keep names the kept volume a reimage makes of the old root; empty
	// deletes it.
	Keep string `json:"keep,omitempty"`
	// OldID is the root's ID before a reimage (empty when it had none), so
	// a restart can tell how far the reimage got.
	OldID   string    `json:"old_id,omitempty"`
	Started time.Time `json:"started"`
}

// IntentStore keeps intents. It is part of Store.
type IntentStore interface {
	// PutIntent stores in as mac's intent, durably, before the operation's
	// first step. It fails with an error wrapping ErrBusy when mac has one.
	PutIntent(ctx context.Context, in Intent) error
	// DeleteIntent removes mac's intent; removing none is not an error.
	DeleteIntent(ctx context.Context, mac MAC) error
	// Intents returns every stored intent, sorted by MAC.
	Intents(ctx context.Context) ([]Intent, error)
}
