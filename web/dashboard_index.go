package web

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/bootd/bootd/boot"
)

// nodeIndex is the dashboard's copy of the node list. Reading every node
// from the store for each page would cost time in proportion to the rack;
// instead the index reads them once, then asks the Service which nodes
// changed since (boot.Service.ChangesSince) and reads only those. It is
// safe for concurrent use.
type nodeIndex struct {
	nodes   NodeReader
	changes Events

	mu     sync.Mutex
	loaded bool
	mark   uint64
	list   []*boot.Node // every node, sorted by MAC (byte order = canonical text order)
}

// snapshot returns every node, sorted by MAC. The slice and the nodes are
// shared with other callers: they must not be changed.
func (x *nodeIndex) snapshot(ctx context.Context) ([]*boot.Node, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.loaded {
		changed, next, ok := x.changes.ChangesSince(x.mark)
		if ok {
			if err := x.refresh(ctx, changed); err != nil {
				return nil, err
			}
			x.mark = next
			return x.list, nil
		}
	}
	mark := x.changes.ChangeMark() // before reading: a change made meanwhile is read again later
	all, err := x.nodes.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b *boot.Node) int { return bytes.Compare(a.MAC, b.MAC) }) // the Store's order, made sure
	x.list, x.mark, x.loaded = all, mark, true
	return x.list, nil
}

// refresh reads the nodes that changed again. The list is copied, not
// changed in place: earlier callers may still be reading it.
func (x *nodeIndex) refresh(ctx context.Context, changed []boot.MAC) error {
	if len(changed) == 0 {
		return nil
	}
	list := slices.Clone(x.list)
	for _, mac := range changed {
		n, err := x.nodes.Node(ctx, mac)
		if err != nil && !errors.Is(err, boot.ErrUnknown) {
			return err
		}
		i, found := slices.BinarySearchFunc(list, mac, func(n *boot.Node, mac boot.MAC) int {
			return bytes.Compare(n.MAC, mac)
		})
		switch {
		case err != nil && found:
			list = slices.Delete(list, i, i+1)
		case err != nil:
		case found:
			list[i] = n
		default:
			list = slices.Insert(list, i, n)
		}
	}
	x.list = list
	return nil
}
