package rbd

import (
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
	got := c.nodeCaps("node-525400123456", boot.GoldenRef{Pool: "images", Namespace: "golden"})
	want := []string{"mon", "profile rbd", "osd",
		"profile rbd pool=rbd namespace=node-525400123456, profile rbd-read-only pool=images namespace=golden"}
	if !slices.Equal(got, want) {
		t.Errorf("nodeCaps = %q, want %q", got, want)
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
