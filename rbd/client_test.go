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
	gc.mu.Lock()
	e := gc.m[g]
	e.at = time.Now().Add(-goldenCacheTTL - time.Second)
	gc.m[g] = e
	gc.mu.Unlock()
	if _, ok := gc.get(g); ok {
		t.Errorf("cache entry older than %v still trusted", goldenCacheTTL)
	}
}
