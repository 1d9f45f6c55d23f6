package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

// nodeCache keeps every stored node decoded, so that the protocol servers,
// which read a node (or look one up by address) on every request, do not
// decode JSON each time. Open loads it; from then on every committed write
// goes into it, so it holds all the stored nodes. Every entry carries
// the id of the transaction its node is as of: a write sets its nodes once
// committed, and a read fills a missing or older entry with what it read.
// Neither ever replaces a newer entry, so the cache never goes back in time,
// whatever order commits, their handlers and reads finish in. It holds the
// stored nodes (and deleted ones' tombstones), never MACs merely asked for.
type nodeCache struct {
	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	node *boot.Node // nil: deleted
	txid int
}

// get returns a copy of the cached node for key, and whether there is one.
func (c *nodeCache) get(key string) (*boot.Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, false
	}
	if e.node == nil {
		return nil, true
	}
	return e.node.Clone(), true
}

// put records n (nil: deleted) as of transaction txid, unless the entry is newer.
func (c *nodeCache) put(key string, n *boot.Node, txid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cached{}
	}
	if e, ok := c.m[key]; ok && e.txid > txid {
		return
	}
	c.m[key] = cached{node: n, txid: txid}
}

// load puts every node of tx into the cache (Open calls it).
func (c *nodeCache) load(tx *bolt.Tx) error {
	id := tx.ID()
	return tx.Bucket(bucketNodes).ForEach(func(k, v []byte) error {
		n := new(boot.Node)
		if err := json.Unmarshal(v, n); err != nil {
			return fmt.Errorf("decode node %s: %w", k, err)
		}
		c.put(string(k), n, id)
		return nil
	})
}

// all returns copies of every cached node, sorted by MAC.
func (c *nodeCache) all() []*boot.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*boot.Node, 0, len(c.m))
	for _, e := range c.m {
		if e.node != nil {
			out = append(out, e.node.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *boot.Node) int { return strings.Compare(a.MAC.String(), b.MAC.String()) })
	return out
}

// scan calls fn with each cached node until fn returns false. fn must
// neither keep nor change the node.
func (c *nodeCache) scan(fn func(*boot.Node) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.m {
		if e.node != nil && !fn(e.node) {
			return
		}
	}
}

// wrote arranges for n (nil: deleted) to enter the cache once tx commits.
func (c *nodeCache) wrote(tx *bolt.Tx, key string, n *boot.Node) {
	if n != nil {
		n = n.Clone() // the caller may change its copy
	}
	id := tx.ID()
	tx.OnCommit(func() { c.put(key, n, id) })
}
