package bootfs

import (
	"fmt"
	"testing"

	"github.com/bootd/bootd/boot"
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

// TestScriptKeyDistinct checks that keys differ whenever an input of the
// script differs, also when text moves from one field to the next.
func TestScriptKeyDistinct(t *testing.T) {
	t.Parallel()
	mac, _ := boot.ParseMAC("52:54:00:12:34:56")
	plan := func() *boot.Plan {
		return &boot.Plan{Node: &boot.Node{MAC: mac, Hostname: "web1", Image: "debian"}, Netboot: true,
			Image: &boot.Image{Name: "debian", Cmdline: "console=ttyS0", Initrds: []string{"/a"}}}
	}
	variants := []*boot.Plan{plan()}
	for _, change := range []func(*boot.Plan){
		func(p *boot.Plan) { p.Node.Hostname = "web2" },
		func(p *boot.Plan) { p.Node.Image = "alpine" },
		func(p *boot.Plan) { p.Node.MAC, _ = boot.ParseMAC("52:54:00:12:34:57") },
		func(p *boot.Plan) { p.Netboot = false },
		func(p *boot.Plan) { p.Image.Cmdline = "console=ttyS1" },
		func(p *boot.Plan) { p.Node.Hostname, p.Node.Image = "web1debian", "" },
		func(p *boot.Plan) { p.Image.Initrds = nil },
		func(p *boot.Plan) { p.Image, p.Problem = nil, "gone" },
	} {
		p := plan()
		change(p)
		variants = append(variants, p)
	}
	seen := map[string]int{}
	for i, p := range variants {
		k := scriptKey(p)
		if j, ok := seen[k]; ok {
			t.Errorf("variants %d and %d share a key", j, i)
		}
		seen[k] = i
	}
}
