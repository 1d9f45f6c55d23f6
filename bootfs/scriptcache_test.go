package bootfs

import (
	"fmt"
	"testing"
)

// TestScriptCacheGenerations checks that the cache keeps at most two
// generations and that an entry still asked for survives a turnover.
func TestScriptCacheGenerations(t *testing.T) {
	t.Parallel()
	var c scriptCache
	c.put("hot", []byte("hot"))
	for i := range 3 * scriptCacheSize {
		c.put(fmt.Sprint(i), []byte("x"))
		if i%1000 == 0 {
			if b, ok := c.get("hot"); !ok || string(b) != "hot" {
				t.Fatalf("after %d puts the entry asked for all along is gone", i)
			}
		}
	}
	if n := len(c.cur) + len(c.prev); n > 2*scriptCacheSize {
		t.Errorf("cache holds %d entries, want at most %d", n, 2*scriptCacheSize)
	}
	if _, ok := c.get("0"); ok {
		t.Errorf("an entry nobody asked for again outlived two turnovers")
	}
}

// TestCacheKeyDistinct checks that keys differ whenever an input differs,
// also when text moves from one field to the next.
func TestCacheKeyDistinct(t *testing.T) {
	t.Parallel()
	base := scriptData{MAC: "52:54:00:12:34:56", Hostname: "web1", Image: "debian", Cmdline: "console=ttyS0",
		Initrds: []initrdRef{{Name: "initrd0", Path: "initrd/0"}}}
	variants := []scriptData{base}
	for _, change := range []func(*scriptData){
		func(d *scriptData) { d.Hostname = "web2" },
		func(d *scriptData) { d.Image = "alpine" },
		func(d *scriptData) { d.Cmdline = "console=ttyS1" },
		func(d *scriptData) { d.Hostname, d.Image = "web1debian", "" },
		func(d *scriptData) { d.Initrds = nil },
		func(d *scriptData) { d.Initrds = []initrdRef{{Name: "initrd0", Path: "initrd/1"}} },
		func(d *scriptData) { d.Problem = "gone" },
	} {
		d := base
		change(&d)
		variants = append(variants, d)
	}
	seen := map[string]int{}
	for i, d := range variants {
		k := cacheKey("node.ipxe", d)
		if j, ok := seen[k]; ok {
			t.Errorf("variants %d and %d share a key", j, i)
		}
		seen[k] = i
	}
	if cacheKey("node.ipxe", base) == cacheKey("off.ipxe", base) {
		t.Error("two templates share a key")
	}
}
