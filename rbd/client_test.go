package rbd

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/bootd/bootd/boot"
)

// Tests that need no cluster; the rest are behind the integration tag.

func TestGoldenRefDefaults(t *testing.T) {
	t.Parallel()
	c := &Client{cfg: Config{Pool: "vols"}, golden: "gold"}
	for _, tc := range []struct{ in, want boot.GoldenRef }{
		{boot.GoldenRef{Image: "deb", Snapshot: "v1"}, boot.GoldenRef{Pool: "vols", Namespace: "gold", Image: "deb", Snapshot: "v1"}},
		{boot.GoldenRef{Pool: "p", Namespace: "n", Image: "deb", Snapshot: "v1"}, boot.GoldenRef{Pool: "p", Namespace: "n", Image: "deb", Snapshot: "v1"}},
	} {
		if got := c.goldenRef(tc.in); got != tc.want {
			t.Errorf("goldenRef(%+v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestNodeCaps(t *testing.T) {
	t.Parallel()
	c := &Client{cfg: Config{Pool: "rbd"}}
	g := boot.GoldenRef{Pool: "images", Namespace: "golden"}
	for _, tc := range []struct {
		addr netip.Addr
		want []string
	}{
		{netip.Addr{}, []string{"mon", "allow r", "osd",
			"profile rbd pool=rbd namespace=node-525400123456, profile rbd-read-only pool=images namespace=golden"}},
		{netip.MustParseAddr("198.18.0.10"), []string{"mon", "allow r network 198.18.0.10/32", "osd",
			"profile rbd pool=rbd namespace=node-525400123456 network 198.18.0.10/32, " +
				"profile rbd-read-only pool=images namespace=golden network 198.18.0.10/32"}},
		{netip.MustParseAddr("::ffff:198.18.0.10"), []string{"mon", "allow r network 198.18.0.10/32", "osd",
			"profile rbd pool=rbd namespace=node-525400123456 network 198.18.0.10/32, " +
				"profile rbd-read-only pool=images namespace=golden network 198.18.0.10/32"}},
		{netip.MustParseAddr("fd00:b007::10%br0"), []string{"mon", "allow r network fd00:b007::10/128", "osd",
			"profile rbd pool=rbd namespace=node-525400123456 network fd00:b007::10/128, " +
				"profile rbd-read-only pool=images namespace=golden network fd00:b007::10/128"}},
	} {
		if got := c.nodeCaps("node-525400123456", g, tc.addr); !slices.Equal(got, tc.want) {
			t.Errorf("nodeCaps(%v) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestGoldenCache(t *testing.T) {
	t.Parallel()
	var gc goldenCache
	g := boot.GoldenRef{Pool: "rbd", Namespace: "golden", Image: "deb", Snapshot: "v1"}
	if _, ok := gc.get(g); ok {
		t.Fatalf("empty cache has %v", g)
	}
	gc.put(g, goldenInfo{size: 64 << 20})
	gc.put(g, goldenInfo{protected: true})
	if e, ok := gc.get(g); !ok || !e.protected || e.size != 64<<20 {
		t.Errorf("cache after two puts = %+v, %v; want protected and the size merged", e, ok)
	}
	age(&gc.c, g, goldenCacheTTL+time.Second)
	if _, ok := gc.get(g); ok {
		t.Errorf("cache entry older than %v still trusted", goldenCacheTTL)
	}
	gc.put(g, goldenInfo{size: 1})
	if e, _ := gc.get(g); e.protected || e.size != 1 {
		t.Errorf("an expired entry was merged into a new one: %+v", e)
	}
}

// age makes k's entry in c older by d.
func age[K comparable, V any](c *ttlCache[K, V], k K, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[k]
	e.at = e.at.Add(-d)
	c.m[k] = e
}

// TestTTLCache: entries expire, drop forgets one, and a cache past
// ttlCacheMax entries sheds the expired ones when it takes a new one.
func TestTTLCache(t *testing.T) {
	t.Parallel()
	var c ttlCache[int, string]
	c.put(1, time.Minute, "one")
	if v, ok := c.get(1, time.Minute); !ok || v != "one" {
		t.Fatalf("get = %q, %v", v, ok)
	}
	if _, ok := c.get(1, 0); ok {
		t.Error("an entry older than its ttl was returned")
	}
	c.drop(1)
	if _, ok := c.get(1, time.Minute); ok {
		t.Error("a dropped entry was returned")
	}
	for i := range ttlCacheMax {
		c.put(i, time.Minute, "x")
		age(&c, i, 2*time.Minute)
	}
	c.put(-1, time.Minute, "new")
	if n := len(c.m); n != 1 {
		t.Errorf("%d entries after the cache was full of expired ones, want 1", n)
	}
}

// TestParentCacheRace: a parent read before a change of the root (a drop)
// is not kept after it; one read after is.
func TestParentCacheRace(t *testing.T) {
	t.Parallel()
	var p parentCache
	old := boot.GoldenRef{Pool: "rbd", Namespace: "golden", Image: "old", Snapshot: "v1"}
	gen := p.generation("node-1") // Holders opens the old root...
	p.drop("node-1")              // ...which a reimage replaces meanwhile
	p.put("node-1", gen, old)
	if g, ok := p.get("node-1"); ok {
		t.Errorf("the old root's parent %v was kept after the root changed", g)
	}
	p.put("node-1", p.generation("node-1"), old)
	if _, ok := p.get("node-1"); !ok {
		t.Error("a parent read after the change was not kept")
	}
}
