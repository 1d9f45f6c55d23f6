package boot

import "context"

// A Store keeps nodes and their timelines. Every method is safe for
// concurrent use, and every change is one atomic, durable transaction: after
// a crash a change is either wholly there or not at all.
type Store interface {
	// Node returns the node stored for mac, or an error wrapping ErrUnknown.
	Node(ctx context.Context, mac MAC) (*Node, error)
	// Nodes returns every stored node, sorted by MAC.
	Nodes(ctx context.Context) ([]*Node, error)
	// Update runs fn in one transaction on a copy of the node stored for mac
	// (nil when there is none) and stores the node fn returns, which must
	// not be nil and must keep mac (Delete removes a node). An error from fn
	// aborts the transaction and is returned as is. fn may run more than once.
	Update(ctx context.Context, mac MAC, fn func(cur *Node) (*Node, error)) (*Node, error)
	// Delete runs check in one transaction on a copy of the node stored for
	// mac (nil when there is none) and then deletes the node and its
	// timeline. An error from check aborts the transaction and is returned
	// as is; a nil check deletes unconditionally. Deleting a node that is
	// not stored is not an error. check may run more than once.
	Delete(ctx context.Context, mac MAC, check func(cur *Node) error) error
	// AppendEvent adds ev to mac's timeline following p, and returns the event
	// as stored (with its boot number).
	AppendEvent(ctx context.Context, mac MAC, ev Event, p TimelinePolicy) (Event, error)
	// Timeline returns mac's kept boots, oldest first (empty when it has none).
	Timeline(ctx context.Context, mac MAC) ([]Boot, error)
	// IntentStore keeps the operations under way (see Intent).
	IntentStore
}
