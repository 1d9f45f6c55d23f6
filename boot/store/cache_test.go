package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/bootd/bootd/boot"
	bolt "go.etcd.io/bbolt"
)

// rawNode reads mac's node from the file, past the cache.
func rawNode(t *testing.T, db *DB, mac boot.MAC) *boot.Node {
	t.Helper()
	var n *boot.Node
	if err := db.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = getNode(tx, mac)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestNodeCache checks that Node answers what was last committed, through
// updates, events, deletes and concurrent writers, and that a caller's
// changes to a returned node never reach the cache.
func TestNodeCache(t *testing.T) {
	t.Parallel()
	db, _ := openTemp(t)
	ctx := context.Background()
	svc := newService(t, db)
	mac := macN(7)
	if _, err := svc.Enroll(ctx, boot.EnrollRequest{MAC: mac, Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	n, err := db.Node(ctx, mac)
	if err != nil {
		t.Fatal(err)
	}
	n.Hostname = "changed-by-caller"
	if again, _ := db.Node(ctx, mac); again.Hostname == "changed-by-caller" {
		t.Fatal("a caller's change to its node reached the cache")
	}

	// Concurrent writers (hostname updates and timeline events) and readers.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if _, err := db.Update(ctx, mac, func(cur *boot.Node) (*boot.Node, error) {
					cur.Hostname = fmt.Sprintf("h%d-%d", w, i)
					return cur, nil
				}); err != nil {
					t.Error(err)
				}
				if _, err := db.AppendEvent(ctx, mac, boot.Event{Stage: boot.StageScript, Source: fmt.Sprintf("198.18.0.%d", i)}, boot.DefaultTimelinePolicy()); err != nil {
					t.Error(err)
				}
			}
		})
		wg.Go(func() {
			for range 200 {
				if _, err := db.Node(ctx, mac); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got, err := db.Node(ctx, mac)
	if err != nil {
		t.Fatal(err)
	}
	if want := rawNode(t, db, mac); got.Hostname != want.Hostname || got.Addr != want.Addr || got.LastStageAt != want.LastStageAt {
		t.Errorf("cached node %+v, stored %+v", got, want)
	}

	// A write that fails leaves the cache alone.
	boom := errors.New("boom")
	if _, err := db.Update(ctx, mac, func(cur *boot.Node) (*boot.Node, error) {
		cur.Hostname = "never"
		return cur, boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if got, _ := db.Node(ctx, mac); got.Hostname == "never" {
		t.Error("an aborted update reached the cache")
	}

	// Deleted: unknown, from the cache as from the file.
	if err := db.Delete(ctx, mac, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Node(ctx, mac); !errors.Is(err, boot.ErrUnknown) {
		t.Errorf("Node after delete = %v, want ErrUnknown", err)
	}
	// Never-stored MACs are not cached.
	if _, err := db.Node(ctx, macN(99)); !errors.Is(err, boot.ErrUnknown) {
		t.Errorf("Node of an unknown MAC = %v", err)
	}
	if _, ok := db.cache.get(string(nodeKey(macN(99)))); ok {
		t.Error("an unknown MAC entered the cache")
	}
}

// TestNodeCacheOrder checks that an older transaction's node never replaces
// a newer one, whichever order they arrive in.
func TestNodeCacheOrder(t *testing.T) {
	t.Parallel()
	var c nodeCache
	old, cur := &boot.Node{Hostname: "old"}, &boot.Node{Hostname: "new"}
	c.put("k", cur, 9)
	c.put("k", old, 8)
	if n, _ := c.get("k"); n.Hostname != "new" {
		t.Errorf("after an older put, cache has %q", n.Hostname)
	}
	c.put("k", nil, 10)
	if n, ok := c.get("k"); !ok || n != nil {
		t.Errorf("after a delete, cache has %v, %v", n, ok)
	}
	c.put("k", cur, 9)
	if n, ok := c.get("k"); !ok || n != nil {
		t.Errorf("an older node replaced a delete: %v", n)
	}
}

// TestNodesFromCache checks that after a reopen the loaded cache answers
// Nodes (sorted, as stored) and ScanNodes (every node, stopping when told),
// and that nodes enrolled and deleted since are seen by both.
func TestNodesFromCache(t *testing.T) {
	t.Parallel()
	db, path := openTemp(t)
	ctx := context.Background()
	for _, i := range []int{3, 1, 2} {
		if _, err := newService(t, db).Enroll(ctx, boot.EnrollRequest{MAC: macN(i), Image: "debian"}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := newService(t, db).Enroll(ctx, boot.EnrollRequest{MAC: macN(4), Image: "debian"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Delete(ctx, macN(2), nil); err != nil {
		t.Fatal(err)
	}
	nodes, err := db.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, n.MAC.String())
	}
	want := []string{macN(1).String(), macN(3).String(), macN(4).String()}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Nodes = %v, want %v", got, want)
	}
	seen := 0
	if err := db.ScanNodes(ctx, func(*boot.Node) bool { seen++; return true }); err != nil || seen != 3 {
		t.Errorf("ScanNodes saw %d nodes (%v), want 3", seen, err)
	}
	seen = 0
	if err := db.ScanNodes(ctx, func(*boot.Node) bool { seen++; return false }); err != nil || seen != 1 {
		t.Errorf("ScanNodes told to stop saw %d nodes (%v), want 1", seen, err)
	}
}
