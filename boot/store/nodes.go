package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

func nodeKey(mac boot.MAC) []byte { return []byte(mac.String()) }

func getNode(tx *bolt.Tx, mac boot.MAC) (*boot.Node, error) {
	v := tx.Bucket(bucketNodes).Get(nodeKey(mac))
	if v == nil {
		return nil, nil
	}
	n := new(boot.Node)
	if err := json.Unmarshal(v, n); err != nil {
		return nil, fmt.Errorf("decode node %s: %w", mac, err)
	}
	return n, nil
}

func (s *DB) putNode(tx *bolt.Tx, n *boot.Node) error {
	v, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode node %s: %w", n.MAC, err)
	}
	if err := tx.Bucket(bucketNodes).Put(nodeKey(n.MAC), v); err != nil {
		return err
	}
	s.cache.wrote(tx, string(nodeKey(n.MAC)), n)
	return nil
}

// Node implements boot.Store. It answers from the cache of decoded nodes
// when it can (cache.go).
func (s *DB) Node(ctx context.Context, mac boot.MAC) (*boot.Node, error) {
	key := string(nodeKey(mac))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n, ok := s.cache.get(key)
	if ok && n == nil {
		return nil, fmt.Errorf("%w: %s", boot.ErrUnknown, mac)
	}
	if ok {
		return n, nil
	}
	err := s.read(ctx, func(tx *bolt.Tx) error {
		var err error
		n, err = getNode(tx, mac)
		if err == nil && n != nil {
			s.cache.put(key, n.Clone(), tx.ID())
		}
		return err
	})
	if err == nil && n == nil {
		err = fmt.Errorf("%w: %s", boot.ErrUnknown, mac)
	}
	return n, err
}

// Nodes implements boot.Store, from the cache of decoded nodes (which Open
// loads with every stored node).
func (s *DB) Nodes(ctx context.Context) ([]*boot.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.cache.all(), nil
}

// ScanNodes implements boot.NodeScanner: fn sees every stored node, in no
// particular order, until it returns false. It must neither keep nor change
// the node it is given.
func (s *DB) ScanNodes(ctx context.Context, fn func(*boot.Node) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.cache.scan(fn)
	return nil
}

// Update implements boot.Store.
func (s *DB) Update(ctx context.Context, mac boot.MAC, fn func(cur *boot.Node) (*boot.Node, error)) (*boot.Node, error) {
	var out *boot.Node
	err := s.write(ctx, func(tx *bolt.Tx) error {
		cur, err := getNode(tx, mac)
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
		out = next
		return s.putNode(tx, next)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete implements boot.Store.
func (s *DB) Delete(ctx context.Context, mac boot.MAC, check func(cur *boot.Node) error) error {
	return s.write(ctx, func(tx *bolt.Tx) error {
		if check != nil {
			cur, err := getNode(tx, mac)
			if err != nil {
				return err
			}
			if err := check(cur); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketNodes).Delete(nodeKey(mac)); err != nil {
			return err
		}
		s.cache.wrote(tx, string(nodeKey(mac)), nil)
		return deleteTimeline(tx, mac)
	})
}
