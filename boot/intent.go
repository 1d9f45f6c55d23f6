package boot

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Intents: how the volume operations (enroll, reimage, retire, orphan
// removal) survive a crash, and the in-process guard that keeps two of them
// off one node.

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
	// IntentReplace: a node is moving to another machine's MAC (To);
	// finished on restart.
	IntentReplace IntentOp = "replace"
)

// An Intent is an operation under way on one node, stored before its first
// step so that a restart after a crash finishes or undoes it. A node has at
// most one intent at a time, which also keeps two operations off one volume.
type Intent struct {
	Op  IntentOp `json:"op"`
	MAC MAC      `json:"mac"`
	// To is the MAC a replace moves the node to.
	To MAC `json:"to,omitempty"`
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

// Crash safety. Enroll, Reimage and Retire change a node and its volume in
// several steps. Each first stores an Intent, then does its steps, then
// stores the node and deletes the intent. After a crash, Recover (at start)
// undoes an interrupted enroll and finishes an interrupted reimage or
// retire. The steps call the Config.Checkpoint hook by these names, in order:
//
//	enroll:  enroll:intent, (the backend's steps), enroll:node
//	reimage: reimage:intent, reimage:discarded, (the backend's steps), reimage:node
//	retire:  retire:intent, (the backend's steps), retire:node
//	replace: replace:intent, replace:rekeyed, replace:moved, replace:retired

// inflight is the set of nodes with an operation running in this process.
// It keeps two operations off one node, and keeps Reconcile away from
// intents whose operation is still running.
type inflight struct {
	mu   sync.Mutex
	macs map[string]bool
}

// begin marks mac busy, or fails with ErrBusy when it is already.
func (f *inflight) begin(mac MAC) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.macs[mac.String()] {
		return fmt.Errorf("%w: another operation on %s is under way", ErrBusy, mac)
	}
	if f.macs == nil {
		f.macs = map[string]bool{}
	}
	f.macs[mac.String()] = true
	return nil
}

func (f *inflight) end(mac MAC) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.macs, mac.String())
}

func (f *inflight) has(mac MAC) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.macs[mac.String()]
}

// step calls the checkpoint hook.
func (s *Service) step(name string) {
	if s.checkpoint != nil {
		s.checkpoint(name)
	}
}

// endIntent deletes mac's intent once its operation is done. A failure is
// only logged: the node is stored already, and Recover sees that the
// operation finished.
func (s *Service) endIntent(ctx context.Context, mac MAC) {
	if err := s.store.DeleteIntent(ctx, mac); err != nil {
		s.log.Warn("operation done but its intent stays until the next reconcile", "mac", mac.String(), "err", err)
	}
}
