//go:build cgo

package radosstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/bootd/bootd/boot"
)

const nodePrefix = "node."

func nodeOID(mac boot.MAC) string { return nodePrefix + mac.String() }

// decodeJSON returns the T (a node, a session) of o's body, nil when it
// holds none; what names it in an error.
func decodeJSON[T any](what string, o object) (*T, error) {
	if !o.exists || len(o.body) == 0 {
		return nil, nil
	}
	v := new(T)
	if err := json.Unmarshal(o.body, v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

// decodeNode returns the node of o's body, nil when it holds none.
func decodeNode(mac string, o object) (*boot.Node, error) {
	return decodeJSON[boot.Node]("node "+mac, o)
}

// Node implements boot.Store.
func (s *Store) Node(ctx context.Context, mac boot.MAC) (*boot.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, err := s.read(nodeOID(mac), 0)
	if err != nil {
		return nil, err
	}
	n, err := decodeNode(mac.String(), o)
	if err == nil && n == nil {
		err = fmt.Errorf("%w: %s", boot.ErrUnknown, mac)
	}
	return n, err
}

// Nodes implements boot.Store: every node object in the namespace, read
// one by one, skipping those that hold only a timeline or went meanwhile.
func (s *Store) Nodes(ctx context.Context) ([]*boot.Node, error) {
	macs, err := s.indexed()
	if err != nil {
		return nil, err
	}
	out := []*boot.Node{}
	for _, mac := range macs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o, err := s.read(nodePrefix+mac, 0)
		if err != nil {
			return nil, err
		}
		n, err := decodeNode(mac, o)
		if err != nil {
			return nil, err
		}
		if n != nil {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *boot.Node) int { return strings.Compare(a.MAC.String(), b.MAC.String()) })
	return out, nil
}

// indexed returns the MACs of the node objects in the namespace: the
// listing of the namespace is the index, so no second object is kept in
// step with the nodes.
func (s *Store) indexed() ([]string, error) {
	var macs []string
	err := s.io.ListObjects(func(oid string) {
		if mac, ok := strings.CutPrefix(oid, nodePrefix); ok {
			macs = append(macs, mac)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return macs, nil
}

// Update implements boot.Store: fn runs on the node as read, and its result
// is written only if the node's object is still as read; otherwise fn runs
// again on the node as it is now.
func (s *Store) Update(ctx context.Context, mac boot.MAC, fn func(cur *boot.Node) (*boot.Node, error)) (*boot.Node, error) {
	var out *boot.Node
	err := retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := s.read(nodeOID(mac), 0)
		if err != nil {
			return err
		}
		cur, err := decodeNode(mac.String(), o)
		if err != nil {
			return err
		}
		next, err := fn(cur)
		if err != nil {
			return err
		}
		if next == nil {
			return fmt.Errorf("update %s: no node to store (Delete removes one)", mac)
		}
		if next.MAC.String() != mac.String() {
			return fmt.Errorf("update %s: node's MAC changed to %s", mac, next.MAC)
		}
		v, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("encode node %s: %w", mac, err)
		}
		out = next
		return s.write(nodeOID(mac), o, v, nil)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete implements boot.Store: the node's object, node and timeline, goes
// in one operation.
func (s *Store) Delete(ctx context.Context, mac boot.MAC, check func(cur *boot.Node) error) error {
	err := retry(func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		o, err := s.read(nodeOID(mac), 0)
		if err != nil {
			return err
		}
		if check != nil {
			cur, err := decodeNode(mac.String(), o)
			if err != nil {
				return err
			}
			if err := check(cur); err != nil {
				return err
			}
		}
		return s.remove(nodeOID(mac), o)
	})
	if err == nil {
		// The node's boot session goes with it (sessions.go), at best: one
		// left behind is harmless, as only an enrolled node's is ever used.
		_ = s.io.Delete(sessionOID(mac))
	}
	return err
}
